"""The store's lists: the tablet's queue, search, today's collections, and the order and
customer timelines staff read.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    Window,
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


def _in_column(name: str, now: datetime) -> Q:
    """The open orders a column shows: overdue ones, or those of its status not overdue."""
    late = _late(now)
    return late if name == "overdue" else Q(status=name) & ~late


# A column's order: customers who said "I'm here" first (earliest arrival), then soonest slot.
TICKET_ORDER = ("arrived_at", "slot_start", "created_at", "pk")


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


@dataclass(frozen=True)
class QueueState:
    """What the board shows in figures: each column's total and the store's latest order
    write. ``version`` is its fingerprint, sent back by the next poll."""

    totals: dict[str, int]
    latest: datetime | None

    @property
    def version(self) -> str:
        stamp = int(self.latest.timestamp() * 1_000_000) if self.latest else 0
        return ".".join([f"{stamp:x}", *(str(self.totals[name]) for name in QUEUE_COLUMNS)])


def queue_state(*, store, now: datetime | None = None) -> QueueState:
    """The columns' totals and the latest order write, in one query (the poll's only query
    while nothing changes). It changes when an order of the store is written (placed, moved,
    arrived, paid, collected, cancelled), or when one more open order turns overdue with time."""
    now = now or timezone.now()
    row = Order.objects.filter(store=store, status__in=OPEN_STATUSES).aggregate(
        # Any order of the store, open or not (one row off the store's updated_at index).
        latest=Max(
            Subquery(
                Order.objects.filter(store=store).order_by("-updated_at").values("updated_at")[:1]
            )
        ),
        **{name: Count("pk", filter=_in_column(name, now)) for name in QUEUE_COLUMNS},
    )
    return QueueState(totals={name: row[name] for name in QUEUE_COLUMNS}, latest=row["latest"])


def queue_version(*, store, now: datetime | None = None) -> str:
    """The board's fingerprint (see ``queue_state``)."""
    return queue_state(store=store, now=now).version


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
    *,
    store,
    now: datetime | None = None,
    limits: dict[str, int] | None = None,
    state: QueueState | None = None,
) -> dict[str, QueueColumn]:
    """The tablet's live queue: open orders by column, the first ``limits[column]`` of each
    (``QUEUE_SHOWN`` by default) in ``TICKET_ORDER``, with the column's total.

    Overdue: not ready although its pickup slot has started, or ready and past its hold.

    Bounded whatever the number of open orders: the totals (``state``, one query when not
    given), the tickets to show (one query: each column's first ones, walked in order along
    the store's queue index), and those tickets' fields, item counts and card holds.
    """
    now = now or timezone.now()
    state = state or queue_state(store=store, now=now)
    limits = dict.fromkeys(QUEUE_COLUMNS, QUEUE_SHOWN) | (limits or {})
    open_orders = Order.objects.filter(store=store, status__in=OPEN_STATUSES)
    firsts = [
        open_orders.filter(_in_column(name, now))
        .annotate(column=Value(name, output_field=CharField()))
        .order_by(*TICKET_ORDER)
        .values_list("pk", "column")[: limits[name]]
        for name in QUEUE_COLUMNS
        if state.totals[name]
    ]
    shown = dict(firsts[0].union(*firsts[1:], all=True)) if firsts else {}
    columns = {
        name: QueueColumn(name=name, limit=limits[name], total=state.totals[name])
        for name in QUEUE_COLUMNS
    }
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
        .order_by(*TICKET_ORDER)
    )
    for ticket in tickets:
        name = shown[ticket.pk]
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


# The newest collections listed under the board (to find one for a refund); the others are
# counted and found with the scan box or the search.
COLLECTED_SHOWN = 25


@dataclass
class CollectedToday:
    orders: list[Order]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.orders)


def collected_today(
    *, store, now: datetime | None = None, limit: int = COLLECTED_SHOWN
) -> CollectedToday:
    """The orders handed over at ``store`` today (the store's local day): the newest ``limit``
    with ``collected_amount`` (what was handed over), and how many there were in all. One
    query, along the handovers' collection time."""
    local = (now or timezone.now()).astimezone(store.tz)
    start = datetime.combine(local.date(), datetime.min.time(), tzinfo=store.tz)
    end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=store.tz)
    newest = (
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
            ),
            # Over all of today's collections, counted before the limit applies.
            in_all=Window(Count("pk")),
        )
        .order_by("-handover__collected_at", "-pk")[:limit]
    )
    orders = list(newest)
    total = orders[0].in_all if orders else 0
    return CollectedToday(orders=orders, total=total)


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
