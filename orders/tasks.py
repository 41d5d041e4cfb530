from celery import shared_task
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services import expire_order


@shared_task(acks_late=True)
def expire_holds() -> int:
    """Ready orders whose hold has passed become no-shows (idempotent, safe to overlap)."""
    now = timezone.now()
    expired = 0
    for order in Order.objects.filter(status=OrderStatus.READY, hold_until__lte=now).only("pk"):
        if expire_order(order=order, now=now) is not None:
            expired += 1
    return expired
