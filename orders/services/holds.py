"""A ready order waiting at the counter: reminders before the slot and before the hold ends,
extending the hold, sending the ready message again.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import Notification, NotificationKind
from customers.selectors import message_keys, messages_about
from customers.services import (
    send_again,
)
from orders.errors import OrderError
from orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
)
from orders.selectors import (
    READY_RESENDS,
    lock_order,
    ready_resends_left,
)
from orders.services.lifecycle import note_event
from orders.services.messages import hold_key, notify_order, pickup_extra
from stores.models import Store

# Each store sets how long a ready order is held (``hold_hours``) and when its customer is
# reminded: ``reminder_minutes`` before the pickup slot starts and ``hold_reminder_hours``
# before the hold ends (0 turns a reminder off). Staff may extend one order's hold or send its
# ready message again.
HOLD_EXTENSION_HOURS = (1, 168)


def send_reminders(*, now: datetime | None = None) -> dict:
    """Queue the due reminders of ready orders: one ``pickup_reminder`` once the slot is less
    than the store's ``reminder_minutes`` away (and has not started), one ``hold_expiring``
    per hold end once it is less than ``hold_reminder_hours`` away. Safe to run twice:
    reminders already queued are skipped. Four queries, plus the inserts of new messages.

    Each store's windows are turned into constant intervals here (one clause per store) rather
    than multiplied in SQL: SQLite, the demo's engine, cannot multiply an interval."""
    now = now or timezone.now()
    windows = list(Store.objects.values_list("pk", "reminder_minutes", "hold_reminder_hours"))
    # An order that became ready inside the window was just told so: no reminder on top.
    ready_at = (
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=OrderStatus.READY)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    slot_due = Q(pk__in=[])
    hold_due = Q(pk__in=[])
    for store_id, reminder_minutes, hold_reminder_hours in windows:
        if reminder_minutes > 0:
            window = timedelta(minutes=reminder_minutes)
            slot_due |= Q(
                store_id=store_id,
                slot_start__lte=now + window,
                ready_at__lt=F("slot_start") - window,
            )
        if hold_reminder_hours > 0:
            hold_due |= Q(
                store_id=store_id, hold_until__lte=now + timedelta(hours=hold_reminder_hours)
            )
    ready = Order.objects.filter(status=OrderStatus.READY).select_related("store", "customer")
    pickups = list(ready.annotate(ready_at=Subquery(ready_at)).filter(slot_due, slot_start__gt=now))
    holds = list(ready.filter(hold_due, hold_until__gt=now))
    numbers = {order.number for order in pickups + holds}
    queued = message_keys(
        order_numbers=numbers, kinds=[NotificationKind.REMINDER, NotificationKind.HOLD_EXPIRING]
    )
    due = [(order, NotificationKind.REMINDER, "") for order in pickups]
    due += [(order, NotificationKind.HOLD_EXPIRING, hold_key(order.hold_until)) for order in holds]
    due = [
        (order, kind, key)
        for order, kind, key in due
        if f"{order.number}:{kind}{':' + key if key else ''}" not in queued
    ]
    sent = {NotificationKind.REMINDER.value: 0, NotificationKind.HOLD_EXPIRING.value: 0}
    if due:
        with transaction.atomic():
            for order, kind, key in due:
                notify_order(order, kind, key=key, **pickup_extra(order))
                sent[kind] += 1
    return sent


def _check_ready(order: Order, message: str) -> None:
    """Refuse (409) unless ``order`` is ready; ``message`` gets its number and status."""
    if order.status != OrderStatus.READY:
        raise OrderError(
            "not_ready",
            message % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )


@transaction.atomic
def extend_hold(*, order: Order, hours: int, user, now: datetime | None = None) -> Order:
    """Staff: keep a ready order ``hours`` longer (1–168), counted from the current hold end,
    or from now if that has already passed."""
    low, high = HOLD_EXTENSION_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not low <= hours <= high:
        raise OrderError(
            "invalid_hours",
            _("A hold can be extended by %(low)d to %(high)d hours.") % {"low": low, "high": high},
            status=400,
        )
    now = now or timezone.now()
    order = lock_order(order)
    _check_ready(order, _("Order %(number)s is %(status)s: only a ready order's hold can change."))
    order.hold_until = max(order.hold_until or now, now) + timedelta(hours=hours)
    order.save(update_fields=["hold_until", "updated_at"])
    note_event(order, note=f"hold extended by {hours} h", user=user, at=now)
    return order


@transaction.atomic
def resend_ready_message(*, order: Order, user) -> Order:
    """Staff: send the "ready for pickup" message again (the customer lost it), at most
    ``READY_RESENDS`` times per order."""
    order = lock_order(order)
    _check_ready(
        order,
        _("Order %(number)s is %(status)s: the ready message goes only to a ready order."),
    )
    messages = list(messages_about(customer=order.customer, order_number=order.number))
    if not ready_resends_left(messages):
        raise OrderError(
            "resend_limit",
            ngettext(
                "The ready message was already sent again %(count)d time: no more resends.",
                "The ready message was already sent again %(count)d times: no more resends.",
                READY_RESENDS,
            )
            % {"count": READY_RESENDS},
            current=order.status,
        )
    sent = sum(1 for message in messages if message.kind == NotificationKind.READY)
    notify_order(order, NotificationKind.READY, key=f"again-{sent}", **pickup_extra(order))
    note_event(order, note="ready message sent again", user=user)
    return order


@transaction.atomic
def send_order_message_again(*, order: Order, message_id: int, user) -> Notification:
    """Staff: try a failed message about ``order`` again. Only that order's messages to its
    customer are found (404 for any other)."""
    message = (
        messages_about(customer=order.customer, order_number=order.number)
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise OrderError("unknown_message", _("No such message for this order."), status=404)
    if not send_again(notification=message):
        raise OrderError(
            "message_not_failed",
            _("Only a failed message can be sent again."),
        )
    note_event(order, note="message sent again", user=user)
    message.refresh_from_db()
    return message
