"""The store tablet's customer view and assisted sale (issue 4, items 5 and 6).

The clerk finds or puts a customer on file, sees their profile, preferences, cart, orders and
timeline, fills their one cart (SKU, barcode, or a handoff code from their phone) and orders
it for pickup at the store with channel ``store``. Staff of that store only: anyone else gets
a 404, and every refusal leaves the database as it was.
"""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, CustomerAccess, Touchpoint
from customers.services import record_touchpoint, update_customer
from orders.models import Order, OrderEvent
from shop.models import CartHandoff, CartLine
from shop.services import add_to_cart, cart_for_customer, create_anonymous_cart, start_handoff
from stores.models import StaffMembership, StockLevel
from tests.core.test_security import _inline_problems
from tests.support.factories import (
    CartLineFactory,
    CustomerFactory,
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    UserFactory,
    VariantFactory,
)
from tests.support.web_helpers import input_value, place_at, stock_of, tags, text, written

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures


@pytest.fixture
def candle(shop):
    """A third item, sold by barcode: 6.00 EUR, 4 at the shop's store."""
    variant = VariantFactory(
        product=ProductFactory(name="Beeswax Candle", slug="beeswax-candle"),
        sku="CANDLE-01",
        title="",
        price=Decimal("6.00"),
        barcode="8412345678905",
    )
    StockLevelFactory(store=shop.store, variant=variant, on_hand=4)
    return variant


@pytest.fixture
def lucia(db):
    return CustomerFactory(name="Lucía Fernández", email="lucia@example.test", phone="+34611222333")


def _base(shop) -> str:
    return f"/store/{shop.store.code}/customers/"


def _page(shop, customer) -> str:
    return f"{_base(shop)}{customer.reference}/"


def _state() -> dict:
    return {
        **written(),
        "handoffs": sorted(CartHandoff.objects.values_list("pk", "cart_id", "claimed_at")),
    }


def _lines(customer) -> list[tuple[str, int, str]]:
    return sorted(
        CartLine.objects.filter(cart__customer=customer).values_list(
            "variant__sku", "quantity", "channel"
        )
    )


def _selected_slot(html) -> str:
    inside, found = False, ""
    for tag in tags(html):
        if tag.name == "select":
            inside = tag.attrs.get("name") == "slot"
        elif tag.name == "option" and inside and "selected" in tag.attrs:
            found = tag.attrs["value"]
    return found


def _result_names(html) -> list[str]:
    section = re.search(r'<ul class="result-list">(.*?)</ul>', html, re.S)
    return re.findall(r"<strong>(.*?)</strong>", section.group(1)) if section else []


# --- Finding a customer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["lucia@example.test", "LUCIA@example", "+34611222333", "611 222 333", "611-222-333", "fernán"],
    ids=["email", "email-part", "phone", "phone-spaced", "phone-dashed", "name"],
)
def test_the_clerk_finds_a_customer_by_email_phone_or_name(shop, tablet, lucia, query):
    CustomerFactory(name="Someone Else", email="else@example.test", phone="+34699000000")
    before = _state()

    response = tablet.get(_base(shop), {"q": query})

    assert response.status_code == 200
    assert _result_names(text(response)) == ["Lucía Fernández"]
    assert f'href="{_page(shop, lucia)}?via=search"' in text(response)
    assert _state() == before


def test_a_search_with_no_match_offers_to_add_the_customer(shop, tablet, lucia):
    response = tablet.get(_base(shop), {"q": "nobody@example.test"})

    assert response.status_code == 200
    assert _inline_problems("customer search", response.content) == []
    assert 'id="no-results"' in text(response)
    assert input_value(response.content, "email") == "nobody@example.test"


def test_a_search_shows_at_most_twenty_customers(shop, tablet):
    for i in range(25):
        CustomerFactory(name=f"García {i:02d}")

    response = tablet.get(_base(shop), {"q": "garcía"})

    assert _result_names(text(response)) == [f"García {i:02d}" for i in range(20)]


def test_the_queue_has_a_customer_search_box(shop, tablet):
    response = tablet.get(f"/store/{shop.store.code}/")

    forms = [t.attrs for t in tags(response.content) if t.name == "form"]
    assert {
        "method": "get",
        "action": _base(shop),
        "class": "scan-form customer-search",
        "role": "search",
    } in forms
    assert 'id="customer-q"' in text(response)


# --- Who may use it --------------------------------------------------------------------------


def _every_request(shop, customer, line_id):
    page = _page(shop, customer)
    return [
        ("get", _base(shop), {"q": "lucia"}),
        ("post", f"{_base(shop)}new/", {"name": "X", "email": "x@example.test"}),
        ("get", page, {}),
        ("post", f"{page}cart/", {"code": "LAMP-01", "quantity": 1}),
        ("post", f"{page}cart/lines/{line_id}/", {"quantity": 5}),
        ("post", f"{page}cart/claim/", {"code": "ABCDEFGH"}),
        ("post", f"{page}order/", {"slot": "2030-01-01T10:00:00+00:00", "order_key": "k"}),
    ]


def test_a_clerk_of_another_store_gets_404_everywhere(shop, lucia):
    line = CartLineFactory(cart=cart_for_customer(customer=lucia), variant=shop.lamp)
    outsider = UserFactory()
    StaffMembershipFactory(user=outsider, store=shop.other, role=StaffMembership.Role.MANAGER)
    client = Client()
    client.force_login(outsider)
    before = _state()

    for method, path, data in _every_request(shop, lucia, line.pk):
        response = getattr(client, method)(path, data)
        assert response.status_code == 404, path
    assert _state() == before


def test_a_shopper_gets_404_and_a_visitor_is_sent_to_log_in(shop, shopper, lucia):
    line = CartLineFactory(cart=cart_for_customer(customer=lucia), variant=shop.lamp)
    client = Client()
    client.force_login(shopper.user)
    before = _state()

    for method, path, data in _every_request(shop, lucia, line.pk):
        assert getattr(client, method)(path, data).status_code == 404, path
        visitor = getattr(Client(), method)(path, data)
        assert visitor.status_code == 302, path
        assert visitor["Location"].startswith("/account/login/?next=")
    assert _state() == before


def test_an_unknown_customer_is_not_found(shop, tablet):
    assert tablet.get(f"{_base(shop)}999999/").status_code == 404


# --- Putting a customer on file --------------------------------------------------------------


def test_the_clerk_adds_a_new_customer(shop, tablet):
    response = tablet.post(
        f"{_base(shop)}new/",
        {"name": "Pablo Ortiz", "email": "Pablo@Example.test", "phone": "+34 622 000 111"},
    )

    customer = Customer.objects.get(email="pablo@example.test")
    assert response.status_code == 302
    assert response["Location"] == f"{_page(shop, customer)}?via=new"
    assert (customer.name, customer.phone, customer.user_id) == (
        "Pablo Ortiz",
        "+34622000111",  # stored in E.164
        None,
    )
    assert "Customer added." in text(tablet.get(response["Location"]))


def test_an_email_already_on_file_opens_that_customer_unchanged(shop, tablet, lucia):
    before = _state()

    response = tablet.post(
        f"{_base(shop)}new/",
        {"name": "Impostor", "email": "LUCIA@example.test", "phone": "+34 699 000 001"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{_page(shop, lucia)}?via=new"
    assert _state() == before  # no second record, no change to the first
    assert "This email is already on file: here is that customer." in text(
        tablet.get(response["Location"])
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "No Email", "email": ""}, "This field is required."),
        ({"name": "Bad", "email": "not-an-email"}, "Enter a valid email address."),
        ({"name": "", "email": "a@example.test"}, "This field is required."),
    ],
    ids=["no-email", "bad-email", "no-name"],
)
def test_a_new_customer_needs_a_name_and_a_valid_email(shop, tablet, data, message):
    before = _state()

    response = tablet.post(f"{_base(shop)}new/", data)

    assert response.status_code == 400
    assert message in text(response)
    assert _state() == before


# --- The customer page -----------------------------------------------------------------------


def test_the_customer_page_shows_what_is_on_file_and_records_only_the_view(
    shop, tablet, clerk, lucia
):
    update_customer(
        customer=lucia,
        channel="mobile",
        preferred_channels=["whatsapp", "email"],
        language="en",
        marketing_opt_in=True,
    )
    add_to_cart(cart=cart_for_customer(customer=lucia), sku="LAMP-01", quantity=2, channel="web")
    here = place_at(shop.store, (shop.mug, 1), customer=lucia)
    there = place_at(shop.other, (shop.mug, 1), customer=lucia)
    before = _state()

    response = tablet.get(_page(shop, lucia))

    html = text(response)
    assert response.status_code == 200
    assert _inline_problems("customer page", response.content) == []
    assert "+34611222333" in html
    assert "1. WhatsApp, 2. Email" in html
    assert "<dd>English</dd>" in html
    assert "Brass Desk Lamp — Brass" in html
    assert 'id="cart-total">€25.00<' in html
    assert f'<a href="/store/{shop.store.code}/orders/{here.number}/">{here.number}</a>' in html
    # another store's order: counted, never listed, linked or on the timeline
    assert re.search(r'id="orders-elsewhere">\s*1 order at another store\s*<', html)
    assert there.number not in html
    assert f"/orders/{there.number}/" not in html
    assert "Mobile app</span>" in html and "Changed their details or preferences" in html
    # no touchpoint, no other change: only the view, in the access log
    assert _state() == before
    assert list(CustomerAccess.objects.values_list("customer", "user", "store")) == [
        (lucia.pk, clerk.pk, shop.store.pk)
    ]


def test_items_are_added_by_sku_or_barcode_on_channel_store(shop, tablet, lucia, candle):
    by_sku = tablet.post(f"{_page(shop, lucia)}cart/", {"code": "lamp-01", "quantity": 2})
    by_barcode = tablet.post(f"{_page(shop, lucia)}cart/", {"code": " 8412345678905 "})

    assert by_sku.status_code == 302
    assert by_sku["Location"] == _page(shop, lucia)
    assert by_barcode.status_code == 302
    assert _lines(lucia) == [("CANDLE-01", 1, "store"), ("LAMP-01", 2, "store")]
    assert list(
        Touchpoint.objects.filter(customer=lucia).order_by("pk").values_list("channel", "kind")
    ) == [("store", "cart_changed"), ("store", "cart_changed")]
    assert "Added: Beeswax Candle" in text(tablet.get(_page(shop, lucia)))


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"code": "NOPE-404"}, 400, "We do not sell an item with code NOPE-404."),
        ({"code": "LAMP-01", "quantity": 0}, 400, "Ensure this value is greater than or equal"),
        ({"code": "LAMP-01", "quantity": 21}, 400, "Ensure this value is less than or equal"),
        ({"code": ""}, 400, "This field is required."),
    ],
    ids=["unknown", "zero", "too-many", "empty"],
)
def test_a_refused_item_leaves_no_cart_behind(shop, tablet, lucia, data, status, message):
    data.setdefault("quantity", 1)
    before = _state()

    response = tablet.post(f"{_page(shop, lucia)}cart/", data)

    assert response.status_code == status
    assert message in text(response)
    assert _state() == before


def test_the_clerk_changes_and_removes_lines(shop, tablet, lucia):
    cart = cart_for_customer(customer=lucia)
    lamp = CartLineFactory(cart=cart, variant=shop.lamp, quantity=1)
    mug = CartLineFactory(cart=cart, variant=shop.mug, quantity=1)

    changed = tablet.post(f"{_page(shop, lucia)}cart/lines/{lamp.pk}/", {"quantity": 3})
    removed = tablet.post(f"{_page(shop, lucia)}cart/lines/{mug.pk}/", {"quantity": 0})

    assert (changed.status_code, removed.status_code) == (302, 302)
    assert _lines(lucia) == [("LAMP-01", 3, "store")]


def test_the_clerk_cannot_touch_another_customers_line(shop, tablet, lucia, shopper):
    cart_for_customer(customer=lucia)
    theirs = CartLineFactory(cart=cart_for_customer(customer=shopper), variant=shop.lamp)
    before = _state()

    response = tablet.post(f"{_page(shop, lucia)}cart/lines/{theirs.pk}/", {"quantity": 5})

    assert response.status_code == 404
    assert "That item is not in your cart." in text(response)
    assert _state() == before


def test_a_wrong_handoff_code_is_refused_and_leaves_no_cart_behind(shop, tablet, lucia):
    before = _state()

    response = tablet.post(f"{_page(shop, lucia)}cart/claim/", {"code": "ABCD2345"})

    assert response.status_code == 404
    assert "This code is wrong or has expired." in text(response)
    assert _state() == before


# --- Placing the order -----------------------------------------------------------------------


def _place(tablet, shop, customer, **overrides):
    page = tablet.get(_page(shop, customer))
    data = {
        "slot": _selected_slot(page.content),
        "order_key": input_value(page.content, "order_key"),
        **overrides,
    }
    return tablet.post(f"{_page(shop, customer)}order/", data), data


def test_assisted_sale_end_to_end_one_customer_one_cart_three_channels(shop, tablet, clerk, candle):
    # The clerk puts a new customer on file.
    created = tablet.post(
        f"{_base(shop)}new/",
        {"name": "Lucía Fernández", "email": "lucia@example.test", "phone": "+34611222333"},
    )
    lucia = Customer.objects.get(email="lucia@example.test")
    assert created["Location"] == f"{_page(shop, lucia)}?via=new"
    # She signs up on the web with the same address: the same record.
    signed_up = Client().post(
        "/account/signup/",
        {"name": "Lucía", "email": "lucia@example.test", "password": "a-long-enough-passphrase"},
    )
    assert signed_up.status_code == 302
    assert Customer.objects.filter(email__iexact="lucia@example.test").count() == 1
    # In the app, logged in, she puts a mug in her one cart.
    add_to_cart(cart=cart_for_customer(customer=lucia), sku="MUG-01", quantity=1, channel="mobile")
    # Her other phone, not logged in, has a cart she hands to the counter with a code.
    phone_cart = create_anonymous_cart()
    add_to_cart(cart=phone_cart, sku="MUG-01", quantity=1, channel="mobile")
    add_to_cart(cart=phone_cart, sku="LAMP-01", quantity=1, channel="mobile")
    code = start_handoff(cart=phone_cart, channel="mobile").code

    # At the counter: a lamp by SKU, a candle by barcode, then the phone's cart by its code.
    assert (
        tablet.post(f"{_page(shop, lucia)}cart/", {"code": "LAMP-01", "quantity": 1}).status_code
        == 302
    )
    assert (
        tablet.post(
            f"{_page(shop, lucia)}cart/", {"code": candle.barcode, "quantity": 1}
        ).status_code
        == 302
    )
    claimed = tablet.post(f"{_page(shop, lucia)}cart/claim/", {"code": code.lower()})
    assert claimed.status_code == 302
    assert _lines(lucia) == [
        ("CANDLE-01", 1, "store"),
        ("LAMP-01", 2, "store"),
        ("MUG-01", 2, "store"),
    ]
    # the phone's cart is emptied (and kept, so the phone can say where its items went)
    assert not CartLine.objects.filter(cart=phone_cart).exists()

    placed, data = _place(tablet, shop, lucia)

    order = Order.objects.get()
    assert placed.status_code == 302
    assert placed["Location"] == f"/store/{shop.store.code}/orders/{order.number}/"
    assert (order.customer, order.store, order.channel, order.status) == (
        lucia,
        shop.store,
        "store",
        "placed",
    )
    assert (order.payment_method, order.guest_checkout, str(order.total)) == (
        "in_store",
        False,
        "39.00",
    )
    assert order.slot_start.isoformat() == data["slot"]
    assert sorted(order.lines.values_list("sku", "quantity", "unit_price")) == [
        ("CANDLE-01", 1, candle.price),
        ("LAMP-01", 2, shop.lamp.price),
        ("MUG-01", 2, shop.mug.price),
    ]
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert stock_of(shop.store, shop.mug) == (3, 2)
    assert stock_of(shop.store, candle) == (4, 1)
    assert _lines(lucia) == []
    event = OrderEvent.objects.get(order=order)
    assert (event.actor, event.channel, event.user) == ("staff", "store", clerk)
    channels = set(Touchpoint.objects.filter(customer=lucia).values_list("channel", flat=True))
    assert channels == {"web", "mobile", "store"}
    page = text(tablet.get(_page(shop, lucia)))
    assert f"/store/{shop.store.code}/orders/{order.number}/" in page
    assert "The cart is empty." in page
    for words in ("Created an account", "Changed the cart", "Took over a cart from another device"):
        assert words in page
    assert f"Placed an order · {order.number}" in page


def test_placing_twice_with_the_same_key_makes_one_order(shop, tablet, lucia):
    add_to_cart(cart=cart_for_customer(customer=lucia), sku="LAMP-01", quantity=1, channel="store")
    first, data = _place(tablet, shop, lucia)

    second = tablet.post(f"{_page(shop, lucia)}order/", data)

    assert Order.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_an_empty_cart_cannot_be_ordered(shop, tablet, lucia):
    before = _state()

    response, _ = _place(tablet, shop, lucia)

    assert response.status_code == 400
    assert "The customer&#x27;s cart is empty." in text(response)
    assert _state() == before


def test_an_order_short_of_stock_is_refused_and_writes_nothing(shop, tablet, lucia):
    add_to_cart(cart=cart_for_customer(customer=lucia), sku="MUG-01", quantity=4, channel="store")
    before = _state()

    response, _ = _place(tablet, shop, lucia)

    assert response.status_code == 409
    assert f"Not enough stock at {shop.store.name} for: Stoneware Mug — Blue (MUG-01)." in text(
        response
    )
    assert _state() == before


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Pickup time:"),
        ("tomorrow", "Pickup time:"),
        ("2030-01-01T10:00:00", "Pickup time:"),
        ("2020-01-01T10:00:00+00:00", "That pickup time is not available at {store}."),
    ],
    ids=["empty", "words", "naive", "past"],
)
def test_a_bad_pickup_time_is_refused(shop, tablet, lucia, slot, message):
    add_to_cart(cart=cart_for_customer(customer=lucia), sku="LAMP-01", quantity=1, channel="store")
    before = _state()

    response, _ = _place(tablet, shop, lucia, slot=slot)

    assert response.status_code == 400
    assert message.format(store=shop.store.name) in text(response)
    assert _state() == before


# --- Query counts ----------------------------------------------------------------------------


def test_the_customer_page_runs_the_same_queries_for_3_or_30_orders(shop, tablet, lucia):
    StockLevel.objects.update(on_hand=500)
    CartLineFactory(cart=cart_for_customer(customer=lucia), variant=shop.lamp, quantity=1)
    CartLineFactory(cart=cart_for_customer(customer=lucia), variant=shop.mug, quantity=1)

    def grow(start, n):
        for i in range(start, start + n):
            at = shop.store if i % 2 else shop.other
            place_at(at, (shop.mug, 1), customer=lucia, slot_index=1 + i // 4)
            record_touchpoint(customer=lucia, channel="mobile", kind="product_viewed")

    def measure():
        tablet.get(_page(shop, lucia))
        with CaptureQueriesContext(connection) as queries:
            response = tablet.get(_page(shop, lucia))
        assert response.status_code == 200
        return len(queries.captured_queries), text(response)

    grow(0, 3)
    small, html_small = measure()
    grow(3, 27)
    large, html_large = measure()

    orders = re.search(r'<section class="panel" id="orders">(.*?)</section>', html_large, re.S)
    # every other order is at the other store: counted, and off the timeline
    assert html_small.count('<li class="timeline-item">') == 4  # 3 views, 1 order here
    assert html_large.count('<li class="timeline-item">') == 45  # 30 views, 15 orders here
    assert orders.group(1).count("<li>") == 15
    assert "15 orders at other stores" in orders.group(1)
    assert small == large
