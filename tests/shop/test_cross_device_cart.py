"""One customer, one cart, every channel (DESIGN §1): a cart started on the phone, continued
on the web and ordered at the store tablet is one cart and one customer, and the customer's
timeline shows all three channels. Also the tablet's side of the cart handoff."""

from django.test import Client
from knox.models import AuthToken

from customers.models import Touchpoint
from orders.models import Order
from shop.models import Cart, CartLine
from stores.selectors import pickup_slots
from tests.support.factories import PASSWORD
from tests.support.web_helpers import stock_of, text

pytest_plugins = ["tests.support.web_fixtures"]


def _phone(user) -> Client:
    _, token = AuthToken.objects.create(user)
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def test_cart_started_on_the_phone_continued_on_the_web_and_ordered_at_the_tablet(
    shop, shopper, clerk
):
    # on the phone (channel mobile): a lamp into the customer's cart
    phone = _phone(shopper.user)
    response = phone.post(
        "/api/v1/cart/lines/",
        {"sku": shop.lamp.sku, "quantity": 1},
        content_type="application/json",
    )
    assert response.status_code == 201

    # on the web, after logging in (channel web): the same cart, plus two mugs
    web = Client()
    login = web.post("/account/login/", {"username": shopper.email, "password": PASSWORD})
    assert login.status_code == 302
    cart_page = text(web.get("/cart/"))
    assert "Brass Desk Lamp" in cart_page
    web.post("/cart/add/", {"sku": shop.mug.sku, "quantity": 2})
    assert phone.get("/api/v1/cart/").json()["count"] == 3

    # at the store tablet (channel store): the clerk opens the customer and places the order
    tablet = Client()
    tablet.force_login(clerk)
    base = f"/store/{shop.store.code}/customers/{shopper.reference}/"
    page = text(tablet.get(base))
    assert "Brass Desk Lamp" in page and "Stoneware Mug" in page
    slot = next(s for s in pickup_slots(store=shop.store) if not s.is_full)
    placed = tablet.post(base + "order/", {"slot": slot.start.isoformat(), "order_key": "k-1"})
    assert placed.status_code == 302, text(placed)

    # one customer, one cart, one order on channel store with everything in it
    assert Cart.objects.filter(customer=shopper).count() == 1
    order = Order.objects.get(customer=shopper)
    assert order.channel == "store"
    assert order.cart == Cart.objects.get(customer=shopper)
    assert sorted(order.lines.values_list("sku", "quantity")) == [("LAMP-01", 1), ("MUG-01", 2)]
    assert CartLine.objects.filter(cart__customer=shopper).count() == 0
    assert stock_of(shop.store, shop.lamp) == (10, 1)

    # the phone sees the order, and the timeline shows all three channels
    assert phone.get(f"/api/v1/orders/{order.number}/").json()["channel"] == "store"
    timeline = phone.get("/api/v1/me/timeline/?page_size=100").json()["results"]
    assert {row["channel"] for row in timeline} == {"mobile", "web", "store"}
    kinds = {(row["channel"], row["kind"]) for row in timeline}
    assert ("mobile", "cart_changed") in kinds
    assert ("web", "cart_changed") in kinds
    assert ("store", "order_placed") in kinds
    assert Touchpoint.objects.filter(customer=shopper).count() == len(timeline)


def test_tablet_hands_the_customers_cart_to_a_phone(shop, shopper, clerk, other_store):
    # given the customer's cart filled at the tablet
    tablet = Client()
    tablet.force_login(clerk)
    base = f"/store/{shop.store.code}/customers/{shopper.reference}/"
    tablet.post(base + "cart/", {"code": shop.lamp.sku, "quantity": 2})

    # when the clerk asks for a handoff code
    response = tablet.post(base + "cart/handoff/")

    # then the page shows the code and a QR to scan
    assert response.status_code == 302
    page = tablet.get(response["Location"])
    code = page.context["handoff"].code
    assert f'id="handoff-code">{code}<' in text(page)
    qr = tablet.get(f"{base}cart/handoff/{code}/qr.svg")
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    # a clerk of another store cannot use this store's tablet pages
    stranger = Client()
    from tests.support.factories import StaffMembershipFactory, UserFactory

    other_clerk = UserFactory()
    StaffMembershipFactory(user=other_clerk, store=other_store)
    stranger.force_login(other_clerk)
    assert stranger.get(f"{base}cart/handoff/{code}/qr.svg").status_code == 404

    # and a phone that is not logged in claims it in the shop
    phone = Client()
    claimed = phone.post("/cart/claim/", {"code": code})
    assert claimed.status_code == 302
    assert "Brass Desk Lamp" in text(phone.get("/cart/"))
