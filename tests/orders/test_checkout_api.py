"""POST /api/v1/checkout/: the customer's one cart becomes an order (channel mobile).

Idempotency-Key is required; the same key and body give the same order, the same key with
another body is refused (422); stock and slot refusals are 409s naming what is missing; bad
input is a 400 that writes nothing.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Touchpoint
from orders.models import Order, OrderEvent
from shop.models import Cart, CartLine
from shop.services import cart_for_customer
from stores.models import Closure, SlotBooking
from tests.support.api_client import Api, token_for
from tests.support.api_helpers import CHECKOUT, order_url
from tests.support.clock import at_awkward_moments
from tests.support.factories import CartLineFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout,
    checkout_data,
    checkout_page,
    logged_in,
    slot_bookings,
    stock_of,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

ORDER_FIELDS = [
    "amounts",
    "arrived_at",
    "channel",
    "created_at",
    "currency",
    "events",
    "hold_until",
    "lines",
    "number",
    "payment_method",
    "payment_status",
    "pickup_code",
    "slot_end",
    "slot_start",
    "status",
    "store",
    "total",
]


def _iso(moment) -> str:
    """A datetime as the API writes it: UTC, with "Z"."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- The order is placed --------------------------------------------------------------------


@at_awkward_moments
def test_checkout_places_the_order_from_the_customers_cart(
    shop, shopper, customer_api, filled_cart, checkout_body, slots
):
    response = customer_api.post(CHECKOUT, checkout_body, key="key-1")

    assert response.status_code == 201, text(response)
    body = response.json()
    order = Order.objects.get()
    assert sorted(body) == ORDER_FIELDS
    assert body["number"] == order.number
    assert (body["status"], body["store"], body["channel"]) == ("placed", shop.store.code, "mobile")
    assert (body["payment_method"], body["payment_status"]) == ("in_store", "unpaid")
    assert body["slot_start"] == _iso(slots[1])
    assert body["slot_end"] == _iso(order.slot_end)
    assert body["lines"] == [
        {
            "sku": "LAMP-01",
            "name": str(shop.lamp),
            "quantity": 2,
            "collected_quantity": None,
            "unit_price": "12.50",
            "line_total": "25.00",
        },
        {
            "sku": "MUG-01",
            "name": str(shop.mug),
            "quantity": 1,
            "collected_quantity": None,
            "unit_price": "4.00",
            "line_total": "4.00",
        },
    ]
    assert (body["total"], body["currency"]) == ("29.00", "EUR")
    assert body["pickup_code"] == order.pickup_code
    assert (body["hold_until"], body["arrived_at"]) == (None, None)
    assert body["events"] == [
        {
            "status": "placed",
            "from_status": "",
            "actor": "customer",
            "channel": "mobile",
            "at": _iso(order.events.get().created_at),
        }
    ]
    assert "Idempotent-Replayed" not in response
    # the customer's one cart was used and emptied; stock and slot are held
    assert order.customer == shopper
    assert order.cart == filled_cart
    assert (order.idempotency_key, len(order.request_fingerprint)) == ("key-1", 64)
    assert CartLine.objects.filter(cart=filled_cart).count() == 0
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert stock_of(shop.store, shop.mug) == (3, 1)
    assert slot_bookings(shop.store) == 1
    touch = Touchpoint.objects.get(customer=shopper, kind="order_placed")
    assert (touch.channel, touch.payload["order"]) == ("mobile", order.number)


def test_the_cart_built_on_the_web_is_the_one_checked_out_on_the_phone(
    shop, shopper, customer_api, checkout_body
):
    # given the shopper put a lamp in their cart on the web, logged in
    web = Client()
    web.force_login(shopper.user)
    assert web.post("/cart/add/", {"sku": "LAMP-01", "quantity": 3}).status_code == 302

    # when they check out from the app
    response = customer_api.post(CHECKOUT, checkout_body, key="web-then-phone")

    # then the order holds the web cart's line
    assert response.status_code == 201, text(response)
    assert [(ln["sku"], ln["quantity"]) for ln in response.json()["lines"]] == [("LAMP-01", 3)]
    assert response.json()["total"] == "37.50"


# --- Idempotency -----------------------------------------------------------------------------


def test_the_same_key_and_body_answer_the_same_order_again(
    customer_api, filled_cart, checkout_body
):
    first = customer_api.post(CHECKOUT, checkout_body, key="retry-me")
    after_first = written()

    again = customer_api.post(CHECKOUT, checkout_body, key="retry-me")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert written() == after_first


def test_the_same_instant_written_with_another_offset_is_the_same_body(
    shop, customer_api, filled_cart, checkout_body, slots
):
    madrid = slots[1].astimezone(shop.store.tz).isoformat()  # +01:00 or +02:00
    first = customer_api.post(CHECKOUT, checkout_body, key="offsets")

    again = customer_api.post(
        CHECKOUT, {**checkout_body, "slot_start": madrid, "unknown": "ignored"}, key="offsets"
    )

    assert again.status_code == 201, text(again)
    assert again.json()["number"] == first.json()["number"]
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"slot_index": 2},
        {"payment": "online"},
        {"payment_method": "pm_card_visa"},
        {"store": "other"},
    ],
    ids=["other-slot", "online", "payment-method", "other-store"],
)
def test_the_same_key_with_another_body_is_refused(
    shop, customer_api, filled_cart, checkout_body, slots, change
):
    customer_api.post(CHECKOUT, checkout_body, key="once")
    other = dict(checkout_body)
    if "slot_index" in change:
        other["slot_start"] = slots[change["slot_index"]].isoformat()
    elif change.get("store") == "other":
        other["store"] = shop.other.code
    else:
        other.update(change)
    before = written()

    response = customer_api.post(CHECKOUT, other, key="once")

    assert response.status_code == 422, text(response)
    assert response.json()["code"] == "idempotency_mismatch"
    assert written() == before
    assert Order.objects.count() == 1


def test_a_key_is_scoped_to_the_customers_cart(
    shop, shopper, stranger, customer_api, stranger_api, filled_cart, checkout_body
):
    # given the stranger has a cart too and used the same key first
    CartLineFactory(cart=cart_for_customer(customer=stranger), variant=shop.mug, quantity=1)
    theirs = stranger_api.post(CHECKOUT, checkout_body, key="shared-key")

    mine = customer_api.post(CHECKOUT, checkout_body, key="shared-key")

    assert (theirs.status_code, mine.status_code) == (201, 201)
    assert theirs.json()["number"] != mine.json()["number"]
    assert Order.objects.get(number=mine.json()["number"]).customer == shopper


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "idempotency_key_required"),
        ({"HTTP_IDEMPOTENCY_KEY": "   "}, "idempotency_key_required"),
        ({"HTTP_IDEMPOTENCY_KEY": "k" * 81}, "idempotency_key_invalid"),
        ({"HTTP_IDEMPOTENCY_KEY": "two words"}, "idempotency_key_invalid"),
        ({"HTTP_IDEMPOTENCY_KEY": "clé"}, "idempotency_key_invalid"),
    ],
    ids=["missing", "blank", "81-chars", "space", "non-ascii"],
)
def test_a_missing_or_malformed_idempotency_key_is_refused(
    customer_api, filled_cart, checkout_body, headers, code
):
    before = written()

    response = customer_api.post(CHECKOUT, checkout_body, **headers)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert sorted(response.json()) == ["code", "detail"]
    assert written() == before


def test_an_80_character_key_is_accepted(customer_api, filled_cart, checkout_body):
    response = customer_api.post(CHECKOUT, checkout_body, key="k" * 80)

    assert response.status_code == 201
    assert Order.objects.get().idempotency_key == "k" * 80


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_ten_simultaneous_submits_with_one_key_place_one_order(
    shop, shopper, filled_cart, checkout_body
):
    # given one token of the shopper's phone, and 10 requests ready to go at once
    token = token_for(shopper.user)
    threads = 10
    barrier = threading.Barrier(threads)

    def submit():
        try:
            connection.ensure_connection()
            api = Api(token=token)
            barrier.wait(timeout=30)
            return api.post(CHECKOUT, checkout_body, key="double-tap")
        finally:
            connection.close()

    # when they all submit the same checkout with the same key
    with ThreadPoolExecutor(max_workers=threads) as pool:
        responses = list(pool.map(lambda _: submit(), range(threads)))

    # then every one gets the one order, reserved and booked once
    assert [r.status_code for r in responses] == [201] * threads, [
        text(r) for r in responses if r.status_code != 201
    ]
    assert len({r.json()["number"] for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == threads - 1
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert SlotBooking.objects.get().booked == 1


# --- Stock and slot refusals -----------------------------------------------------------------


def test_out_of_stock_names_the_missing_skus_and_writes_nothing(
    shop, shopper, customer_api, checkout_body
):
    cart = cart_for_customer(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=1)
    CartLineFactory(cart=cart, variant=shop.mug, quantity=4)  # 3 on hand
    before = written()

    response = customer_api.post(CHECKOUT, checkout_body, key="oos")

    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["skus"]) == ("out_of_stock", ["MUG-01"])
    assert "MUG-01" in body["detail"]
    assert written() == before


def test_a_full_slot_is_refused_and_writes_nothing(
    shop, customer_api, filled_cart, checkout_body, slots
):
    SlotBooking.objects.create(store=shop.store, start=slots[1], booked=shop.store.slot_capacity)
    before = written()

    response = customer_api.post(CHECKOUT, checkout_body, key="full")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_full"
    assert written() == before


@pytest.mark.parametrize(
    "slot_start, code",
    [
        ("off-grid", "slot_invalid"),
        ("past", "slot_invalid"),
        ("9999-12-31T23:59:59Z", "slot_invalid"),
        ("0001-01-01T00:00:00Z", "slot_invalid"),
        ("0001-01-01T00:00:00+01:00", "invalid"),
        ("9999-12-31T23:59:59-12:00", "invalid"),
        ("naive", "invalid"),
        ("2025-02-30T10:00:00Z", "invalid"),
        ("tomorrow at ten", "invalid"),
        (12345, "invalid"),
        (None, "invalid"),
        (["2025-01-15T10:00:00Z"], "invalid"),
    ],
)
def test_a_time_that_is_not_a_pickup_slot_is_refused(
    customer_api, filled_cart, checkout_body, slots, slot_start, code
):
    if slot_start == "off-grid":
        slot_start = (slots[1] + timedelta(minutes=7)).isoformat()
    elif slot_start == "past":
        slot_start = (slots[0] - timedelta(days=2)).isoformat()
    elif slot_start == "naive":
        slot_start = slots[1].replace(tzinfo=None).isoformat()
    before = written()

    response = customer_api.post(CHECKOUT, {**checkout_body, "slot_start": slot_start}, key="k")

    assert response.status_code == 400, text(response)
    assert response.json()["code"] == code
    assert written() == before


def test_online_payment_is_not_available_yet(customer_api, filled_cart, checkout_body):
    before = written()

    response = customer_api.post(
        CHECKOUT, {**checkout_body, "payment": "online", "payment_method": "pm_x"}, key="k"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "payment_unavailable"
    assert written() == before


def test_an_unknown_or_inactive_store_is_refused(shop, customer_api, filled_cart, checkout_body):
    shop.other.is_active = False
    shop.other.save(update_fields=["is_active"])
    before = written()

    for code in ["NOPE-99", shop.other.code]:
        response = customer_api.post(CHECKOUT, {**checkout_body, "store": code}, key=code)
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_store"
    assert written() == before


def test_an_empty_cart_is_refused(shopper, customer_api, checkout_body):
    cart_for_customer(customer=shopper)
    before = written()

    response = customer_api.post(CHECKOUT, checkout_body, key="empty")

    assert response.status_code == 400
    assert response.json()["code"] == "empty_cart"
    assert written() == before


def test_a_shopper_without_a_cart_is_told_it_is_empty(shopper, customer_api, checkout_body):
    # given a shopper who never had a cart
    assert not Cart.objects.filter(customer=shopper).exists()

    # when they check out
    response = customer_api.post(CHECKOUT, checkout_body, key="no-cart")

    # then the checkout is refused and no order is written
    assert response.status_code == 400
    assert response.json()["code"] == "empty_cart"
    assert Order.objects.count() == 0


# --- Whatever a client sends: a 4xx in the usual shape, nothing written ----------------------


@pytest.mark.parametrize(
    "raw, content_type, status, code",
    [
        ("{not json", "application/json", 400, "parse_error"),
        ("[1, 2]", "application/json", 400, "invalid"),
        ('"text"', "application/json", 400, "invalid"),
        ("{}", "application/json", 400, "invalid"),
        (
            '{"store": 7, "slot_start": true, "payment": ["in_store"]}',
            "application/json",
            400,
            "invalid",
        ),
        (
            '{"store": "S\\u0000", "slot_start": "x", "payment": "in_store"}',
            "application/json",
            400,
            "invalid",
        ),
        (
            '{"store": "' + "S" * 5000 + '", "slot_start": "x", "payment": "cash"}',
            "application/json",
            400,
            "invalid",
        ),
        (
            '{"store": "S-01", "slot_start": 1e999999, "payment": "in_store"}',
            "application/json",
            400,
            "invalid",
        ),
        (
            '{"store": "S-01", "slot_start": ' + "9" * 5000 + ', "payment": "in_store"}',
            "application/json",
            400,
            "parse_error",
        ),
        ("store=S-01", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
    ids=[
        "broken-json",
        "list",
        "string",
        "empty",
        "wrong-types",
        "nul",
        "huge-string",
        "huge-float",
        "huge-int",
        "form",
    ],
)
def test_bad_bodies_get_a_json_error_and_write_nothing(
    customer_api, filled_cart, raw, content_type, status, code
):
    before = written()

    response = customer_api.post(CHECKOUT, raw=raw, content_type=content_type, key="bad")

    assert response.status_code == status, text(response)
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert written() == before


def test_checkout_needs_a_token(db, filled_cart, checkout_body):
    before = written()

    for api in [Api(), Api(token="not-a-real-token")]:
        response = api.post(CHECKOUT, checkout_body, key="anon")
        assert response.status_code == 401
        assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert written() == before


def test_only_post_is_allowed(customer_api):
    response = customer_api.get(CHECKOUT)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- Same truth as the web shop --------------------------------------------------------------


@at_awkward_moments
def test_the_api_order_shows_what_the_web_order_page_shows(
    shop, shopper, customer_api, filled_cart, checkout_body
):
    # given an order placed from the phone
    body = customer_api.post(CHECKOUT, checkout_body, key="same-truth").json()

    # when the shopper opens it on the web
    web = Client()
    web.force_login(shopper.user)
    page = text(web.get(f"/orders/{body['number']}/"))
    api = customer_api.get(order_url(body["number"])).json()

    # then both show the same status, code, lines and total
    assert api == body
    assert '<p class="status status-placed">Placed</p>' in page
    assert f'<strong class="code">{body["pickup_code"]}</strong>' in page
    for line in body["lines"]:
        assert f'<td class="num">€{line["line_total"]}</td>' in page
    assert f'<th class="num">€{body["total"]}</th>' in page
    order = Order.objects.get()
    assert (
        Decimal(body["total"])
        == order.total
        == sum(Decimal(ln["line_total"]) for ln in body["lines"])
    )


# --- The store as read at checkout (cached, stores/cache.py) ---------------------------------


def test_a_closure_added_after_a_checkout_refuses_the_next_one_at_once(
    shop, customer_api, filled_cart, checkout_body, slots
):
    # given a checkout that read the store, its hours and closures (now cached)
    assert customer_api.post(CHECKOUT, checkout_body, key="first").status_code == 201
    CartLineFactory(cart=filled_cart, variant=shop.lamp, quantity=1)

    # when the store closes on the day of that slot, and the shopper checks out again
    day = slots[1].astimezone(shop.store.tz).date()
    Closure.objects.create(store=shop.store, date=day, reason="Stocktaking")
    before = written()
    response = customer_api.post(CHECKOUT, checkout_body, key="second")

    # then the slot is refused, and nothing is written
    assert response.status_code == 400, text(response)
    assert response.json()["code"] == "slot_invalid"
    assert written() == before
    assert Order.objects.count() == 1


def test_a_store_that_stops_taking_orders_is_unknown_to_the_next_checkout(
    shop, customer_api, filled_cart, checkout_body
):
    # given a checkout that read the store (now cached)
    assert customer_api.post(CHECKOUT, checkout_body, key="first").status_code == 201
    CartLineFactory(cart=filled_cart, variant=shop.lamp, quantity=1)

    # when the store is made inactive, and the shopper checks out there again
    shop.store.is_active = False
    shop.store.save(update_fields=["is_active"])
    response = customer_api.post(CHECKOUT, checkout_body, key="second")

    # then the store is unknown, and no second order is placed
    assert response.status_code == 400, text(response)
    assert response.json()["code"] == "unknown_store"
    assert Order.objects.count() == 1


# --- What a checkout costs -------------------------------------------------------------------

# The SQL statements of one checkout of a two-line cart, once the store is in the cache. In
# the test's transaction the checkout's own transaction is a savepoint: 2 statements that are
# BEGIN and COMMIT in production, which Django does not count (the API checkout's 14 here are
# 12 in production: the token, the cart with the key's order, then inside the transaction the
# locked lines, 5 inserts, the lines' delete, the slot and one update per stock row). The
# confirmation's outbox row is one INSERT … ON CONFLICT DO NOTHING, with no savepoint.
API_CHECKOUT_STATEMENTS = 14
WEB_CHECKOUT_STATEMENTS = 18


def _statements(send) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = send()
    assert response.status_code in (201, 302), text(response)
    return [query["sql"] for query in queries.captured_queries]


def _refill(shop, cart):
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2, channel="mobile")
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1, channel="mobile")


def test_an_api_checkout_runs_a_fixed_number_of_statements_hot_rows_last(
    shop, customer_api, filled_cart, checkout_body
):
    # given one checkout already placed (the store is read into the cache), and a full cart
    assert customer_api.post(CHECKOUT, checkout_body, key="warm").status_code == 201
    _refill(shop, filled_cart)

    # when the shopper checks out again
    statements = _statements(lambda: customer_api.post(CHECKOUT, checkout_body, key="again"))

    # then the checkout ran its fixed number of statements, the order's were written, and
    # the slot and stock counters were the last ones touched before the commit
    print(f"\nAPI checkout: {len(statements)} statements")
    assert len(statements) == API_CHECKOUT_STATEMENTS
    assert Order.objects.count() == 2
    last = [sql.split()[0:3] for sql in statements[-4:]]
    assert last[0][:3] == ["INSERT", "INTO", "stores_slotbooking"]
    assert [words[:2] for words in last[1:3]] == [["UPDATE", '"stores_stocklevel"']] * 2
    assert last[3][:2] == ["RELEASE", "SAVEPOINT"]


def test_a_web_checkout_runs_a_fixed_number_of_statements(shop, shopper):
    # given a logged-in shopper who has checked out once, with a lamp and a mug in the cart
    client = logged_in(shopper.user)
    add_to_cart(client, shop.lamp)
    assert checkout(client, shop.store).status_code == 302
    add_to_cart(client, shop.lamp, 2)
    add_to_cart(client, shop.mug)
    _, key, slots = checkout_page(client, shop.store)

    # when they place the order
    statements = _statements(
        lambda: client.post("/checkout/", checkout_data(shop.store, key, slots[1]))
    )

    # then the POST ran its fixed number of statements
    print(f"\nweb checkout: {len(statements)} statements")
    assert len(statements) == WEB_CHECKOUT_STATEMENTS
    assert Order.objects.count() == 2
