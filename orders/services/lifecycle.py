"""The order's states: the one place an order changes status and writes its history.

``transition`` checks the move against ``TRANSITIONS``, writes the ``OrderEvent`` and the
customer's touchpoint and queues the message the new status sends; ``note_event`` writes an
event that is not a status change. Cancelling and expiring give stock and slot back.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Channel
from customers.services import (
    record_touchpoint,
)
from orders.errors import OrderError
from orders.models import (
    TRANSITIONS,
    Actor,
    Order,
    OrderEvent,
    OrderStatus,
)
from orders.payments.operations import capture_started, void_authorisations
from orders.selectors import lock_order
from orders.services.messages import notify_transition
from stores.services import (
    consume_stock,
    release_slot,
    release_stock,
)


def note_event(
    order: Order,
    *,
    note: str,
    user=None,
    actor: str = Actor.STAFF,
    channel: str = Channel.STORE,
    at: datetime | None = None,
) -> OrderEvent:
    """An event on the order's history that is not a status change (same status twice)."""
    return OrderEvent.objects.create(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        note=note,
        created_at=at or timezone.now(),
    )


def _release_all(order: Order) -> None:
    # Same lock order as checkout (slot row, then stock rows by variant) so a cancellation
    # and a checkout on the same slot and items can never deadlock.
    release_slot(store=order.store, start=order.slot_start)
    for line in order.lines.order_by("variant_id"):
        release_stock(store_id=order.store_id, variant_id=line.variant_id, quantity=line.quantity)


def _hand_over(order: Order) -> None:
    """Collected units leave the shelf; refused ones go back (``collected_quantity`` is saved)."""
    for line in order.lines.order_by("variant_id"):
        consume_stock(
            store_id=order.store_id, variant_id=line.variant_id, quantity=line.collected_quantity
        )
        release_stock(
            store_id=order.store_id,
            variant_id=line.variant_id,
            quantity=line.quantity - line.collected_quantity,
        )


# What reaching a status does to the store's stock and pickup slot; every other move leaves
# them as they are (checkout reserves both, refunds put returned units back on the shelf).
STOCK_EFFECTS = {
    OrderStatus.CANCELLED: _release_all,
    OrderStatus.EXPIRED: _release_all,
    OrderStatus.COLLECTED: _hand_over,
}


def open_history(order: Order, *, channel: str, user, now: datetime) -> OrderEvent:
    """A new order's first event (returned), the customer's "order placed" touchpoint and, for
    an order placed without a card, its confirmation (an online one is confirmed once
    authorised)."""
    event = OrderEvent.objects.create(
        order=order,
        from_status="",
        to_status=order.status,
        actor=Actor.STAFF if channel == Channel.STORE else Actor.CUSTOMER,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        created_at=now,
    )
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        kind="order_placed",
        payload={"order": order.number, "store": order.store.code, "total": str(order.total)},
    )
    notify_transition(order, now=now)
    return event


def check_move(order: Order, to: str) -> None:
    """Refuse (``illegal_transition``) a move the state machine does not allow."""
    if to not in TRANSITIONS[order.status]:
        raise OrderError(
            "illegal_transition",
            _("Order %(number)s is %(status)s and cannot become %(to)s.")
            % {
                "number": order.number,
                "status": OrderStatus(order.status).label,
                "to": OrderStatus(to).label,
            },
            current=order.status,
        )


def transition(
    *,
    order: Order,
    to: str,
    actor: str,
    channel: str,
    user=None,
    note: str = "",
    now: datetime | None = None,
    extra_fields=(),
) -> Order:
    """The one place an order changes status. ``order`` must be locked by the caller."""
    check_move(order, to)
    previous = order.status
    order.status = to
    order.save(update_fields=["status", "updated_at", *extra_fields])
    OrderEvent.objects.create(
        order=order,
        from_status=previous,
        to_status=to,
        actor=actor,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        note=note[:255],
        created_at=now or timezone.now(),
    )
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        # Placing was recorded at checkout: a card-paid order going ahead is its confirmation.
        kind=(
            "order_confirmed"
            if (previous, to) == (OrderStatus.PENDING_PAYMENT, OrderStatus.PLACED)
            else f"order_{to}"
        ),
        payload={"order": order.number, "from": previous},
    )
    effect = STOCK_EFFECTS.get(to)
    if effect is not None:
        effect(order)
    notify_transition(order, now=now or timezone.now())
    return order


@transaction.atomic
def mark_preparing(*, order: Order, user, channel: str = Channel.STORE) -> Order:
    order = lock_order(order)
    return transition(
        order=order, to=OrderStatus.PREPARING, actor=Actor.STAFF, channel=channel, user=user
    )


@transaction.atomic
def mark_ready(
    *, order: Order, user, channel: str = Channel.STORE, now: datetime | None = None
) -> Order:
    now = now or timezone.now()
    order = lock_order(order)
    # The hold runs from the later of "ready" and the start of the booked slot.
    order.hold_until = max(now, order.slot_start) + timedelta(hours=order.store.hold_hours)
    return transition(
        order=order,
        to=OrderStatus.READY,
        actor=Actor.STAFF,
        channel=channel,
        user=user,
        now=now,
        extra_fields=["hold_until"],
    )


def advance_order(*, order: Order, to: str, user, channel: str = Channel.STORE) -> Order:
    """Staff move an order along at the store: start preparing it, or mark it ready."""
    if to == OrderStatus.PREPARING:
        return mark_preparing(order=order, user=user, channel=channel)
    if to == OrderStatus.READY:
        return mark_ready(order=order, user=user, channel=channel)
    raise ValueError(f"staff do not move orders to {to!r}")


def cancel_locked(*, order: Order, reason: str, actor: str, channel: str, user) -> Order:
    if capture_started(order):
        raise OrderError(
            "payment_busy",
            _("The card is being charged for this order: it can only be collected now."),
            current=order.status,
        )
    order.cancel_reason = reason[:255]
    transition(
        order=order,
        to=OrderStatus.CANCELLED,
        actor=actor,
        channel=channel,
        user=user,
        note=reason,
        extra_fields=["cancel_reason"],
    )
    return order


def cancel_order(*, order: Order, reason: str, actor: str, channel: str, user=None) -> Order:
    """Cancel and give stock and slot back; an online order's card hold is released once
    that has committed."""
    reason = (reason or "").strip()
    if not reason:
        raise OrderError("reason_required", _("Please give a reason for cancelling."), status=400)
    with transaction.atomic():
        order = lock_order(order)
        order = cancel_locked(order=order, reason=reason, actor=actor, channel=channel, user=user)
    void_authorisations(order)
    return order


def cancel_order_by_customer(*, order: Order, channel: str, reason: str = "", user=None) -> Order:
    """The customer changes their mind: allowed only until the store starts preparing."""
    with transaction.atomic():
        order = _cancel_by_customer(order=order, channel=channel, reason=reason, user=user)
    void_authorisations(order)
    return order


def _cancel_by_customer(*, order: Order, channel: str, reason: str, user) -> Order:
    order = lock_order(order)
    if order.status != OrderStatus.PLACED:
        raise OrderError(
            "cancel_not_allowed",
            _(
                "Order %(number)s is %(status)s and can no longer be cancelled here. "
                "Please contact the store."
            )
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )
    reason = (reason or "").strip() or "cancelled by the customer"
    return cancel_locked(
        order=order, reason=reason, actor=Actor.CUSTOMER, channel=channel, user=user
    )


ARRIVAL_STATES = frozenset({OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY})


@transaction.atomic
def mark_arrived(*, order: Order, channel: str, user=None, now: datetime | None = None) -> Order:
    """Check the customer in ("I'm here"); a second check-in keeps the first time.

    Records an event on the order (same status before and after, note "customer arrived")
    and a ``customer_arrived`` touchpoint; the tablet shows arrived orders first.
    """
    now = now or timezone.now()
    order = lock_order(order)
    if order.status not in ARRIVAL_STATES:
        raise OrderError(
            "arrival_not_allowed",
            _("Order %(number)s is %(status)s: there is nothing to pick up.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )
    if order.arrived_at is not None:
        return order
    if not order.check_in_open(now):
        raise OrderError(
            "too_early",
            _(
                "You can tell the store you are here once your order is ready or your pickup "
                "time has come."
            ),
            current=order.status,
        )
    order.arrived_at = now
    order.save(update_fields=["arrived_at", "updated_at"])
    note_event(
        order,
        note="customer arrived",
        actor=Actor.CUSTOMER,
        channel=channel,
        user=user,
        at=order.arrived_at,
    )
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        kind="customer_arrived",
        payload={"order": order.number, "store": order.store.code, "status": order.status},
    )
    return order


def expire_order(*, order: Order, now: datetime | None = None) -> Order | None:
    """A ready order past its hold becomes a no-show; its stock goes back on the shelf and,
    once that has committed, its card hold is released.

    Safe to run twice: an order that is no longer ready-and-overdue is left alone, and so is
    one whose card is being charged at the counter (the collection wins).
    """
    with transaction.atomic():
        expired = _expire(order=order, now=now or timezone.now())
    if expired is not None:
        void_authorisations(expired)
    return expired


def _expire(*, order: Order, now: datetime) -> Order | None:
    order = lock_order(order)
    if order.status != OrderStatus.READY or order.hold_until is None or order.hold_until > now:
        return None
    if capture_started(order):
        return None
    transition(
        order=order,
        to=OrderStatus.EXPIRED,
        actor=Actor.SYSTEM,
        channel=Channel.STORE,
        note="hold expired",
        now=now,
    )
    return order
