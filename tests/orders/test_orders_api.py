"""The customer's own orders through the API: list, detail, cancel, "I'm here" and the QR.

A customer reaches only their own orders: anyone else's is a 404 that writes nothing.
"""

import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.qr import qr_svg
from customers.models import Touchpoint
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import (
    cancel_order,
    collect_order,
    expire_order,
    mark_arrived,
    mark_preparing,
    place_order,
)
from stores.selectors import pickup_slots
from tests.support.api_client import Api
from tests.support.api_helpers import ORDERS, order_url, ready
from tests.support.factories import CartFactory, CartLineFactory
from tests.support.web_helpers import (
    collect_in_full,
    column,
    place_at,
    slot_bookings,
    stock_of,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- List and detail -------------------------------------------------------------------------


def test_the_list_holds_only_the_customers_own_orders_newest_first(
    shop, shopper, customer_api, stranger_order
):
    older = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    newer = place_at(shop.store, (shop.mug, 2), customer=shopper, slot_index=2)

    response = customer_api.get(ORDERS)

    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["count", "next", "previous", "results"]
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [o["number"] for o in body["results"]] == [newer.number, older.number]
    assert body["results"][0]["lines"] == [
        {
            "sku": "MUG-01",
            "name": str(shop.mug),
            "quantity": 2,
            "collected_quantity": None,
            "unit_price": "4.00",
            "line_total": "8.00",
        }
    ]
    assert body["results"][1]["pickup_code"] == older.pickup_code


def test_the_list_is_paginated(shop, shopper, customer_api):
    for i in range(3):
        place_at(shop.store, (shop.lamp, 1), customer=shopper, slot_index=i)

    first = customer_api.get(f"{ORDERS}?page_size=2").json()
    second = customer_api.get(f"{ORDERS}?page_size=2&page=2").json()
    beyond = customer_api.get(f"{ORDERS}?page=9")

    assert (first["count"], len(first["results"]), len(second["results"])) == (3, 2, 1)
    assert first["next"].endswith("/api/v1/orders/?page=2&page_size=2")
    assert beyond.status_code == 404
    assert beyond.json()["code"] == "not_found"


def test_guest_orders_under_the_customers_email_show_only_once_it_is_verified(
    shop, shopper, customer_api
):
    # given a guest order somebody placed with the shopper's email
    guest = place_at(shop.store, (shop.lamp, 1))
    guest.customer = shopper
    guest.guest_checkout = True
    guest.save(update_fields=["customer", "guest_checkout"])

    hidden = customer_api.get(ORDERS).json()["count"]
    hidden_detail = customer_api.get(order_url(guest)).status_code
    shopper.email_verified_at = timezone.now()
    shopper.save(update_fields=["email_verified_at"])

    assert (hidden, hidden_detail) == (0, 404)
    assert customer_api.get(ORDERS).json()["count"] == 1
    assert customer_api.get(order_url(guest)).status_code == 200


def test_the_detail_is_the_order_as_the_customer_sees_it(shop, customer_api, shopper_order, clerk):
    ready(shopper_order, clerk)
    shopper_order.refresh_from_db()

    response = customer_api.get(order_url(shopper_order))

    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["status"], body["channel"]) == (
        shopper_order.number,
        "ready",
        "web",
    )
    assert body["hold_until"] == _iso(shopper_order.hold_until)
    assert [(e["from_status"], e["status"], e["actor"], e["channel"]) for e in body["events"]] == [
        ("", "placed", "customer", "web"),
        ("placed", "preparing", "staff", "store"),
        ("preparing", "ready", "staff", "store"),
    ]


def test_a_customer_never_reaches_another_customers_order(
    shop, stranger_order, customer_api, shopper_order
):
    before = written()

    responses = [
        customer_api.get(order_url(stranger_order)),
        customer_api.get(order_url(stranger_order, "qr.svg").rstrip("/")),
        customer_api.post(order_url(stranger_order, "cancel")),
        customer_api.post(order_url(stranger_order, "arrived")),
        customer_api.get(order_url("CC-NOTMINE0")),
        customer_api.post(order_url("CC-NOTMINE0", "cancel")),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert {r.json()["code"] for r in responses} == {"not_found"}
    assert {r["Content-Type"] for r in responses} == {"application/json"}
    assert written() == before
    stranger_order.refresh_from_db()
    assert (stranger_order.status, stranger_order.arrived_at) == ("placed", None)


def test_order_endpoints_need_a_token(shopper_order):
    anonymous = Api()

    responses = [
        anonymous.get(ORDERS),
        anonymous.get(order_url(shopper_order)),
        anonymous.get(order_url(shopper_order, "qr.svg").rstrip("/")),
        anonymous.post(order_url(shopper_order, "cancel")),
        anonymous.post(order_url(shopper_order, "arrived")),
    ]

    assert [r.status_code for r in responses] == [401] * 5
    assert {r.json()["code"] for r in responses} == {"not_authenticated"}


def test_the_list_runs_the_same_queries_for_3_or_30_orders(shop, shopper, customer_api, clerk):
    def grow(n):
        for i in range(n):
            order = place_at(shop.store, (shop.lamp, 1), (shop.mug, 1), customer=shopper)
            if i % 2:
                ready(order, clerk)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = customer_api.get(f"{ORDERS}?page_size=100")
        assert response.status_code == 200
        return len(queries.captured_queries), response.json()

    shop.mug.stock_levels.update(on_hand=100)
    shop.lamp.stock_levels.update(on_hand=100)
    shop.store.slot_capacity = 100
    shop.store.save(update_fields=["slot_capacity"])
    customer_api.get(ORDERS)  # warm up: the token's first use refreshes its expiry
    grow(3)
    small, small_body = count()
    grow(27)
    large, large_body = count()
    print(f"\nGET /api/v1/orders/: {small} queries for 3 orders, {large} for 30")

    assert (small_body["count"], len(small_body["results"])) == (3, 3)
    assert (large_body["count"], len(large_body["results"])) == (30, 30)
    assert all(len(o["lines"]) == 2 and o["events"] for o in large_body["results"])
    assert small == large == 6


# --- Cancel ----------------------------------------------------------------------------------


def test_the_customer_cancels_a_placed_order(shop, shopper, customer_api, shopper_order):
    response = customer_api.post(order_url(shopper_order, "cancel"), {"reason": "changed my mind"})

    assert response.status_code == 200, text(response)
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["events"][-1] == {
        "status": "cancelled",
        "from_status": "placed",
        "actor": "customer",
        "channel": "mobile",
        "at": body["events"][-1]["at"],
    }
    shopper_order.refresh_from_db()
    assert shopper_order.cancel_reason == "changed my mind"
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert slot_bookings(shop.store) == 0
    touch = Touchpoint.objects.get(customer=shopper, kind="order_cancelled")
    assert touch.channel == "mobile"


def test_a_cancel_without_a_reason_is_recorded_as_the_customers(customer_api, shopper_order):
    response = customer_api.post(order_url(shopper_order, "cancel"))

    assert response.status_code == 200
    shopper_order.refresh_from_db()
    assert shopper_order.cancel_reason == "cancelled by the customer"


# The customer may cancel only until the store starts preparing (DESIGN's API table: "customer
# cancel while placed"). Written out, so that allowing one more status fails a test.
CUSTOMER_MAY_CANCEL = {"placed"}


def _shopper_order_in(status, shop, shopper, clerk, shopper_order, settings):
    """The shopper's order (2 lamps, 1 mug) driven through the services to ``status``."""
    if status == "pending_payment":
        # An online order whose card has not been sent yet (no call to the provider).
        settings.STRIPE_SECRET_KEY = "sk_test_no_call_made"
        cart = CartFactory(customer=shopper)
        CartLineFactory(cart=cart, variant=shop.lamp, quantity=2)
        CartLineFactory(cart=cart, variant=shop.mug, quantity=1)
        order = place_order(
            cart=cart,
            store=shop.store,
            slot_start=pickup_slots(store=shop.store)[2].start,
            payment_method="online",
            allow_online=True,
            channel="mobile",
            customer=shopper,
        )
        cancel_order(order=shopper_order, reason="only one", actor="staff", channel="store")
        shopper_order = order
    if status == "preparing":
        mark_preparing(order=shopper_order, user=clerk)
    if status in {"ready", "collected", "expired"}:
        ready(shopper_order, clerk)
    if status == "collected":
        collect_in_full(shopper_order, clerk)
    if status == "expired":
        shopper_order.refresh_from_db()
        expire_order(order=shopper_order, now=shopper_order.hold_until + timedelta(minutes=1))
    if status == "cancelled":
        cancel_order(order=shopper_order, reason="store", actor="staff", channel="store")
    shopper_order.refresh_from_db()
    assert shopper_order.status == status
    return shopper_order


@pytest.mark.parametrize("status", OrderStatus.values)
def test_the_customer_may_cancel_only_until_the_store_starts_preparing(
    shop, shopper, customer_api, shopper_order, clerk, settings, status
):
    # given the shopper's order in ``status``
    order = _shopper_order_in(status, shop, shopper, clerk, shopper_order, settings)
    before = written()

    # when the customer cancels it from the app
    response = customer_api.post(order_url(order, "cancel"), {"reason": "late"})

    order.refresh_from_db()
    if status in CUSTOMER_MAY_CANCEL:
        # then it is cancelled and its units go back on sale
        assert response.status_code == 200, text(response)
        assert response.json()["status"] == order.status == "cancelled"
        assert stock_of(shop.store, shop.lamp) == (10, 0)
        assert stock_of(shop.store, shop.mug) == (3, 0)
    else:
        # then it is refused with a clear answer, and nothing changed
        assert response.status_code == 409, text(response)
        body = response.json()
        assert (body["code"], body["current"]) == ("cancel_not_allowed", status)
        label = OrderStatus(status).label
        assert body["detail"] == (
            f"Order {order.number} is {label} and can no longer be cancelled here. "
            "Please contact the store."
        )
        assert order.status == status
        assert written() == before


@pytest.mark.parametrize(
    "data", [{"reason": "x" * 256}, {"reason": ["late"]}, {"reason": "a\x00b"}], ids=str
)
def test_a_bad_cancel_reason_is_refused(customer_api, shopper_order, data):
    before = written()

    response = customer_api.post(order_url(shopper_order, "cancel"), data)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert written() == before


# --- "I'm here" ------------------------------------------------------------------------------


def pickup_time_has_come(order):
    """Move the order's slot to start in five minutes: "I'm here" is open."""
    start = timezone.now() + timedelta(minutes=5)
    Order.objects.filter(pk=order.pk).update(slot_start=start, slot_end=start + timedelta(hours=1))
    order.refresh_from_db()


def test_i_am_here_checks_the_customer_in_once(shop, shopper, customer_api, shopper_order):
    pickup_time_has_come(shopper_order)
    first = customer_api.post(order_url(shopper_order, "arrived"))
    after_first = written()
    again = customer_api.post(order_url(shopper_order, "arrived"))

    assert (first.status_code, again.status_code) == (200, 200)
    shopper_order.refresh_from_db()
    assert shopper_order.arrived_at is not None
    assert (
        first.json()["arrived_at"] == again.json()["arrived_at"] == _iso(shopper_order.arrived_at)
    )
    assert first.json()["status"] == "placed"
    event = OrderEvent.objects.get(order=shopper_order, note="customer arrived")
    assert (event.from_status, event.to_status, event.actor, event.channel) == (
        "placed",
        "placed",
        "customer",
        "mobile",
    )
    touch = Touchpoint.objects.get(kind="customer_arrived")
    assert (touch.customer, touch.channel, touch.payload["order"]) == (
        shopper,
        "mobile",
        shopper_order.number,
    )
    assert written() == after_first


@pytest.mark.parametrize("status", ["collected", "cancelled", "expired"])
def test_i_am_here_for_an_order_that_is_over_is_refused(customer_api, shopper_order, clerk, status):
    if status == "cancelled":
        cancel_order(order=shopper_order, reason="x", actor="staff", channel="store")
    else:
        ready(shopper_order, clerk)
        if status == "collected":
            collect_order(
                order=shopper_order,
                user=clerk,
                quantities={},
                payment_method="cash",
                reference="",
                collector="customer",
                verified_by="code",
                device="test",
            )
        else:
            expire_order(order=shopper_order, now=timezone.now() + timedelta(days=30))
    before = written()

    response = customer_api.post(order_url(shopper_order, "arrived"))

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["current"]) == (
        "arrival_not_allowed",
        status,
    )
    assert written() == before


def test_arrived_orders_come_first_on_the_tablet_with_their_time(shop, clerk):
    # given three new orders, the latest slot's customer is at the counter
    orders = [ready(place_at(shop.store, (shop.lamp, 1), slot_index=i), clerk) for i in range(3)]
    arrived = mark_arrived(order=orders[2], channel="mobile")
    tablet = Client()
    tablet.force_login(clerk)

    board = text(tablet.get(f"/store/{shop.store.code}/"))

    ready_column = column(board, "ready")
    numbers = re.findall(r"<strong>(CC-\w+)</strong>", ready_column)
    assert numbers == [orders[2].number, orders[0].number, orders[1].number]
    assert ready_column.count('class="arrived"') == 1
    local = arrived.arrived_at.astimezone(shop.store.tz).strftime("%H:%M")
    assert f'<span class="arrived">Arrived {local}</span>' in ready_column
    assert "ticket-arrived" in ready_column


def test_i_am_here_long_before_the_pickup_time_is_refused(customer_api, shopper_order):
    before = written()

    response = customer_api.post(order_url(shopper_order, "arrived"))

    assert response.status_code == 409
    assert response.json()["code"] == "too_early"
    assert written() == before


# --- The pickup QR ---------------------------------------------------------------------------


def test_the_qr_is_an_svg_of_the_pickup_token(customer_api, shopper_order):
    url = order_url(shopper_order, "qr.svg").rstrip("/")

    response = customer_api.get(url)
    as_json = customer_api.get(url, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == qr_svg(shopper_order.pickup_token)
    assert b"<svg" in response.content
    assert (as_json.status_code, as_json["Content-Type"]) == (200, "image/svg+xml")


def test_the_schema_documents_the_qr_as_an_svg_image(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    responses = schema["paths"]["/api/v1/orders/{number}/qr.svg"]["get"]["responses"]

    assert sorted(responses) == ["200", "400", "401", "404", "413", "414"]
    assert list(responses["200"]["content"]) == ["image/svg+xml"]
    assert list(responses["404"]["content"]) == ["application/json"]


# --- Same truth on the web, the API and the tablet -------------------------------------------


def test_status_and_prices_match_the_web_page_and_the_tablet(
    shop, shopper, customer_api, shopper_order, clerk
):
    mark_preparing(order=shopper_order, user=clerk)
    web = Client()
    web.force_login(shopper.user)
    tablet = Client()
    tablet.force_login(clerk)

    api = customer_api.get(order_url(shopper_order)).json()
    page = text(web.get(f"/orders/{shopper_order.number}/"))
    counter = text(tablet.get(f"/store/{shop.store.code}/orders/{shopper_order.number}/"))

    assert api["status"] == "preparing"
    label = OrderStatus("preparing").label
    assert f'<p class="status status-preparing">{label}</p>' in page
    assert f'<span class="status status-preparing">{label}</span>' in counter
    assert f'<th class="num">€{api["total"]}</th>' in page
    assert f"<dd>€{api['total']}</dd>" in counter
    assert [ln["line_total"] for ln in api["lines"]] == ["25.00", "4.00"]
    for line in api["lines"]:
        assert f'<td class="num">€{line["line_total"]}</td>' in page
