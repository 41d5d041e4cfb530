"""The store tablet: who may see what, the order rules through the views, pickup codes."""

import pytest
from django.conf import settings
from django.test import Client

from orders.models import Order, OrderEvent, OrderStatus
from orders.services import mark_preparing, mark_ready, pickup_verification
from stores.models import StaffMembership
from tests.support.factories import StaffMembershipFactory, UserFactory
from tests.support.web_helpers import (
    collect_in_full,
    column,
    logged_in,
    place_at,
    slot_bookings,
    stock_of,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures


@pytest.fixture
def order(shop):
    """A placed order at the shop's store: 2 lamps and 1 mug."""
    return place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))


def _ready(order, user):
    mark_preparing(order=order, user=user)
    return mark_ready(order=order, user=user)


def _url(order, action=""):
    return f"/store/{order.store.code}/orders/{order.number}/{action + '/' if action else ''}"


# --- Who may use the tablet ----------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(order):
    client = Client()
    before = written()

    for path in ["/store/", f"/store/{order.store.code}/", _url(order)]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/account/login/?next={path}"
    response = client.post(_url(order, "status"), {"status": "preparing"})
    assert response.status_code == 302
    assert written() == before


def test_a_shopper_without_membership_gets_no_tablet(order, shopper):
    client = logged_in(shopper.user)
    before = written()

    assert client.get("/store/").status_code == 403
    assert client.get(f"/store/{order.store.code}/").status_code == 404
    assert client.get(_url(order)).status_code == 404
    assert client.post(_url(order, "status"), {"status": "preparing"}).status_code == 404
    assert (
        client.post(f"/store/{order.store.code}/scan/", {"q": order.pickup_token}).status_code
        == 404
    )
    assert written() == before


def test_the_tablet_home_sends_a_one_store_clerk_to_their_queue(shop, tablet):
    response = tablet.get("/store/")

    assert response.status_code == 302
    assert response["Location"] == f"/store/{shop.store.code}/"


def test_the_tablet_home_lists_every_store_of_a_multi_store_manager(shop, manager):
    StaffMembershipFactory(user=manager, store=shop.other, role=StaffMembership.Role.MANAGER)

    response = logged_in(manager).get("/store/")

    assert response.status_code == 200
    assert f'href="/store/{shop.store.code}/"' in text(response)
    assert f'href="/store/{shop.other.code}/"' in text(response)


def test_a_clerk_cannot_reach_another_stores_orders(shop, tablet):
    theirs = place_at(shop.other, (shop.mug, 2))
    mine = shop.store.code
    before = written()

    assert tablet.get(f"/store/{shop.other.code}/").status_code == 404
    assert tablet.get(f"/store/{shop.other.code}/orders/{theirs.number}/").status_code == 404
    assert tablet.get(f"/store/{mine}/orders/{theirs.number}/").status_code == 404
    for action, data in [
        ("status", {"status": "preparing"}),
        ("cancel", {"reason": "not ours"}),
        ("verify", {"code": theirs.pickup_code}),
        ("collect", {"qty_MUG-01": 2, "payment_method": "cash", "collector": "customer"}),
        ("unlock", {}),
    ]:
        response = tablet.post(f"/store/{mine}/orders/{theirs.number}/{action}/", data)
        assert response.status_code == 404, action
    by_token = tablet.post(f"/store/{mine}/scan/", {"q": theirs.pickup_token})
    by_code = tablet.post(f"/store/{mine}/scan/", {"q": theirs.pickup_code})

    assert by_token.status_code == 404
    assert "This QR code is not for an order at this store." in text(by_token)
    assert by_code.status_code == 404
    assert "No order with this pickup code at this store." in text(by_code)
    assert theirs.number not in text(by_token) + text(by_code)
    assert written() == before


def test_a_clerk_of_two_stores_reaches_both(shop, clerk):
    StaffMembershipFactory(user=clerk, store=shop.other)
    theirs = place_at(shop.other, (shop.mug, 1))

    client = logged_in(clerk)

    assert client.get(f"/store/{shop.other.code}/").status_code == 200
    assert client.get(f"/store/{shop.other.code}/orders/{theirs.number}/").status_code == 200
    assert client.get(f"/store/{shop.store.code}/orders/{theirs.number}/").status_code == 404


def test_an_inactive_store_is_closed_to_its_staff(shop, tablet, order):
    shop.store.is_active = False
    shop.store.save(update_fields=["is_active"])

    assert tablet.get(f"/store/{shop.store.code}/").status_code == 404
    assert tablet.get(_url(order)).status_code == 404


# --- The queue -----------------------------------------------------------------------------


def test_htmx_poll_returns_only_the_board(shop, tablet, order):
    response = tablet.get(f"/store/{shop.store.code}/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    assert body.lstrip().startswith('<div class="board">')
    assert order.number in column(body, "placed")
    assert 'name="q"' not in body  # the scan form stays put


def test_queue_columns_follow_the_status(shop, clerk, tablet):
    placed = place_at(shop.store, (shop.lamp, 1), slot_index=1)
    preparing = place_at(shop.store, (shop.lamp, 1), slot_index=2)
    ready = place_at(shop.store, (shop.lamp, 1), slot_index=3)
    done = place_at(shop.store, (shop.mug, 1), slot_index=4)
    mark_preparing(order=preparing, user=clerk)
    _ready(ready, clerk)
    _ready(done, clerk)
    collect_in_full(done, clerk)

    page = text(tablet.get(f"/store/{shop.store.code}/"))
    board, collected = page.split('id="collected-today"')

    assert placed.number in column(board, "placed")
    assert preparing.number in column(board, "preparing")
    assert ready.number in column(board, "ready")
    assert done.number not in board
    assert done.number in collected
    assert column(board, "overdue").count("<article") == 0


def test_htmx_status_change_returns_the_new_board(shop, tablet, order):
    response = tablet.post(
        _url(order, "status"), {"status": "preparing"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert "<html" not in text(response)
    assert order.number in column(text(response), "preparing")
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING


# --- Illegal moves through the views ---------------------------------------------------------


def test_ready_before_preparing_is_refused(tablet, order):
    before = written()

    response = tablet.post(_url(order, "status"), {"status": "ready"})

    assert response.status_code == 409
    assert f"Order {order.number} is Placed and cannot become Ready for pickup." in text(response)
    assert written() == before


def test_preparing_twice_is_refused(clerk, tablet, order):
    mark_preparing(order=order, user=clerk)
    before = written()

    response = tablet.post(_url(order, "status"), {"status": "preparing"})

    assert response.status_code == 409
    assert "is Being prepared and cannot become Being prepared." in text(response)
    assert written() == before


@pytest.mark.parametrize("status", ["collected", "cancelled", "", "READY"])
def test_status_change_accepts_only_preparing_or_ready(tablet, order, status):
    before = written()

    response = tablet.post(_url(order, "status"), {"status": status})

    assert response.status_code == 400
    assert written() == before


def test_collecting_a_placed_order_is_refused(shop, tablet, order):
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    before = written()

    response = tablet.post(
        _url(order, "collect"),
        {"qty_LAMP-01": 2, "qty_MUG-01": 1, "payment_method": "cash", "collector": "customer"},
    )

    assert response.status_code == 409
    assert f"Order {order.number} is Placed and cannot become Collected." in text(response)
    assert written() == before


def test_cancelling_a_collected_order_is_refused(shop, clerk, tablet, order):
    _ready(order, clerk)
    collect_in_full(order, clerk)
    before = written()

    response = tablet.post(_url(order, "cancel"), {"reason": "Customer changed their mind"})

    assert response.status_code == 409
    assert f"Order {order.number} is Collected and cannot become Cancelled." in text(response)
    assert written() == before


def test_cancel_with_a_reason_releases_the_stock_and_the_slot(shop, tablet, order, clerk):
    mark_preparing(order=order, user=clerk)
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert slot_bookings(shop.store) == 1

    response = tablet.post(
        _url(order, "cancel"), {"reason": "Damaged in the store room", "confirm": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/store/{shop.store.code}/"
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "Damaged in the store room"
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert slot_bookings(shop.store) == 0
    event = order.events.order_by("pk").last()
    assert (event.from_status, event.to_status, event.user, event.note) == (
        "preparing",
        "cancelled",
        clerk,
        "Damaged in the store room",
    )
    board = text(tablet.get(f"/store/{shop.store.code}/", headers={"HX-Request": "true"}))
    assert order.number not in board


@pytest.mark.parametrize(
    "data", [{}, {"reason": ""}, {"reason": "   "}], ids=["none", "empty", "blank"]
)
def test_cancel_without_a_reason_is_refused(tablet, order, data):
    before = written()

    response = tablet.post(_url(order, "cancel"), data)

    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert written() == before


# --- Collection rules ----------------------------------------------------------------------


def test_collect_without_a_scan_or_code_check_is_refused(clerk, tablet, order):
    _ready(order, clerk)
    before = written()

    response = tablet.post(
        _url(order, "collect"),
        {"qty_LAMP-01": 2, "qty_MUG-01": 1, "payment_method": "cash", "collector": "customer"},
    )

    assert response.status_code == 400
    assert "Scan the QR code or check the pickup code first." in text(response)
    assert 'data-code="not_verified"' in text(response)
    assert written() == before


def test_the_collection_screen_asks_for_the_code_until_verified(shop, clerk, tablet, order):
    _ready(order, clerk)

    screen = text(tablet.get(_url(order)))

    assert "Check the customer's pickup code" in screen
    assert "Confirm handover" not in screen


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"qty_LAMP-01": 3, "qty_MUG-01": 1}, "Ensure this value is less than or equal to 2."),
        ({"qty_LAMP-01": -1, "qty_MUG-01": 1}, "Ensure this value is greater than or equal to 0."),
        ({"qty_LAMP-01": "two", "qty_MUG-01": 1}, "Enter a whole number."),
        ({"qty_MUG-01": 1}, "This field is required."),
        ({"qty_LAMP-01": 0, "qty_MUG-01": 0}, "At least one item must be handed over"),
    ],
    ids=["above-ordered", "negative", "words", "missing-line", "nothing"],
)
def test_collect_with_bad_quantities_is_refused(shop, clerk, tablet, order, data, message):
    _ready(order, clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    before = written()

    response = tablet.post(
        _url(order, "collect"), {**data, "payment_method": "cash", "collector": "customer"}
    )

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"payment_method": "card", "reference": ""}, "Enter the card terminal receipt number."),
        ({"payment_method": ""}, "Choose card or cash."),
    ],
    ids=["card-no-reference", "no-method"],
)
def test_collect_with_bad_payment_or_collector_is_refused(
    shop, clerk, tablet, order, data, message
):
    _ready(order, clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    before = written()

    response = tablet.post(
        _url(order, "collect"), {"qty_LAMP-01": 2, "qty_MUG-01": 1, "collector": "customer", **data}
    )

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before


@pytest.mark.parametrize(
    "data",
    [
        {"payment_method": "bitcoin"},
        {"payment_method": "cash", "collector": "delegate"},
        {"payment_method": "cash", "collector": ""},
    ],
    ids=["bad-method", "no-delegate-named", "no-collector"],
)
def test_collect_with_tampered_choices_is_refused(shop, clerk, tablet, order, data):
    """Choices the screen never offers: a 400, nothing written."""
    _ready(order, clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    before = written()

    response = tablet.post(
        _url(order, "collect"), {"qty_LAMP-01": 2, "qty_MUG-01": 1, "collector": "customer", **data}
    )

    assert response.status_code == 400
    assert written() == before


# --- Pickup codes --------------------------------------------------------------------------


def _wrong_codes(right: str, count: int) -> list[str]:
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    codes = []
    for i in range(count):
        code = "".join(alphabet[(i * 7 + j * 3) % len(alphabet)] for j in range(8))
        assert code != right
        codes.append(code)
    return codes


def test_wrong_codes_up_to_the_limit_lock_the_order_until_a_manager_unlocks_it(
    shop, clerk, manager, tablet, order
):
    _ready(order, clerk)
    limit = settings.PICKUP_CODE_ORDER_LIMIT

    *first, last = _wrong_codes(order.pickup_code, limit)
    for attempt, code in enumerate(first, start=1):
        response = tablet.post(_url(order, "verify"), {"code": code})
        assert response.status_code == 400
        left = limit - attempt
        tries = "try" if left == 1 else "tries"
        expected = f"That is not this order&#x27;s pickup code ({left} {tries} left)."
        assert expected in text(response)
    response = tablet.post(_url(order, "verify"), {"code": last})
    assert response.status_code == 423
    assert "pickup code is now locked" in text(response)
    order.refresh_from_db()
    assert order.code_failures == limit
    assert order.code_locked_at is not None

    # Locked: even the right code is refused, typed on the order or at the scanner.
    before = written()
    right = tablet.post(_url(order, "verify"), {"code": order.pickup_code})
    scanned = tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_code})
    assert right.status_code == 423
    assert "locked after too many wrong tries" in text(right)
    assert scanned.status_code == 423
    assert written() == before
    assert pickup_verification(order=order, user=clerk) == ""

    # A clerk cannot unlock it.
    refused = tablet.post(_url(order, "unlock"))
    assert refused.status_code == 403
    assert "Only a store manager can unlock a pickup code." in text(refused)
    assert written() == before

    # The manager can; the right code then works.
    unlocked = logged_in(manager).post(_url(order, "unlock"))
    assert unlocked.status_code == 302
    order.refresh_from_db()
    assert (order.code_failures, order.code_locked_at) == (0, None)
    assert OrderEvent.objects.filter(
        order=order, note="pickup code unlocked by manager", user=manager
    ).exists()
    verified = tablet.post(_url(order, "verify"), {"code": order.pickup_code.lower()})
    assert verified.status_code == 302
    assert verified["Location"] == _url(order)
    assert pickup_verification(order=order, user=clerk) == "code"
    assert "Confirm handover" in text(tablet.get(_url(order)))


def test_a_locked_order_still_opens_with_its_qr_code(shop, clerk, tablet, order):
    _ready(order, clerk)
    for code in _wrong_codes(order.pickup_code, settings.PICKUP_CODE_ORDER_LIMIT):
        tablet.post(_url(order, "verify"), {"code": code})

    response = tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})

    assert response.status_code == 302
    assert response["Location"] == _url(order)


def test_a_right_code_after_a_few_wrong_ones_resets_the_count(clerk, tablet, order):
    _ready(order, clerk)
    for code in _wrong_codes(order.pickup_code, 3):
        tablet.post(_url(order, "verify"), {"code": code})

    response = tablet.post(_url(order, "verify"), {"code": order.pickup_code})

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.code_failures, order.code_locked_at) == (0, None)


def test_wrong_codes_at_the_scanner_are_rate_limited_per_clerk(shop, clerk, tablet, order):
    limit = settings.PICKUP_CODE_CLERK_LIMIT
    for code in _wrong_codes(order.pickup_code, limit):
        response = tablet.post(f"/store/{shop.store.code}/scan/", {"q": code})
        assert response.status_code == 404
    before = written()

    stopped = tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_code})

    assert stopped.status_code == 429
    assert "Too many wrong pickup codes." in text(stopped)
    assert written() == before
    assert pickup_verification(order=order, user=clerk) == ""
    # Per clerk: a colleague at the same store is not stopped, and the QR still works.
    colleague = UserFactory()
    StaffMembershipFactory(user=colleague, store=shop.store)
    assert (
        logged_in(colleague)
        .post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_code})
        .status_code
        == 302
    )
    assert (
        tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token}).status_code == 302
    )


def test_wrong_codes_on_the_order_count_towards_the_clerk_limit(shop, clerk, tablet):
    limit = settings.PICKUP_CODE_CLERK_LIMIT
    orders = [place_at(shop.store, (shop.lamp, 1), slot_index=i) for i in range(1, 4)]
    for o in orders:
        _ready(o, clerk)
    codes = iter(_wrong_codes("", limit))
    # Spread the wrong tries over three orders so no single order locks (4 + 4 + 2).
    for o, tries in zip(orders, [4, 4, limit - 8], strict=True):
        for _ in range(tries):
            assert tablet.post(_url(o, "verify"), {"code": next(codes)}).status_code == 400

    response = tablet.post(_url(orders[0], "verify"), {"code": orders[0].pickup_code})

    assert response.status_code == 429
    assert Order.objects.filter(code_locked_at__isnull=False).count() == 0


@pytest.mark.parametrize("q", ["", "   ", "x" * 101], ids=["empty", "blank", "too-long"])
def test_scan_refuses_empty_or_oversized_input(shop, tablet, q):
    before = written()

    response = tablet.post(f"/store/{shop.store.code}/scan/", {"q": q})

    assert response.status_code == 400
    assert written() == before


def test_an_unknown_qr_token_is_not_found(shop, tablet, order):
    before = written()

    last = order.pickup_token[-1]
    forged = order.pickup_token[:-1] + ("B" if last == "A" else "A")

    response = tablet.post(f"/store/{shop.store.code}/scan/", {"q": forged})

    assert response.status_code == 404
    assert "This QR code is not for an order at this store." in text(response)
    assert written() == before


def test_scanning_a_cancelled_order_explains_instead_of_opening_it(shop, clerk, tablet, order):
    """DESIGN §5: a token resolves only for an order that can still be collected."""
    tablet.post(_url(order, "cancel"), {"reason": "Out of stock", "confirm": "1"})
    before = written()

    response = tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})

    assert response.status_code == 409
    assert "Cancelled" in text(response)
    assert pickup_verification(order=order, user=clerk) == ""
    assert written() == before


def test_nul_bytes_in_counter_urls_are_refused_cleanly(shop, tablet):
    before = written()

    page = tablet.get(f"/store/{shop.store.code}/orders/CC-%00/")
    status = tablet.post(f"/store/{shop.store.code}/orders/CC-%00/status/", {"status": "ready"})
    scan = tablet.post(f"/store/{shop.store.code}/scan/", {"q": "AB\x00CDEFG"})

    assert page.status_code in {400, 404}
    assert status.status_code in {400, 404}
    assert scan.status_code in {400, 404}
    assert written() == before
