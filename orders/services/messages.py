"""What the customer is told about an order, handed to ``customers.services.notify``
(which applies the contact policy and delivers it, DESIGN §6).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from customers.models import NotificationKind
from customers.services import (
    notify,
    nps_token,
    withdraw_messages,
)
from orders.links import order_link
from orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
)
from orders.selectors import (
    money_summary,
    paid_payment,
)

# The message each new status sends.
_STATUS_MESSAGES = {
    OrderStatus.PLACED: NotificationKind.CONFIRMED,
    OrderStatus.READY: NotificationKind.READY,
    OrderStatus.CANCELLED: NotificationKind.CANCELLED,
    OrderStatus.EXPIRED: NotificationKind.EXPIRED,
}


def _message_context(order: Order, **extra) -> dict:
    """What a message about ``order`` shows (JSON: times as ISO strings)."""
    store = order.store
    return {
        "order_number": order.number,
        # Signed: opens this order's page on any device, without logging in (orders/links.py).
        "order_url": order_link(order),
        "store_name": store.name,
        "store_address": f"{store.address}, {store.city}",
        "timezone": store.timezone,
        "slot_start": order.slot_start.isoformat(),
        "slot_end": order.slot_end.isoformat(),
        "hold_until": order.hold_until.isoformat() if order.hold_until else "",
        "total": str(order.total),
        "currency": order.currency,
        "paid_online": order.payment_method == PaymentMethod.ONLINE,
        "pickup_person": order.pickup_person,
        **extra,
    }


def notify_order(order: Order, kind: str, *, key: str = "", send_at=None, **extra) -> None:
    """Queue a message about ``order`` (in the caller's transaction); one per (order, kind)
    unless ``key`` tells two apart (each refund, a resent ready message)."""
    notify(
        customer=order.customer,
        kind=kind,
        context=_message_context(order, **extra),
        dedupe_key=f"{order.number}:{kind}{':' + key if key else ''}",
        order_number=order.number,
        origin=order.channel,
        send_at=send_at,
        language=order.language,
    )


def _receipt(order: Order, *, collected_at: datetime) -> dict:
    """What the receipt at handover shows: each line as ordered and handed over, how it was
    paid, and the money (``selectors.money_summary``), read after the collection's writes."""
    money = money_summary(order)
    taken = paid_payment(order)
    if taken is None or taken.provider == Payment.Provider.STRIPE:
        paid_by = "online"
    else:
        paid_by = taken.method or Payment.Method.CARD
    lines = [
        {
            "name": line.name,
            "sku": line.sku,
            "quantity": line.quantity,
            "collected": line.collected_quantity or 0,
            "refused": line.quantity - (line.collected_quantity or 0),
            "unit_price": str(line.unit_price),
            "total": str(line.collected_total),
        }
        for line in order.lines.all()
    ]
    amounts = {
        "ordered": str(money.ordered),
        "collected": str(money.collected if money.collected is not None else Decimal("0.00")),
        "charged": str(money.charged),
        "refunded": str(money.refunded),
        "net": str(money.net),
        "status": money.status,
    }
    return {
        "lines": lines,
        "amounts": amounts,
        "paid_by": paid_by,
        "collected_at": collected_at.isoformat(),
    }


def notify_transition(order: Order, *, now: datetime) -> None:
    if order.status == OrderStatus.READY:
        notify_order(
            order,
            NotificationKind.READY,
            pickup_code=order.pickup_code,
            pickup_token=order.pickup_token,
        )
    elif order.status == OrderStatus.CANCELLED:
        notify_order(order, NotificationKind.CANCELLED, reason=order.cancel_reason)
    elif order.status == OrderStatus.COLLECTED:
        notify_order(order, NotificationKind.RECEIPT, **_receipt(order, collected_at=now))
        notify_order(
            order,
            NotificationKind.NPS,
            send_at=now + timedelta(minutes=settings.NPS_DELAY_MINUTES),
            survey_url=f"{settings.SITE_URL}/survey/{nps_token(order_number=order.number)}/",
        )
    elif order.status in _STATUS_MESSAGES:
        notify_order(order, _STATUS_MESSAGES[order.status])
    if order.status in (OrderStatus.COLLECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        # Reminders queued a moment ago (or waiting for quiet hours) no longer apply.
        withdraw_messages(
            order_number=order.number,
            kinds=[NotificationKind.REMINDER, NotificationKind.HOLD_EXPIRING],
            reason=f"order {order.status}",
        )


def hold_key(hold_until: datetime) -> str:
    """The hold reminder's dedupe key part: an extended hold may be reminded of again."""
    return hold_until.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def pickup_extra(order: Order) -> dict:
    return {"pickup_code": order.pickup_code, "pickup_token": order.pickup_token}
