"""The store's lists: the tablet's queue, search, today's collections, and the order and
customer timelines staff read.
"""

from datetime import datetime, timedelta

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.utils import timezone

from customers.models import NotificationKind
from customers.selectors import timeline
from orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)

# A ready message may be sent again this many times (the customer lost it).
READY_RESENDS = 3


def ready_resends_left(messages) -> int:
    """How many more times the ready message may go, given the order's messages so far."""
    sent = sum(1 for message in messages if message.kind == NotificationKind.READY)
    return max(0, READY_RESENDS + 1 - sent)


QUEUE_COLUMNS = ("overdue", "placed", "preparing", "ready")


def store_queue(*, store, now: datetime | None = None) -> dict[str, list[Order]]:
    """The tablet's live queue in one query: open orders by column, soonest slot first.

    Customers who said "I'm here" come first in their column, earliest arrival first.
    Overdue: not ready although its pickup slot has started, or ready and past its hold.
    """
    now = now or timezone.now()
    orders = (
        Order.objects.filter(
            store=store,
            status__in=[OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY],
        )
        .annotate(
            item_count=Sum("lines__quantity"),
            line_count=Count("lines"),
            # Online orders: is a card hold there to capture, or must the clerk take payment?
            card_held=Exists(
                Payment.objects.filter(
                    order=OuterRef("pk"),
                    provider=Payment.Provider.STRIPE,
                    refund_of__isnull=True,
                    status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID],
                )
            ),
        )
        .order_by(F("arrived_at").asc(nulls_last=True), "slot_start", "created_at")
    )
    columns: dict[str, list[Order]] = {name: [] for name in QUEUE_COLUMNS}
    for order in orders:
        late = (
            order.status == OrderStatus.READY and order.hold_until and order.hold_until <= now
        ) or (order.status != OrderStatus.READY and order.slot_start <= now)
        order.is_overdue = bool(late)
        columns["overdue" if late else order.status].append(order)
    return columns


def find_orders_for_store(*, store, query: str):
    """Clerk search by order number, customer email or name (open orders first)."""
    query = (query or "").strip()[:100]
    if not query:
        return Order.objects.none()
    return (
        Order.objects.filter(store=store)
        .filter(
            Q(number__iexact=query)
            | Q(contact_email__iexact=query)
            | Q(contact_name__icontains=query)
            | Q(contact_phone=query)
        )
        .order_by("-created_at")[:20]
    )


COLLECTED_SHOWN = 100


def collected_today(*, store, now: datetime | None = None, limit: int = COLLECTED_SHOWN):
    """The orders handed over at ``store`` today (the store's local day), newest first, with
    ``collected_amount`` (what was handed over), in one query."""
    local = (now or timezone.now()).astimezone(store.tz)
    start = datetime.combine(local.date(), datetime.min.time(), tzinfo=store.tz)
    end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=store.tz)
    return (
        Order.objects.filter(
            store=store,
            status=OrderStatus.COLLECTED,
            handover__collected_at__gte=start,
            handover__collected_at__lt=end,
        )
        .select_related("handover")
        .annotate(
            collected_amount=Sum(
                F("lines__unit_price") * F("lines__collected_quantity"),
                output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )
        .order_by("-handover__collected_at", "-pk")[:limit]
    )


def customer_timeline(*, customer, limit: int | None = 50):
    """The customer's own timeline as they may see it: until their address is verified,
    touchpoints about guest orders under it stay hidden, like the orders themselves."""
    hidden = (
        None
        if customer.email_verified_at
        else Order.objects.filter(customer=customer, guest_checkout=True).values("number")
    )
    return timeline(customer=customer, limit=limit, hide_orders=hidden)


def orders_for_staff(*, customer, store, limit: int = 50):
    """A customer's orders at ``store``, however placed, newest first (the tablet's customer
    page: the clerk sees their store's history, guest orders included)."""
    return (
        Order.objects.filter(customer=customer, store=store)
        .select_related("store")
        .annotate(item_count=Sum("lines__quantity"))
        .order_by("-created_at", "-pk")[:limit]
    )


def orders_elsewhere(*, customer, store):
    """The customer's orders at other stores than ``store``: the tablet counts them and leaves
    their touchpoints out of the timeline, but shows nothing of them."""
    return Order.objects.filter(customer=customer).exclude(store=store)


def staff_timeline(*, customer, store, limit: int = 50):
    """The customer's timeline as a clerk of ``store`` sees it: everything but the touchpoints
    about orders at other stores (their numbers, amounts and messages)."""
    hidden = orders_elsewhere(customer=customer, store=store).values("number")
    return timeline(customer=customer, limit=limit, hide_orders=hidden)
