"""The order state machine (DESIGN §3) and collection at the counter, through the services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Touchpoint
from orders.errors import OrderError
from orders.models import (
    TRANSITIONS,
    Actor,
    Handover,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from orders.services import (
    advance_order,
    cancel_order,
    cancel_order_by_customer,
    cancel_unpaid_order,
    collect_order,
    confirm_online_order,
    expire_order,
    mark_preparing,
    mark_ready,
    pay_at_counter_instead,
)
from orders.tasks import expire_holds
from stores.models import SlotBooking, StockLevel
from tests.conftest import NOW, db_state
from tests.support.factories import StockLevelFactory, VariantFactory

S = OrderStatus

# Every move drawn in DESIGN §3; anything else must be refused.
LEGAL = {
    (S.PENDING_PAYMENT, S.PLACED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.PLACED, S.PREPARING),
    (S.PLACED, S.CANCELLED),
    (S.PREPARING, S.READY),
    (S.PREPARING, S.CANCELLED),
    (S.READY, S.COLLECTED),
    (S.READY, S.EXPIRED),
}


def _collect(order, user, **kwargs):
    kwargs.setdefault("quantities", {})
    kwargs.setdefault("payment_method", "cash")
    kwargs.setdefault("reference", "")
    kwargs.setdefault("collector", "customer")
    kwargs.setdefault("verified_by", "qr")
    kwargs.setdefault("device", "tablet-1")
    kwargs.setdefault("now", NOW + timedelta(hours=2))
    return collect_order(order=order, user=user, **kwargs)


def _cancel(order, user=None):
    return cancel_order(order=order, reason="Changed my mind", actor=Actor.CUSTOMER, channel="web")


# The service call that attempts each target status.
ATTEMPTS = {
    S.PREPARING: lambda order, clerk: mark_preparing(order=order, user=clerk),
    S.READY: lambda order, clerk: mark_ready(order=order, user=clerk, now=NOW),
    S.CANCELLED: _cancel,
    S.COLLECTED: lambda order, clerk: _collect(order, clerk),
}


@pytest.fixture
def order_in(place, variant, stock, clerk):
    """An order for 2 units of ``variant`` driven through the services to ``status``."""

    def _order_in(status, **kwargs):
        order = place((variant, 2), **kwargs)
        if status == S.PENDING_PAYMENT:
            # No service creates online orders yet (payments are a later issue).
            Order.objects.filter(pk=order.pk).update(status=S.PENDING_PAYMENT)
        if status in (S.PREPARING, S.READY, S.COLLECTED, S.EXPIRED):
            mark_preparing(order=order, user=clerk)
        if status in (S.READY, S.COLLECTED, S.EXPIRED):
            mark_ready(order=order, user=clerk, now=NOW)
        if status == S.COLLECTED:
            _collect(order, clerk)
        if status == S.EXPIRED:
            order.refresh_from_db()
            assert expire_order(order=order, now=order.hold_until) is not None
        if status == S.CANCELLED:
            _cancel(order)
        order.refresh_from_db()
        assert order.status == status
        return order

    return _order_in


def _stock(variant):
    level = StockLevel.objects.get(variant=variant)
    return level.on_hand, level.reserved


# --- Legal moves -----------------------------------------------------------------------------


def test_mark_preparing_moves_a_placed_order(order_in, clerk):
    order = order_in(S.PLACED)

    mark_preparing(order=order, user=clerk)

    order.refresh_from_db()
    assert order.status == S.PREPARING
    event = order.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor, event.channel, event.user_id) == (
        S.PLACED,
        S.PREPARING,
        Actor.STAFF,
        "store",
        clerk.pk,
    )
    touchpoint = Touchpoint.objects.filter(customer=order.customer).first()
    assert (touchpoint.kind, touchpoint.channel, touchpoint.payload) == (
        "order_preparing",
        "store",
        {"order": order.number, "from": "placed"},
    )


def test_mark_ready_holds_from_the_slot_start_when_ready_early(order_in, clerk):
    order = order_in(S.PREPARING)

    mark_ready(order=order, user=clerk, now=NOW)

    order.refresh_from_db()
    assert order.status == S.READY
    assert order.slot_start > NOW
    assert order.hold_until == order.slot_start + timedelta(hours=48)
    event = order.events.latest("pk")
    assert (event.from_status, event.to_status, event.created_at) == (S.PREPARING, S.READY, NOW)


def test_mark_ready_holds_from_now_when_ready_late(order_in, clerk):
    order = order_in(S.PREPARING)
    late = order.slot_start + timedelta(hours=3)

    mark_ready(order=order, user=clerk, now=late)

    order.refresh_from_db()
    assert order.hold_until == late + timedelta(hours=48)


@pytest.mark.parametrize("status", [S.PENDING_PAYMENT, S.PLACED, S.PREPARING])
def test_cancel_releases_the_stock_and_the_slot_place(order_in, variant, status):
    # given an open order holding 2 units and one place in its slot
    order = order_in(status)
    assert _stock(variant) == (10, 2)
    assert SlotBooking.objects.get().booked == 1

    # when it is cancelled
    cancel_order(order=order, reason="  Changed my mind ", actor=Actor.CUSTOMER, channel="web")

    # then the units and the slot place are free again, and the move is recorded
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.cancel_reason == "Changed my mind"
    assert _stock(variant) == (10, 0)
    assert SlotBooking.objects.get().booked == 0
    event = order.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor, event.note) == (
        status,
        S.CANCELLED,
        Actor.CUSTOMER,
        "Changed my mind",
    )
    assert Touchpoint.objects.filter(customer=order.customer, kind="order_cancelled").count() == 1


def test_cancel_needs_a_reason(order_in, snapshot):
    order = order_in(S.PLACED)
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        cancel_order(order=order, reason="   ", actor=Actor.CUSTOMER, channel="web")

    assert (exc.value.code, exc.value.status) == ("reason_required", 400)
    assert snapshot() == before


def test_expire_order_past_its_hold_puts_the_stock_back(order_in, variant):
    # given a ready order whose hold has passed
    order = order_in(S.READY)
    overdue = order.hold_until + timedelta(minutes=1)

    # when it expires
    assert expire_order(order=order, now=overdue) is not None

    # then it is a no-show and its units are available again
    order.refresh_from_db()
    assert order.status == S.EXPIRED
    assert _stock(variant) == (10, 0)
    event = order.events.latest("pk")
    assert (event.from_status, event.to_status, event.actor, event.note, event.created_at) == (
        S.READY,
        S.EXPIRED,
        Actor.SYSTEM,
        "hold expired",
        overdue,
    )


def test_expire_order_twice_does_nothing_the_second_time(order_in, snapshot):
    order = order_in(S.READY)
    overdue = order.hold_until + timedelta(minutes=1)
    expire_order(order=order, now=overdue)
    before = snapshot()

    assert expire_order(order=order, now=overdue) is None

    assert snapshot() == before


def test_expire_order_before_the_hold_ends_does_nothing(order_in, snapshot):
    order = order_in(S.READY)
    before = snapshot()

    assert expire_order(order=order, now=order.hold_until - timedelta(seconds=1)) is None

    assert snapshot() == before


@pytest.mark.parametrize("status", [S.PLACED, S.PREPARING, S.COLLECTED, S.CANCELLED])
def test_expire_order_leaves_orders_that_are_not_ready_alone(order_in, snapshot, status):
    order = order_in(status)
    before = snapshot()

    assert expire_order(order=order, now=NOW + timedelta(days=30)) is None

    assert snapshot() == before


def test_expire_holds_task_expires_overdue_ready_orders_once(order_in, clerk, variant):
    # given a ready order whose hold ended long ago (it is computed from NOW, in the past),
    # a ready order still inside its hold and a placed order
    overdue = order_in(S.READY)
    waiting = order_in(S.PREPARING)
    mark_ready(order=waiting, user=clerk, now=timezone.now())
    placed = order_in(S.PLACED)
    assert _stock(variant) == (10, 6)

    # when the periodic task runs (called directly, as the worker would)
    assert expire_holds() == 1

    # then only the overdue order expired and its units are back
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: S.EXPIRED, waiting.pk: S.READY, placed.pk: S.PLACED}
    assert _stock(variant) == (10, 4)

    # and running it again changes nothing
    before = db_state()
    assert expire_holds() == 0
    assert db_state() == before


# --- Illegal moves ---------------------------------------------------------------------------


ILLEGAL = [
    (status, target) for status in S.values for target in ATTEMPTS if (status, target) not in LEGAL
]


@pytest.mark.parametrize(("status", "target"), ILLEGAL, ids=[f"{s}->{t}" for s, t in ILLEGAL])
def test_illegal_transition_is_refused_and_writes_nothing(
    order_in, clerk, snapshot, status, target
):
    # given an order in ``status``
    order = order_in(status)
    before = snapshot()

    # when a service tries to move it to a state not drawn in DESIGN §3
    with pytest.raises(OrderError) as exc:
        ATTEMPTS[target](order, clerk)

    # then it is a 409 illegal_transition and nothing changed
    assert exc.value.code == "illegal_transition"
    assert exc.value.status == 409
    assert exc.value.extra == {"current": status}
    assert snapshot() == before


def test_the_transition_table_holds_exactly_the_moves_drawn_in_the_design():
    # LEGAL is written out above: a move added to (or dropped from) the table fails here.
    assert set(TRANSITIONS) == set(S.values)
    table = {(origin, target) for origin, targets in TRANSITIONS.items() for target in targets}
    assert table == LEGAL


# Every public service that can move an order to each status. Nothing moves an order back to
# pending_payment (checkout creates it there; the table above has no move into it).
LATER = NOW + timedelta(days=30)
MOVERS = {
    S.PLACED: {
        "confirm_online_order": lambda order, clerk: confirm_online_order(order=order),
        "pay_at_counter_instead": lambda order, clerk: pay_at_counter_instead(
            order=order, channel="web"
        ),
    },
    S.PREPARING: {
        "mark_preparing": lambda order, clerk: mark_preparing(order=order, user=clerk),
        "advance_order": lambda order, clerk: advance_order(
            order=order, to=S.PREPARING, user=clerk
        ),
    },
    S.READY: {
        "mark_ready": lambda order, clerk: mark_ready(order=order, user=clerk, now=NOW),
        "advance_order": lambda order, clerk: advance_order(order=order, to=S.READY, user=clerk),
    },
    S.CANCELLED: {
        "cancel_order": lambda order, clerk: cancel_order(
            order=order, reason="store", actor=Actor.STAFF, channel="store", user=clerk
        ),
        "cancel_order_by_customer": lambda order, clerk: cancel_order_by_customer(
            order=order, channel="web"
        ),
        "cancel_unpaid_order": lambda order, clerk: cancel_unpaid_order(order=order, now=LATER),
    },
    S.COLLECTED: {"collect_order": lambda order, clerk: _collect(order, clerk)},
    S.EXPIRED: {"expire_order": lambda order, clerk: expire_order(order=order, now=LATER)},
}
EVERY_ILLEGAL = [
    (status, target)
    for status in S.values
    for target in S.values
    if (status, target) not in LEGAL and target != S.PENDING_PAYMENT
]


def test_every_status_but_pending_payment_has_the_services_that_reach_it():
    assert set(MOVERS) == set(S.values) - {S.PENDING_PAYMENT}
    assert len(EVERY_ILLEGAL) == 7 * 6 - len(LEGAL)


@pytest.mark.parametrize(
    ("status", "target"), EVERY_ILLEGAL, ids=[f"{s}->{t}" for s, t in EVERY_ILLEGAL]
)
def test_no_service_makes_an_illegal_move(order_in, clerk, variant, snapshot, status, target):
    # given an order in ``status``
    order = order_in(status)
    stock = _stock(variant)
    events = OrderEvent.objects.filter(order=order).count()
    before = snapshot()

    # when every service that can lead to ``target`` is tried on it
    for name, move in MOVERS[target].items():
        try:
            move(order, clerk)
        except OrderError as error:
            # then each one refuses with the domain error (the state machine's, or its own
            # earlier rule saying the same thing) ...
            assert (error.code, error.status, error.extra) in (
                ("illegal_transition", 409, {"current": status}),
                ("cancel_not_allowed", 409, {"current": status}),
            ), name
        # ... or leaves the order alone (the idempotent jobs), and nothing at all was written
        assert snapshot() == before, f"{name} moved an order from {status} to {target}"

    order.refresh_from_db()
    assert order.status == status
    assert OrderEvent.objects.filter(order=order).count() == events
    assert _stock(variant) == stock


def test_the_illegal_table_covers_every_state_and_attempted_target():
    # 7 states x 4 targets reachable through services, minus the 6 legal pairs among them
    # (pending_payment -> placed has no service yet: it comes with online payments).
    assert len(ILLEGAL) == 7 * 4 - 6
    assert (S.READY, S.CANCELLED) in ILLEGAL
    assert (S.PLACED, S.READY) in ILLEGAL


# --- Collection at the counter ----------------------------------------------------------------


def test_full_collection_takes_the_units_off_the_shelf_and_records_payment(
    order_in, clerk, variant
):
    # given a ready order for 2 units paid at the counter
    order = order_in(S.READY)
    when = NOW + timedelta(hours=2)

    # when the clerk hands everything over for cash
    collect_order(
        order=order,
        user=clerk,
        quantities={variant.sku: 2},
        payment_method="cash",
        reference="",
        collector="customer",
        verified_by="qr",
        device="tablet-7",
        now=when,
    )

    # then the stock leaves the store, the order is paid and collected, with proof
    assert _stock(variant) == (8, 0)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (S.COLLECTED, PaymentStatus.PAID)
    assert list(order.lines.values_list("quantity", "collected_quantity")) == [(2, 2)]
    payment = Payment.objects.get(order=order)
    assert (payment.provider, payment.method, payment.reference, payment.currency) == (
        "in_store",
        "cash",
        "",
        "EUR",
    )
    assert (payment.amount_authorised, payment.amount_captured, payment.status) == (
        Decimal("20.00"),
        Decimal("20.00"),
        PaymentStatus.PAID,
    )
    handover = Handover.objects.get(order=order)
    assert (
        handover.collector,
        handover.collector_name,
        handover.verified_by,
        handover.clerk_id,
        handover.device,
        handover.collected_at,
    ) == ("customer", order.contact_name, "qr", clerk.pk, "tablet-7", when)
    event = order.events.latest("pk")
    assert (event.from_status, event.to_status, event.user_id, event.note) == (
        S.READY,
        S.COLLECTED,
        clerk.pk,
        "",
    )


def test_partial_collection_puts_refused_units_back_on_sale(place, store, clerk):
    # given a ready order for 2 x shirt (10.00) and 1 x cap (5.50)
    shirt, cap = VariantFactory(), VariantFactory(price=Decimal("5.50"))
    StockLevelFactory(store=store, variant=shirt, on_hand=10)
    StockLevelFactory(store=store, variant=cap, on_hand=3)
    order = place((shirt, 2), (cap, 1))
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk, now=NOW)

    # when the customer takes one shirt and refuses the cap
    _collect(order, clerk, quantities={shirt.sku: 1, cap.sku: 0})

    # then one shirt leaves, the other shirt and the cap are available again
    assert _stock(shirt) == (9, 0)
    assert _stock(cap) == (3, 0)
    collected = dict(order.lines.values_list("sku", "collected_quantity"))
    assert collected == {shirt.sku: 1, cap.sku: 0}
    payment = Payment.objects.get(order=order)
    assert payment.amount_captured == Decimal("10.00")
    assert payment.amount_authorised == Decimal("10.00")
    order.refresh_from_db()
    assert order.status == S.COLLECTED
    assert order.total == Decimal("25.50")
    assert order.events.latest("pk").note == f"refused: {shirt.sku}, {cap.sku}"


def test_missing_sku_in_quantities_means_the_whole_line(order_in, clerk, variant):
    order = order_in(S.READY)

    _collect(order, clerk, quantities={})

    assert _stock(variant) == (8, 0)
    assert Payment.objects.get(order=order).amount_captured == Decimal("20.00")


def test_delegate_collection_records_the_named_person(order_in, clerk):
    order = order_in(S.READY, pickup_person="  Luis García ")

    _collect(order, clerk, collector="delegate", verified_by="code")

    handover = Handover.objects.get(order=order)
    assert (handover.collector, handover.collector_name, handover.verified_by) == (
        "delegate",
        "Luis García",
        "code",
    )


def test_card_payment_records_the_terminal_reference(order_in, clerk):
    order = order_in(S.READY)

    _collect(order, clerk, payment_method="card", reference="  RC-000123  ")

    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.reference) == ("card", "RC-000123")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        pytest.param(
            {"payment_method": "card", "reference": "  "}, "reference_required", id="card-no-ref"
        ),
        pytest.param({"payment_method": "bitcoin"}, "bad_payment", id="bad-method"),
        pytest.param({"collector": "delegate"}, "no_delegate", id="no-delegate-named"),
        pytest.param({"collector": "neighbour"}, "bad_collector", id="bad-collector"),
        pytest.param({"verified_by": ""}, "not_verified", id="not-verified"),
        pytest.param({"quantities": {"SKU-NOPE": 1}}, "unknown_line", id="unknown-sku"),
        pytest.param({"quantities": "ZERO"}, "nothing_collected", id="all-zero"),
        pytest.param({"quantities": {"SKU": 3}}, "bad_quantity", id="more-than-ordered"),
        pytest.param({"quantities": {"SKU": -1}}, "bad_quantity", id="negative"),
        pytest.param({"quantities": {"SKU": "1"}}, "bad_quantity", id="string"),
        pytest.param({"quantities": {"SKU": 1.5}}, "bad_quantity", id="fraction"),
        pytest.param({"quantities": {"SKU": True}}, "bad_quantity", id="bool"),
        pytest.param({"quantities": {"SKU": None}}, "bad_quantity", id="none"),
    ],
)
def test_refused_collection_writes_nothing(order_in, clerk, variant, snapshot, kwargs, code):
    # given a ready order for 2 units
    order = order_in(S.READY)
    kwargs = dict(kwargs)
    if kwargs.get("quantities") == "ZERO":
        kwargs["quantities"] = {variant.sku: 0}
    elif "quantities" in kwargs and "SKU" in kwargs["quantities"]:
        kwargs["quantities"] = {variant.sku: kwargs["quantities"]["SKU"]}
    before = snapshot()

    # when the counter submits a handover the rules refuse
    with pytest.raises(OrderError) as exc:
        _collect(order, clerk, **kwargs)

    # then it says why and the order, stock, payment and proof are untouched
    assert (exc.value.code, exc.value.status) == (code, 400)
    assert snapshot() == before
    assert Payment.objects.count() == Handover.objects.count() == 0
    assert OrderEvent.objects.filter(order=order, to_status=S.COLLECTED).count() == 0
