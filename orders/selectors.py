"""Order reads, each scoped to who asks: a customer sees their own, a clerk their store's."""

from datetime import datetime

from django.db.models import Count, F, Prefetch, Q, Sum
from django.http import Http404
from django.utils import timezone

from customers.selectors import timeline
from orders.models import Order, OrderEvent, OrderLine, OrderStatus


def _detail():
    return Order.objects.select_related("store", "customer", "handover__clerk").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch(
            "events",
            queryset=OrderEvent.objects.select_related("user").order_by("created_at", "pk"),
        ),
        "payments",
    )


def _visible_to(customer):
    """Orders a logged-in customer may see: their own, and guest orders under their email
    only once the address is verified (anyone can type an email at a guest checkout)."""
    visible = Q(customer=customer)
    if customer.email_verified_at is None:
        visible &= Q(guest_checkout=False)
    return visible


def order_for_customer(*, customer, number: str) -> Order:
    """The customer's own order; 404 for anything else (an order number alone grants nothing)."""
    if customer is None:
        raise Http404("No such order")
    order = _detail().filter(_visible_to(customer), number=str(number)[:16]).first()
    if order is None:
        raise Http404("No such order")
    return order


def order_for_guest(*, numbers, number: str) -> Order:
    """An order placed as a guest in this browser session (its numbers are kept there)."""
    number = str(number)[:16]
    if number not in set(numbers or ()):
        raise Http404("No such order")
    order = _detail().filter(number=number, guest_checkout=True).first()
    if order is None:
        raise Http404("No such order")
    return order


def order_for_store(*, store, number: str, lock: bool = False) -> Order:
    """An order of this store; 404 for other stores' orders."""
    qs = Order.objects.select_for_update(of=("self",)) if lock else _detail()
    order = qs.filter(store=store, number=str(number)[:16]).first()
    if order is None:
        raise Http404("No such order")
    return order


def order_for_pickup_token(*, store, token: str) -> Order | None:
    token = (token or "").strip()
    if not token or len(token) > 64:
        return None
    return _detail().filter(store=store, pickup_token=token).first()


def customer_orders(*, customer, detailed: bool = False):
    """The customer's orders, newest first; ``detailed`` adds lines and events (for the API)
    in two more queries, however many orders there are."""
    if customer is None:
        return Order.objects.none()
    orders = (
        Order.objects.filter(_visible_to(customer))
        .select_related("store")
        .annotate(item_count=Sum("lines__quantity"))
        .order_by("-created_at", "-pk")
    )
    if detailed:
        orders = orders.prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
        )
    return orders


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
        .annotate(item_count=Sum("lines__quantity"), line_count=Count("lines"))
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


def customer_timeline(*, customer, limit: int | None = 50):
    """The customer's own timeline as they may see it: until their address is verified,
    touchpoints about guest orders under it stay hidden, like the orders themselves."""
    hidden = (
        None
        if customer.email_verified_at
        else Order.objects.filter(customer=customer, guest_checkout=True).values("number")
    )
    return timeline(customer=customer, limit=limit, hide_orders=hidden)


def orders_for_staff(*, customer, limit: int = 50):
    """All of a customer's orders, at every store and however placed, newest first (the
    tablet's customer page: staff see the whole history, guest orders included)."""
    return (
        Order.objects.filter(customer=customer)
        .select_related("store")
        .annotate(item_count=Sum("lines__quantity"))
        .order_by("-created_at", "-pk")[:limit]
    )
