from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services import (
    cancel_unpaid_order,
    expire_order,
    release_lapsing_authorisations,
    settle_stale_payment_operations,
    void_extra_holds,
    void_leftover_authorisations,
)
from orders.services import (
    send_reminders as queue_reminders,
)


@shared_task(acks_late=True)
def expire_holds() -> int:
    """Ready orders whose hold has passed become no-shows (idempotent, safe to overlap)."""
    now = timezone.now()
    expired = 0
    for order in Order.objects.filter(status=OrderStatus.READY, hold_until__lte=now).only("pk"):
        if expire_order(order=order, now=now) is not None:
            expired += 1
    return expired


@shared_task(acks_late=True)
def expire_unpaid_orders() -> int:
    """Online orders not paid within ONLINE_PAYMENT_TIMEOUT_MINUTES are cancelled, their stock
    and slot released and any card hold cancelled; card holds left open on cancelled orders
    are retried, and so are card holds an order holds besides the one it uses. Idempotent,
    safe to overlap."""
    now = timezone.now()
    deadline = now - timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES)
    cancelled = 0
    pending = Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, created_at__lte=deadline)
    for order in pending.only("pk"):
        if cancel_unpaid_order(order=order, now=now) is not None:
            cancelled += 1
    void_leftover_authorisations()
    void_extra_holds()
    return cancelled


@shared_task(acks_late=True)
def settle_card_payments() -> dict[str, int]:
    """Card holds near the networks' time limit are released (the order is then paid at the
    counter), and provider calls whose answer was lost are settled. Idempotent."""
    return {
        "released": release_lapsing_authorisations(),
        "settled": settle_stale_payment_operations(),
    }


@shared_task(acks_late=True)
def send_reminders() -> dict[str, int]:
    """Queue the pickup and hold-ending reminders that are due (each once; safe to overlap)."""
    return queue_reminders()
