"""The store counter through the API: look up by QR token or code, prepare, hand over.

A clerk reaches only the orders of the stores they work at (404 otherwise, by number, token or
code). A lookup verifies the order for that clerk in the database for 15 minutes; collection
needs it.
"""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from orders.models import Handover, OrderEvent, Payment, PickupVerification
from orders.services import (
    cancel_order,
    expire_order,
    mark_preparing,
    pickup_verification,
)
from stores.models import StaffMembership
from tests.support.api_client import Api
from tests.support.api_helpers import ready, store_url
from tests.support.factories import StaffMembershipFactory, UserFactory
from tests.support.web_helpers import collect_in_full, place_at, stock_of, text, written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

STAFF_ORDER_FIELDS = [
    "amounts",
    "arrived_at",
    "channel",
    "code_locked",
    "contact_email",
    "contact_name",
    "contact_phone",
    "created_at",
    "currency",
    "events",
    "hold_until",
    "lines",
    "number",
    "payment_method",
    "payment_status",
    "pickup_code",
    "pickup_person",
    "slot_end",
    "slot_start",
    "status",
    "store",
    "total",
]


def _lookup(api, store, **data):
    return api.post(store_url(store, "pickups/lookup/"), data)


def _status(api, order, status):
    return api.post(store_url(order.store, f"orders/{order.number}/status/"), {"status": status})


def _collect(api, order, lines=None, headers=None, **data):
    """Hand everything over, paid cash, unless ``lines`` or other body fields say otherwise."""
    body = {
        "lines": lines
        if lines is not None
        else [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines.all()],
        "payment": {"method": "cash", "reference": ""},
        **data,
    }
    return api.post(
        store_url(order.store, f"orders/{order.number}/collect/"), body, **(headers or {})
    )


def _wrong(code: str) -> str:
    return ("A" if code[0] != "A" else "B") + code[1:]


@pytest.fixture
def order(shopper_order):
    """The shopper's placed order at the shop's store: 2 lamps and 1 mug."""
    return shopper_order


@pytest.fixture
def ready_order(order, clerk):
    return ready(order, clerk)


# --- Lookup ----------------------------------------------------------------------------------


def test_a_scanned_token_opens_the_order_and_verifies_it_for_the_clerk(
    shop, clerk, clerk_api, ready_order
):
    response = _lookup(clerk_api, shop.store, token=ready_order.pickup_token)

    assert response.status_code == 200, text(response)
    body = response.json()
    assert sorted(body) == STAFF_ORDER_FIELDS
    assert (body["number"], body["status"], body["pickup_code"]) == (
        ready_order.number,
        "ready",
        ready_order.pickup_code,
    )
    assert (body["contact_name"], body["pickup_person"], body["code_locked"]) == (
        ready_order.contact_name,
        "",
        False,
    )
    assert pickup_verification(order=ready_order, user=clerk) == "qr"
    assert list(PickupVerification.objects.values_list("order", "user", "method")) == [
        (ready_order.pk, clerk.pk, "qr")
    ]


def test_a_verification_lasts_fifteen_minutes(shop, clerk, clerk_api, ready_order):
    _lookup(clerk_api, shop.store, token=ready_order.pickup_token)
    verified = PickupVerification.objects.get()

    PickupVerification.objects.update(verified_at=verified.verified_at - timedelta(minutes=14))
    still = pickup_verification(order=ready_order, user=clerk)
    PickupVerification.objects.update(verified_at=verified.verified_at - timedelta(minutes=16))
    before = written()
    response = _collect(clerk_api, ready_order)

    assert still == "qr"
    assert pickup_verification(order=ready_order, user=clerk) == ""
    assert response.status_code == 400
    assert response.json()["code"] == "not_verified"
    assert written() == before


def test_a_typed_code_opens_the_order_whatever_the_case_and_dashes(
    shop, clerk, clerk_api, ready_order
):
    code = ready_order.pickup_code
    typed = f"{code[:4].lower()}-{code[4:]}"

    response = _lookup(clerk_api, shop.store, code=typed)

    assert response.status_code == 200
    assert response.json()["number"] == ready_order.number
    assert pickup_verification(order=ready_order, user=clerk) == "code"


def test_a_placed_order_opens_too_so_the_clerk_can_see_it(shop, clerk_api, order):
    response = _lookup(clerk_api, shop.store, code=order.pickup_code)

    assert response.status_code == 200
    assert response.json()["status"] == "placed"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"token": "t" * 30, "code": "ABCDEFGH"},
        {"code": ""},
        {"token": "x" * 101},
        {"code": ["ABCDEFGH"]},
    ],
    ids=["neither", "both", "blank", "long-token", "number"],
)
def test_a_lookup_needs_exactly_one_of_token_or_code(shop, clerk_api, order, data):
    before = written()

    response = _lookup(clerk_api, shop.store, **data)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert written() == before


def test_a_wrong_code_is_not_found_and_counts_against_the_clerk(
    shop, clerk, clerk_api, order, settings
):
    before = written()

    response = _lookup(clerk_api, shop.store, code=_wrong(order.pickup_code))

    assert response.status_code == 404
    assert response.json()["code"] == "wrong_code"
    assert cache.get(f"pickup-code-failures:{shop.store.pk}:{clerk.pk}") == 1
    assert written() == before
    assert pickup_verification(order=order, user=clerk) == ""


def test_an_unknown_token_is_not_found(shop, clerk, clerk_api, order):
    response = _lookup(clerk_api, shop.store, token="x" * 43)

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_token"


def test_too_many_wrong_codes_stop_the_clerk(shop, clerk, clerk_api, order, settings):
    for _ in range(settings.PICKUP_CODE_CLERK_LIMIT):
        assert _lookup(clerk_api, shop.store, code=_wrong(order.pickup_code)).status_code == 404
    before = written()

    response = _lookup(clerk_api, shop.store, code=order.pickup_code)

    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"
    assert written() == before
    # the QR code still works
    assert _lookup(clerk_api, shop.store, token=order.pickup_token).status_code == 200


def test_a_locked_code_answers_423_but_the_qr_still_opens_it(shop, clerk, clerk_api, order):
    order.code_locked_at = order.created_at
    order.save(update_fields=["code_locked_at"])

    locked = _lookup(clerk_api, shop.store, code=order.pickup_code)
    scanned = _lookup(clerk_api, shop.store, token=order.pickup_token)

    assert locked.status_code == 423
    assert locked.json()["code"] == "code_locked"
    assert scanned.status_code == 200
    assert scanned.json()["code_locked"] is True


def test_a_collected_order_explains_when_and_by_whom(shop, clerk, clerk_api, ready_order):
    collect_in_full(ready_order, clerk)
    handover = Handover.objects.get()
    before = written()

    for data in [{"token": ready_order.pickup_token}, {"code": ready_order.pickup_code}]:
        response = _lookup(clerk_api, shop.store, **data)
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "already_collected"
        assert (body["number"], body["current"]) == (ready_order.number, "collected")
        assert body["collected_by"] == ready_order.contact_name
        assert body["handed_over_by"] == clerk.email
        assert body["collected_at"] == handover.collected_at.isoformat().replace("+00:00", "Z")
        assert ready_order.contact_name in body["detail"]
    assert written() == before
    assert pickup_verification(order=ready_order, user=clerk) == ""


def test_cancelled_and_expired_orders_are_explained(shop, clerk, clerk_api, order):
    expired = ready(place_at(shop.store, (shop.lamp, 1), slot_index=2), clerk)
    cancel_order(order=order, reason="out of paint", actor="staff", channel="store")
    expire_order(order=expired, now=timezone.now() + timedelta(days=30))

    cancelled = _lookup(clerk_api, shop.store, token=order.pickup_token).json()
    gone = _lookup(clerk_api, shop.store, code=expired.pickup_code).json()

    assert (cancelled["code"], cancelled["current"]) == ("order_cancelled", "cancelled")
    assert "out of paint" in cancelled["detail"]
    assert (gone["code"], gone["current"]) == ("order_expired", "expired")


# --- Store scoping ---------------------------------------------------------------------------


def test_a_clerk_never_reaches_another_stores_orders(shop, clerk_api, other_clerk, clerk):
    theirs = place_at(shop.other, (shop.mug, 1))
    ready(theirs, other_clerk)
    before = written()

    responses = [
        # their store's endpoints
        _lookup(clerk_api, shop.other, token=theirs.pickup_token),
        _lookup(clerk_api, shop.other, code=theirs.pickup_code),
        _status(clerk_api, theirs, "preparing"),
        _collect(clerk_api, theirs),
        # the other store's order through the clerk's own store
        _lookup(clerk_api, shop.store, token=theirs.pickup_token),
        _lookup(clerk_api, shop.store, code=theirs.pickup_code),
        clerk_api.post(
            store_url(shop.store, f"orders/{theirs.number}/status/"), {"status": "ready"}
        ),
        clerk_api.post(store_url(shop.store, f"orders/{theirs.number}/collect/"), {"lines": []}),
        # a store that does not exist
        _lookup(clerk_api, "NOPE-01", code=theirs.pickup_code),
    ]

    assert [r.status_code for r in responses] == [404] * 9
    assert [r.json()["code"] for r in responses] == [
        "not_found",
        "not_found",
        "not_found",
        "not_found",
        "unknown_token",
        "wrong_code",
        "not_found",
        "not_found",
        "not_found",
    ]
    assert written() == before


def test_a_customer_token_gets_no_counter(shop, customer_api, order):
    before = written()

    responses = [
        _lookup(customer_api, shop.store, token=order.pickup_token),
        _status(customer_api, order, "preparing"),
        _collect(customer_api, order),
    ]

    assert [r.status_code for r in responses] == [404] * 3
    assert written() == before


def test_the_counter_needs_a_token(shop, order):
    anonymous = Api()

    responses = [
        _lookup(anonymous, shop.store, token=order.pickup_token),
        _status(anonymous, order, "preparing"),
        _collect(anonymous, order),
    ]

    assert [r.status_code for r in responses] == [401] * 3


# --- Status ----------------------------------------------------------------------------------


def test_the_clerk_prepares_then_readies_an_order(shop, clerk, clerk_api, order):
    preparing = _status(clerk_api, order, "preparing")
    ready_ = _status(clerk_api, order, "ready")

    assert (preparing.status_code, ready_.status_code) == (200, 200)
    assert preparing.json()["status"] == "preparing"
    body = ready_.json()
    order.refresh_from_db()
    assert body["status"] == "ready"
    assert body["hold_until"] == order.hold_until.isoformat().replace("+00:00", "Z")
    events = list(
        OrderEvent.objects.filter(order=order).values_list("to_status", "channel", "user")
    )
    assert events[1:] == [("preparing", "store", clerk.pk), ("ready", "store", clerk.pk)]


@pytest.mark.parametrize("first, then", [(None, "ready"), ("preparing", "preparing")])
def test_an_illegal_move_is_refused(clerk, clerk_api, order, first, then):
    if first:
        mark_preparing(order=order, user=clerk)
    before = written()

    response = _status(clerk_api, order, then)

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert written() == before


@pytest.mark.parametrize("status", ["collected", "cancelled", "", None, ["ready"]])
def test_only_preparing_or_ready_can_be_asked(clerk_api, order, status):
    before = written()

    response = _status(clerk_api, order, status)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert written() == before


# --- Collect ---------------------------------------------------------------------------------


def test_collect_after_a_lookup_hands_the_order_over(shop, clerk, clerk_api, ready_order):
    _lookup(clerk_api, shop.store, code=ready_order.pickup_code)

    response = _collect(
        clerk_api,
        ready_order,
        lines=[{"sku": "LAMP-01", "quantity": 1}, {"sku": "MUG-01", "quantity": 1}],
        payment={"method": "card", "reference": "R-778"},
        headers={"HTTP_USER_AGENT": "CounterApp/2.1"},
    )

    assert response.status_code == 200, text(response)
    body = response.json()
    assert (body["status"], body["payment_status"]) == ("collected", "paid")
    assert [(ln["sku"], ln["quantity"], ln["collected_quantity"]) for ln in body["lines"]] == [
        ("LAMP-01", 2, 1),
        ("MUG-01", 1, 1),
    ]
    handover = Handover.objects.get(order=ready_order)
    assert (handover.verified_by, handover.clerk, handover.device, handover.collector) == (
        "code",
        clerk,
        "api CounterApp/2.1",
        "customer",
    )
    payment = Payment.objects.get(order=ready_order)
    assert (payment.method, payment.reference, str(payment.amount_captured)) == (
        "card",
        "R-778",
        "16.50",
    )
    # the refused lamp went back on sale; the verification is used up
    assert stock_of(shop.store, shop.lamp) == (9, 0)
    assert stock_of(shop.store, shop.mug) == (2, 0)
    assert pickup_verification(order=ready_order, user=clerk) == ""


def test_the_verification_lives_on_the_server_not_on_the_device(shop, clerk, api_as, ready_order):
    # given the clerk looked the order up on one device
    _lookup(api_as(clerk), shop.store, token=ready_order.pickup_token)

    # when they confirm the handover from another device (another token)
    response = _collect(api_as(clerk), ready_order)

    # then it is collected, verified by QR
    assert response.status_code == 200
    assert Handover.objects.get().verified_by == "qr"


def test_collect_without_a_lookup_by_this_clerk_is_refused(shop, clerk_api, ready_order):
    colleague = UserFactory()
    StaffMembershipFactory(user=colleague, store=shop.store, role=StaffMembership.Role.CLERK)
    _lookup(Api(colleague), shop.store, token=ready_order.pickup_token)
    before = written()

    response = _collect(clerk_api, ready_order)

    assert response.status_code == 400
    assert response.json()["code"] == "not_verified"
    assert written() == before


def test_collecting_an_order_that_is_not_ready_is_refused(shop, clerk_api, order):
    _lookup(clerk_api, shop.store, token=order.pickup_token)
    before = written()

    response = _collect(clerk_api, order)

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert written() == before


@pytest.mark.parametrize(
    "lines, code",
    [
        ([{"sku": "LAMP-01", "quantity": 2}], "missing_line"),
        (
            [
                {"sku": "LAMP-01", "quantity": 2},
                {"sku": "MUG-01", "quantity": 1},
                {"sku": "LAMP-01", "quantity": 0},
            ],
            "duplicate_line",
        ),
        (
            [
                {"sku": "LAMP-01", "quantity": 2},
                {"sku": "MUG-01", "quantity": 1},
                {"sku": "SOCK-01", "quantity": 1},
            ],
            "unknown_line",
        ),
        ([{"sku": "LAMP-01", "quantity": 3}, {"sku": "MUG-01", "quantity": 1}], "bad_quantity"),
        (
            [{"sku": "LAMP-01", "quantity": 0}, {"sku": "MUG-01", "quantity": 0}],
            "nothing_collected",
        ),
        ([{"sku": "LAMP-01", "quantity": -1}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([{"sku": "LAMP-01", "quantity": "2"}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([{"sku": "LAMP-01", "quantity": 1.5}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([{"sku": "LAMP-01", "quantity": True}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([{"sku": "LAMP-01", "quantity": 10**30}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([{"sku": "LAMP\x00", "quantity": 1}, {"sku": "MUG-01", "quantity": 1}], "invalid"),
        ([], "invalid"),
        ("LAMP-01", "invalid"),
    ],
    ids=[
        "missing",
        "duplicate",
        "unknown",
        "too-many",
        "nothing",
        "negative",
        "string",
        "fraction",
        "bool",
        "huge",
        "nul",
        "empty",
        "not-a-list",
    ],
)
def test_collect_needs_every_line_once_with_a_sane_quantity(
    shop, clerk_api, ready_order, lines, code
):
    _lookup(clerk_api, shop.store, token=ready_order.pickup_token)
    before = written()

    response = _collect(clerk_api, ready_order, lines=lines)

    assert response.status_code == 400, text(response)
    assert response.json()["code"] == code
    assert written() == before


@pytest.mark.parametrize(
    "data, code",
    [
        ({"payment": {"method": "card", "reference": ""}}, "reference_required"),
        ({"payment": {"method": "cheque"}}, "invalid"),
        ({"payment": None}, "invalid"),
        ({"collector": "delegate"}, "no_delegate"),
        ({"collector": "neighbour"}, "invalid"),
    ],
    ids=["card-no-reference", "cheque", "null-payment", "no-delegate", "bad-collector"],
)
def test_collect_with_bad_payment_or_collector_is_refused(shop, clerk_api, ready_order, data, code):
    _lookup(clerk_api, shop.store, token=ready_order.pickup_token)
    before = written()

    response = _collect(clerk_api, ready_order, **data)

    assert response.status_code == 400, text(response)
    assert response.json()["code"] == code
    assert written() == before


def test_an_in_store_order_collected_without_payment_is_refused(shop, clerk_api, ready_order):
    _lookup(clerk_api, shop.store, token=ready_order.pickup_token)
    before = written()

    response = clerk_api.post(
        store_url(shop.store, f"orders/{ready_order.number}/collect/"),
        {"lines": [{"sku": "LAMP-01", "quantity": 2}, {"sku": "MUG-01", "quantity": 1}]},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_payment"
    assert written() == before


def test_a_delegate_named_by_the_customer_can_collect(shop, clerk, clerk_api):
    order = ready(place_at(shop.store, (shop.mug, 1), pickup_person="Luis Pérez"), clerk)
    _lookup(clerk_api, shop.store, code=order.pickup_code)

    response = _collect(clerk_api, order, collector="delegate")

    assert response.status_code == 200
    assert Handover.objects.get().collector_name == "Luis Pérez"


# --- Same truth on the tablet ----------------------------------------------------------------


def test_the_api_and_the_tablet_show_the_same_order(shop, clerk, clerk_api, order):
    tablet = Client()
    tablet.force_login(clerk)

    api = _lookup(clerk_api, shop.store, token=order.pickup_token).json()
    page = text(tablet.get(f"/store/{shop.store.code}/orders/{order.number}/"))

    assert (api["status"], api["total"]) == ("placed", "29.00")
    assert '<span class="status status-placed">Placed</span>' in page
    assert f"<dd>€{api['total']}</dd>" in page
    for line in api["lines"]:
        row = f"<td>{line['name']}<br><small>{line['sku']}</small></td>"
        assert f'{row}<td class="num">{line["quantity"]}</td>' in page
