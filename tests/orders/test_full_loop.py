"""The whole click & collect loop through the test client: browse, cart, checkout, tablet.

Stock is checked after every step: checkout reserves, collection consumes what was handed over
and puts refused units back on sale.
"""

import re
from datetime import timedelta
from decimal import Decimal

from django.test import Client

from orders.models import Handover, Order, OrderStatus, Payment, PaymentStatus
from shop.models import CartLine
from stores.selectors import describe_pickup, earliest_pickups
from tests.support.factories import PASSWORD, ProductFactory, VariantFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout_data,
    checkout_page,
    column,
    input_value,
    place_at,
    stock_of,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures


def _store_row(html: str, store) -> str:
    name = re.escape(store.name)
    pattern = rf'<li class="store-row[^"]*">\s*<span class="store-name">{name}</span>(.*?)</li>'
    match = re.search(pattern, html, re.S)
    assert match, f"no availability row for {store.name}"
    return match.group(1)


def _pickup_label(store) -> str:
    return "Ready " + describe_pickup(slot=earliest_pickups(stores=[store])[store.pk], store=store)


def _staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_guest_order_from_catalogue_to_partial_collection_at_the_counter(shop, clerk):
    store, lamp, mug = shop.store, shop.lamp, shop.mug
    for n in range(1, 13):
        VariantFactory(
            product=ProductFactory(name=f"Enamel Pot {n:02d}", slug=f"enamel-pot-{n:02d}")
        )
    browser = Client()

    # --- Browse: first page, second page, search, category -----------------------------------
    page1 = text(browser.get("/"))
    assert "Brass Desk Lamp" in page1
    assert "Enamel Pot 11" in page1
    assert "Enamel Pot 12" not in page1
    assert "Page 1 of 2" in page1
    page2 = browser.get("/?page=2")
    assert page2.status_code == 200
    assert "Enamel Pot 12" in text(page2)
    assert "Stoneware Mug" in text(page2)
    assert "Brass Desk Lamp" not in text(page2)
    found = text(browser.get("/?q=stoneware"))
    assert "Stoneware Mug" in found
    assert "Brass Desk Lamp" not in found
    assert "Enamel Pot" not in found
    lighting = text(browser.get("/?category=lighting"))
    assert "Brass Desk Lamp" in lighting
    assert "Stoneware Mug" not in lighting
    assert "Enamel Pot" not in lighting

    # --- Product page: availability per store and the earliest pickup -----------------------
    before = _pickup_label(store)
    product = browser.get("/p/brass-desk-lamp/")
    after = _pickup_label(store)
    assert product.status_code == 200
    row = _store_row(text(product), store)
    assert "In stock" in row
    assert re.search(r"Ready (today|tomorrow) from \d\d:\d\d", row)
    assert before in row or after in row
    assert "Out of stock here" in _store_row(text(product), shop.other)
    assert stock_of(store, lamp) == (10, 0)

    # --- Cart: add two items, change a quantity with htmx ------------------------------------
    assert browser.post("/cart/add/", {"sku": "LAMP-01", "quantity": 2})["Location"] == "/cart/"
    add_to_cart(browser, mug, 1)
    lamp_line = CartLine.objects.get(variant=lamp)
    assert (lamp_line.quantity, CartLine.objects.get(variant=mug).quantity) == (2, 1)
    partial = browser.post(
        f"/cart/lines/{lamp_line.pk}/", {"quantity": 3}, headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    assert "<html" not in text(partial)
    assert '<td class="num">€37.50</td>' in text(partial)
    assert '<th class="num" id="cart-total">€41.50</th>' in text(partial)
    lamp_line.refresh_from_db()
    assert lamp_line.quantity == 3
    assert stock_of(store, lamp) == (10, 0)
    assert stock_of(store, mug) == (3, 0)

    # --- Checkout as a guest, paying at the counter ------------------------------------------
    page, key, slots = checkout_page(browser, store)
    assert "<strong>€41.50</strong>" in text(page)
    assert input_value(page.content, "name") == ""
    response = browser.post("/checkout/", checkout_data(store, key, slots[1]))
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    assert order.status == OrderStatus.PLACED
    assert order.store == store
    assert order.channel == "web"
    assert order.guest_checkout is True
    assert order.customer.email == "ana@example.test"
    assert order.slot_start.isoformat() == slots[1]
    assert order.total == Decimal("41.50")
    assert sorted(order.lines.values_list("sku", "quantity", "unit_price")) == [
        ("LAMP-01", 3, Decimal("12.50")),
        ("MUG-01", 1, Decimal("4.00")),
    ]
    assert not CartLine.objects.exists()
    assert stock_of(store, lamp) == (10, 3)
    assert stock_of(store, mug) == (3, 1)

    # --- The order page with its pickup code and QR ------------------------------------------
    detail = browser.get(f"/orders/{order.number}/")
    assert detail.status_code == 200
    assert order.pickup_code in text(detail)
    assert f'<img class="qr" src="/orders/{order.number}/qr.svg"' in text(detail)
    qr = browser.get(f"/orders/{order.number}/qr.svg")
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr.content.startswith(b"<svg")
    assert order.pickup_token.encode() not in qr.content  # encoded in modules, not as text

    # --- Tablet: the queue shows the new order -----------------------------------------------
    tablet = _staff_client(clerk)
    queue = tablet.get(f"/store/{store.code}/")
    assert queue.status_code == 200
    assert order.number in column(queue.content, "placed")
    assert order.number not in column(queue.content, "preparing")

    # --- Prepare, then ready ------------------------------------------------------------------
    url = f"/store/{store.code}/orders/{order.number}/"
    response = tablet.post(url + "status/", {"status": "preparing"})
    assert response.status_code == 302
    assert response["Location"] == url
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING
    assert order.number in column(tablet.get(f"/store/{store.code}/").content, "preparing")
    assert stock_of(store, lamp) == (10, 3)

    response = tablet.post(url + "status/", {"status": "ready"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    # The slot starts after the lead time, so the hold runs from the slot start.
    assert order.hold_until == order.slot_start + timedelta(hours=store.hold_hours)
    assert order.number in column(tablet.get(f"/store/{store.code}/").content, "ready")
    assert stock_of(store, lamp) == (10, 3)
    assert stock_of(store, mug) == (3, 1)

    # --- Scan the QR token: the collection screen opens --------------------------------------
    response = tablet.post(f"/store/{store.code}/scan/", {"q": order.pickup_token})
    assert response.status_code == 302
    assert response["Location"] == url
    screen = tablet.get(url)
    assert "Confirm handover" in text(screen)
    assert "QR code checked" in text(screen)

    # --- Collect, the customer refuses the mug -----------------------------------------------
    response = tablet.post(
        url + "collect/",
        {
            "qty_LAMP-01": 3,
            "qty_MUG-01": 0,
            "payment_method": "card",
            "reference": "TPV-000123",
            "collector": "customer",
        },
    )
    # back to the queue, ready for the next customer
    assert response.status_code == 302, text(response)
    assert response["Location"] == f"/store/{store.code}/"
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert order.payment_status == PaymentStatus.PAID
    assert dict(order.lines.values_list("sku", "collected_quantity")) == {"LAMP-01": 3, "MUG-01": 0}
    assert stock_of(store, lamp) == (7, 0)
    assert stock_of(store, mug) == (3, 0)
    handover = Handover.objects.get(order=order)
    assert handover.clerk == clerk
    assert handover.collector == Handover.Collector.CUSTOMER
    assert handover.collector_name == "Ana García"
    assert handover.verified_by == Handover.Verification.QR
    device_id = tablet.cookies["oc_device"].value.split(":")[0]
    assert handover.device.startswith(f"tablet {device_id} ")
    payment = Payment.objects.get(order=order)
    assert payment.method == Payment.Method.CARD
    assert payment.reference == "TPV-000123"
    assert payment.amount_captured == Decimal("37.50")
    assert payment.amount_authorised == Decimal("37.50")
    assert payment.currency == "EUR"
    # The refused mug is on sale again, at its full count.
    mug_row = _store_row(text(Client().get("/p/stoneware-mug/")), store)
    assert "Only 3 left" in mug_row

    # --- A second scan explains when and by whom it was collected -----------------------------
    state = written()
    again = tablet.post(f"/store/{store.code}/scan/", {"q": order.pickup_token})
    assert again.status_code == 409
    when = handover.collected_at.astimezone(store.tz)
    assert (
        f"Already collected on {when.day} {when:%B %Y, %H:%M} by Ana García "
        f"(handed over by {clerk.email})."
    ) in text(again)
    assert written() == state


def test_logged_in_checkout_prefills_the_customer_and_lists_the_order_in_the_account(shop, shopper):
    store = shop.store
    browser = Client()
    browser.force_login(shopper.user)
    add_to_cart(browser, shop.lamp, 2)

    page, key, slots = checkout_page(browser, store)
    assert input_value(page.content, "name") == shopper.name
    assert input_value(page.content, "email") == shopper.email
    assert input_value(page.content, "phone") == shopper.phone
    assert f"Ordering as {shopper.email}." in text(page)
    response = browser.post(
        "/checkout/",
        checkout_data(
            store, key, slots[1], name=shopper.name, email=shopper.email, phone=shopper.phone
        ),
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    assert order.customer == shopper
    assert order.guest_checkout is False
    assert order.contact_email == shopper.email
    assert order.total == Decimal("25.00")
    assert stock_of(store, shop.lamp) == (10, 2)
    assert order.pickup_code in text(browser.get(f"/orders/{order.number}/"))
    assert browser.get(f"/orders/{order.number}/qr.svg").status_code == 200
    account = browser.get("/account/")
    assert account.status_code == 200
    assert f'href="/orders/{order.number}/"' in text(account)
    # The same login in another browser sees it too: it belongs to the account, not the session.
    other_device = Client()
    other_device.force_login(shopper.user)
    assert other_device.get(f"/orders/{order.number}/").status_code == 200


def test_real_login_then_checkout_uses_the_account(shop, shopper):
    browser = Client()
    add_to_cart(browser, shop.mug, 1)
    response = browser.post("/account/login/", {"username": shopper.email, "password": PASSWORD})
    assert response.status_code == 302
    page, key, slots = checkout_page(browser, shop.store)
    assert input_value(page.content, "email") == shopper.email
    browser.post("/checkout/", checkout_data(shop.store, key, slots[1], email=shopper.email))

    order = Order.objects.get()
    assert order.customer == shopper
    assert order.guest_checkout is False
    assert stock_of(shop.store, shop.mug) == (3, 1)


def test_short_code_typed_in_lowercase_with_a_dash_opens_the_order_for_collection(shop, clerk):
    store = shop.store
    order = place_at(store, (shop.lamp, 2), (shop.mug, 1))
    tablet = _staff_client(clerk)
    url = f"/store/{store.code}/orders/{order.number}/"
    tablet.post(url + "status/", {"status": "preparing"})
    tablet.post(url + "status/", {"status": "ready"})
    assert stock_of(store, shop.lamp) == (10, 2)
    typed = f"{order.pickup_code[:4]}-{order.pickup_code[4:]}".lower()

    response = tablet.post(f"/store/{store.code}/scan/", {"q": typed})

    assert response.status_code == 302
    assert response["Location"] == url
    assert "pickup code checked" in text(tablet.get(url))
    response = tablet.post(
        url + "collect/",
        {
            "qty_LAMP-01": 1,
            "qty_MUG-01": 1,
            "payment_method": "cash",
            "reference": "",
            "collector": "customer",
        },
    )
    assert response.status_code == 302, text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert order.handover.verified_by == Handover.Verification.CODE
    assert Payment.objects.get(order=order).amount_captured == Decimal("16.50")
    assert stock_of(store, shop.lamp) == (9, 0)
    assert stock_of(store, shop.mug) == (2, 0)
    # The code is spent too: typing it again explains the collection.
    again = tablet.post(f"/store/{store.code}/scan/", {"q": order.pickup_code})
    assert again.status_code == 409
    assert "Already collected on" in text(again)


def test_order_collected_by_the_named_person(shop, clerk):
    store = shop.store
    order = place_at(store, (shop.lamp, 1), pickup_person="Luis Pérez")
    tablet = _staff_client(clerk)
    url = f"/store/{store.code}/orders/{order.number}/"
    tablet.post(url + "status/", {"status": "preparing"})
    tablet.post(url + "status/", {"status": "ready"})
    tablet.post(f"/store/{store.code}/scan/", {"q": order.pickup_token})

    response = tablet.post(
        url + "collect/",
        {"qty_LAMP-01": 1, "payment_method": "cash", "collector": "delegate"},
    )

    assert response.status_code == 302, text(response)
    handover = Handover.objects.get(order=order)
    assert handover.collector == Handover.Collector.DELEGATE
    assert handover.collector_name == "Luis Pérez"
    assert stock_of(store, shop.lamp) == (9, 0)
