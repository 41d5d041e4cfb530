"""The store's lists: the tablet's queue, search, today's collections, and the order and
customer timelines staff read.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from customers.models import NotificationKind
from customers.selectors import timeline
from orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from orders.selectors.access import items_in_order

# A ready message may be sent again this many times (the customer lost it).
READY_RESENDS = 3


def ready_resends_left(messages) -> int:
    """How many more times the ready message may go, given the order's messages so far."""
    sent = sum(1 for message in messages if message.kind == NotificationKind.READY)
    return max(0, READY_RESENDS + 1 - sent)


QUEUE_COLUMNS = ("overdue", "placed", "preparing", "ready")
OPEN_STATUSES = (OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY)
# Tickets shown per column (the oldest first); the rest are counted, shown on demand, and
# found with the scan box or the search.
QUEUE_SHOWN = 25
QUEUE_SHOWN_MAX = 500
# What the board shows of an order (with the annotations below): nothing else is read.
TICKET_FIELDS = (
    "number",
    "store_id",
    "status",
    "payment_method",
    "contact_name",
    "slot_start",
    "hold_until",
    "arrived_at",
    "created_at",
)


def _late(now: datetime) -> Q:
    """Overdue: not ready although its pickup slot has started, or ready and past its hold."""
    return Q(status=OrderStatus.READY, hold_until__isnull=False, hold_until__lte=now) | (
        ~Q(status=OrderStatus.READY) & Q(slot_start__lte=now)
    )


def queue_version(*, store, now: datetime | None = None) -> str:
    """A short fingerprint of everything the board shows, in one cheap query: it changes
    when an order of the store is written (its ``updated_at``: placed, moved, arrived, paid,
    collected, cancelled), or when one more open order turns overdue with time."""
    now = now or timezone.now()
    open_orders = Order.objects.filter(store=OuterRef("pk"), status__in=OPEN_STATUSES)
    row = (
        type(store)
        .objects.filter(pk=store.pk)
        .annotate(
            latest=Subquery(
                Order.objects.filter(store=OuterRef("pk"))
                .order_by("-updated_at")
                .values("updated_at")[:1]
            ),
            open_count=Subquery(
                open_orders.values("store").annotate(n=Count("pk")).values("n")[:1]
            ),
            late_count=Subquery(
                open_orders.filter(_late(now)).values("store").annotate(n=Count("pk")).values("n")
            ),
        )
        .values_list("latest", "open_count", "late_count")
        .first()
    )
    latest, open_count, late_count = row or (None, 0, 0)
    stamp = int(latest.timestamp() * 1_000_000) if latest else 0
    return f"{stamp:x}.{open_count or 0}.{late_count or 0}"


@dataclass
class QueueColumn:
    """One column of the board: the first ``limit`` tickets, and how many there are in all."""

    name: str
    orders: list[Order] = field(default_factory=list)
    total: int = 0
    limit: int = QUEUE_SHOWN

    @property
    def hidden(self) -> int:
        return self.total - len(self.orders)


def queue_limits(params) -> dict[str, int]:
    """Tickets to show per column, from query parameters like ``?placed=50`` (bounded)."""
    limits = {}
    for name in QUEUE_COLUMNS:
        try:
            value = int(params.get(name, QUEUE_SHOWN))
        except (TypeError, ValueError):
            value = QUEUE_SHOWN
        limits[name] = min(max(value, QUEUE_SHOWN), QUEUE_SHOWN_MAX)
    return limits


def store_queue(
    *, store, now: datetime | None = None, limits: dict[str, int] | None = None
) -> dict[str, QueueColumn]:
    """The tablet's live queue: open orders by column, soonest slot first, the first
    ``limits[column]`` of each (``QUEUE_SHOWN`` by default) with the column's total.

    Customers who said "I'm here" come first in their column, earliest arrival first.
    Overdue: not ready although its pickup slot has started, or ready and past its hold.

    Two queries whatever the number of open orders: the tickets to show (and the totals), by a
    window over the open orders' keys; then those tickets' fields, item counts and card holds.
    """
    now = now or timezone.now()
    limits = dict.fromkeys(QUEUE_COLUMNS, QUEUE_SHOWN) | (limits or {})
    late = _late(now)
    place = Case(When(late, then=Value("overdue")), default=F("status"), output_field=CharField())
    order = [
        F("arrived_at").asc(nulls_last=True),
        F("slot_start").asc(),
        F("created_at").asc(),
        F("pk").asc(),
    ]
    picked = list(
        Order.objects.filter(store=store, status__in=OPEN_STATUSES)
        .annotate(
            place=place,
            rank=Window(RowNumber(), partition_by=[place], order_by=order),
            in_column=Window(Count("pk"), partition_by=[place]),
        )
        .filter(rank__lte=max(limits.values()))
        .values_list("pk", "place", "rank", "in_column")
    )
    columns = {name: QueueColumn(name=name, limit=limits[name]) for name in QUEUE_COLUMNS}
    shown = {}
    for pk, name, rank, total in picked:
        columns[name].total = total
        if rank <= limits[name]:
            shown[pk] = (name, rank)
    tickets = (
        Order.objects.filter(pk__in=shown)
        .only(*TICKET_FIELDS)
        .annotate(
            item_count=items_in_order(),
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
    )
    for ticket in sorted(tickets, key=lambda t: shown[t.pk][1]):
        name = shown[ticket.pk][0]
        ticket.is_overdue = name == "overdue"
        columns[name].orders.append(ticket)
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
