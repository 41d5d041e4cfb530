"""Finding an order, scoped to who asks: a customer sees their own, a guest the orders of their
session, an order link its one order, a clerk their store's. Anything else is a 404.
"""

import re

from django.core import signing
from django.db.models import (
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from orders import links
from orders.errors import OrderError
from orders.models import (
    Order,
    OrderEvent,
    OrderLine,
)
from orders.selectors.money import detail


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
    order = detail().filter(_visible_to(customer), number=str(number)[:16]).first()
    if order is None:
        raise Http404("No such order")
    return order


def order_for_guest(*, numbers, number: str) -> Order:
    """An order placed as a guest in this browser session (its numbers are kept there)."""
    number = str(number)[:16]
    if number not in set(numbers or ()):
        raise Http404("No such order")
    order = detail().filter(number=number, guest_checkout=True).first()
    if order is None:
        raise Http404("No such order")
    return order


def order_for_link(*, token: str) -> Order:
    """The order a message's signed link opens (``orders.links``); 404 for a link we did not
    sign or whose pickup token has changed since, ``link_expired`` (410) for one too old."""
    try:
        number, fingerprint = links.read_order_link(token)
    except links.LinkExpired:
        raise OrderError(
            "link_expired",
            _("This link has expired."),
            status=410,
        ) from None
    except signing.BadSignature:
        raise Http404("No such order") from None
    order = detail().filter(number=number[:16]).first()
    if order is None or not links.matches_pickup_token(fingerprint, order.pickup_token):
        raise Http404("No such order")
    return order


def order_for_store(*, store, number: str, lock: bool = False) -> Order:
    """An order of this store; 404 for other stores' orders."""
    qs = Order.objects.select_for_update(of=("self",)) if lock else detail()
    order = qs.filter(store=store, number=str(number)[:16]).first()
    if order is None:
        raise Http404("No such order")
    return order


# An order number as printed ("CC-" and 8 characters), once spaces, dashes and case are gone.
_ORDER_NUMBER = re.compile(r"\ACC([A-Z0-9]{8})\Z")


def order_number_in(text: str) -> str | None:
    """The order number in what a clerk typed or scanned, however written ("cc-7k3f9qx2",
    "CC 7K3F 9QX2"), as stored ("CC-7K3F9QX2"); None if it is not an order number."""
    compact = "".join(ch for ch in (text or "")[:40].upper() if ch.isalnum())
    match = _ORDER_NUMBER.match(compact)
    return f"CC-{match.group(1)}" if match else None


def order_by_number(*, store, number: str) -> Order | None:
    """The order of ``store`` with this number (see ``order_number_in``), or None."""
    return Order.objects.filter(store=store, number=number).only("pk", "number").first()


def order_for_pickup_token(*, store, token: str) -> Order | None:
    token = (token or "").strip()
    if not token or len(token) > 64:
        return None
    return detail().filter(store=store, pickup_token=token).first()


# What the account page's list shows of an order.
SUMMARY_FIELDS = (
    "number",
    "customer_id",
    "store_id",
    "store__name",
    "store__timezone",
    "slot_start",
    "status",
    "total",
    "currency",
    "created_at",
)


def items_in_order():
    """The units an order holds (its lines' quantities), as a subquery on the order row."""
    return Subquery(
        OrderLine.objects.filter(order=OuterRef("pk"))
        .values("order")
        .annotate(n=Sum("quantity"))
        .values("n")
    )


def customer_orders(*, customer, detailed: bool = False):
    """The customer's orders, newest first (index ``order_customer_newest_idx``), each with
    its ``item_count``; only the fields of the account page's list, unless ``detailed``, which
    adds everything, lines, events and payments (for the API) in three more queries, however
    many orders there are."""
    if customer is None:
        return Order.objects.none()
    orders = (
        Order.objects.filter(_visible_to(customer))
        .select_related("store")
        .annotate(item_count=items_in_order())
        .order_by("-created_at", "-pk")
    )
    if not detailed:
        return orders.only(*SUMMARY_FIELDS)
    if detailed:
        orders = orders.prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
            "payments",
        )
    return orders


def lock_order(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("store", "customer")
        .get(pk=order.pk)
    )


def order_numbers_at(*, stores):
    """The numbers of the orders of ``stores``, as a queryset (read by other apps as a
    subquery)."""
    return Order.objects.filter(store__in=stores).values("number")


def orders_by_number(numbers) -> dict[str, Order]:
    """These orders with their store, by number (one query)."""
    return {
        order.number: order
        for order in Order.objects.filter(number__in=list(numbers)).select_related("store")
    }
