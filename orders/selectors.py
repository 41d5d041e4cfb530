"""Order reads, each scoped to who asks: a customer sees their own, a clerk their store's."""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.http import Http404
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from core.display import money
from customers.models import NotificationKind
from customers.selectors import timeline
from orders import links
from orders.errors import OrderError
from orders.models import (
    Handover,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentAnomaly,
    PaymentMethod,
    PaymentStatus,
)
from stores.models import Store

ZERO = Decimal("0.00")


def _detail():
    return Order.objects.select_related("store", "customer", "handover__clerk").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch(
            "events",
            queryset=OrderEvent.objects.select_related("user").order_by("created_at", "pk"),
        ),
        Prefetch("payments", queryset=Payment.objects.select_related("user")),
    )


# Card holds are released by us this long before the card network would let them lapse.
AUTHORISATION_MARGIN = timedelta(hours=2)


def authorisation_deadline(payment: Payment) -> datetime:
    """When we release an authorised card hold that was not captured (the networks allow
    CARD_AUTHORISATION_DAYS; we stop a little before)."""
    return (
        payment.created_at
        + timedelta(days=settings.CARD_AUTHORISATION_DAYS)
        - (AUTHORISATION_MARGIN)
    )


@dataclass(frozen=True)
class CardPayment:
    """Where an online order's card payment stands, for the tablet and the shopper."""

    status: str  # a PaymentStatus value; "unpaid" when there is no authorisation at all
    amount_authorised: Decimal
    amount_captured: Decimal
    # The authorisation is released at this time if it has not been captured by then.
    releases_at: datetime | None
    # No usable card hold (never authorised, released, or lapsed): the clerk takes payment at
    # the counter when the order is collected.
    counter_pays: bool
    # The hold on the goods lasts longer than the card authorisation.
    lapses_during_hold: bool


def card_payment(order: Order) -> CardPayment | None:
    """The card payment of an online order (None for orders paid at the counter). Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    if order.payment_method != PaymentMethod.ONLINE:
        return None
    attempts = [
        p
        for p in order.payments.all()
        if p.provider == Payment.Provider.STRIPE
        and p.refund_of_id is None
        and p.status != PaymentStatus.UNPAID
    ]
    payment = max(attempts, key=lambda p: p.pk) if attempts else None
    if payment is None:
        return CardPayment(PaymentStatus.UNPAID, ZERO, ZERO, None, True, False)
    releases_at = (
        authorisation_deadline(payment) if payment.status == PaymentStatus.AUTHORISED else None
    )
    return CardPayment(
        status=payment.status,
        amount_authorised=payment.amount_authorised,
        amount_captured=payment.amount_captured,
        releases_at=releases_at,
        counter_pays=payment.status not in (PaymentStatus.AUTHORISED, PaymentStatus.PAID),
        lapses_during_hold=bool(
            releases_at and order.hold_until and order.hold_until > releases_at
        ),
    )


def paid_payment(order: Order) -> Payment | None:
    """The payment the money for ``order`` was taken on at collection (card or till; an
    online order may end up paid at the counter), which a refund gives back from. Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    taken = [
        p
        for p in order.payments.all()
        if p.refund_of_id is None and p.status in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
    ]
    return max(taken, key=lambda p: p.pk) if taken else None


def money_taken(order: Order) -> list[Payment]:
    """The payments on which money was really taken for ``order`` (captured online or taken
    at the till), oldest first: never a declined, unfinished or released card attempt. Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    return [
        p
        for p in order.payments.all()
        if p.refund_of_id is None
        and p.status in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
        and p.amount_captured > 0
    ]


def money_taken_text(payment: Payment) -> str:
    """How the money of ``payment`` was taken, in words: "Charged €34.90 to the card
    authorised online", "Took €34.90 by card (receipt 1234)", "Took €12.00 in cash"."""
    amount = {"amount": money(payment.amount_captured, payment.currency)}
    if payment.provider == Payment.Provider.STRIPE:
        return _("Charged %(amount)s to the card authorised online") % amount
    if payment.method == Payment.Method.CARD:
        if payment.reference:
            return _("Took %(amount)s by card (receipt %(reference)s)") % {
                **amount,
                "reference": payment.reference,
            }
        return _("Took %(amount)s by card") % amount
    if payment.reference:
        return _("Took %(amount)s in cash (receipt %(reference)s)") % {
            **amount,
            "reference": payment.reference,
        }
    return _("Took %(amount)s in cash") % amount


def handover_total(lines, quantities: dict[str, int]) -> Decimal:
    """What handing over ``quantities`` (sku → units; a line not named: all of it) of these
    order lines comes to: what the collection charges the card or takes at the counter, and
    the tablet's "amount to take" while the clerk sets the quantities."""
    return sum((line.unit_price * quantities.get(line.sku, line.quantity) for line in lines), ZERO)


def check_refundable(order: Order) -> None:
    """Only a collected order can be refunded (``OrderError`` otherwise)."""
    if order.status != OrderStatus.COLLECTED:
        raise OrderError(
            "not_collected",
            _("Order %(number)s is %(status)s: only a collected order can be refunded.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )


def refund_plan(order: Order, quantities: dict[str, int] | None):
    """The lines and units a refund of ``quantities`` (sku → units; None: everything left)
    gives money back for, and the amount: what the refund service does, and what the tablet
    asks the clerk to confirm first. Raises ``OrderError`` for what cannot be refunded."""
    lines = list(order.lines.all())
    left = {ln.pk: (ln.collected_quantity or 0) - ln.refunded_quantity for ln in lines}
    if not any(left.values()):
        raise OrderError(
            "already_refunded", _("Everything collected in this order was already refunded.")
        )
    if quantities is None:
        picked = [(ln, left[ln.pk]) for ln in lines]
    else:
        unknown = set(quantities) - {ln.sku for ln in lines}
        if unknown:
            raise OrderError(
                "unknown_line",
                _("These items are not in the order: %(skus)s")
                % {"skus": ", ".join(sorted(unknown))},
                status=400,
            )
        picked = []
        for line in lines:
            units = quantities.get(line.sku, 0)
            if isinstance(units, bool) or not isinstance(units, int):
                units = -1
            if not 0 <= units <= left[line.pk]:
                raise OrderError(
                    "bad_quantity",
                    _("Refunded quantity for %(sku)s must be between 0 and %(max)d.")
                    % {"sku": line.sku, "max": left[line.pk]},
                    status=400,
                )
            picked.append((line, units))
    picked = [(line, units) for line, units in picked if units]
    amount = sum((line.unit_price * units for line, units in picked), ZERO)
    if not picked or amount <= 0:
        raise OrderError("nothing_to_refund", _("Choose at least one item to refund."), status=400)
    return picked, amount


@dataclass(frozen=True)
class RefundSummary:
    refunds: list  # the refund rows, oldest first
    refundable: Decimal  # collected and not refunded yet
    at_till: bool  # the money was taken at the till, so it goes back there


def refund_summary(order: Order) -> RefundSummary:
    """A collected order's refunds so far and what is left (from prefetched lines/payments)."""
    payments = list(order.payments.all())
    taken = paid_payment(order)
    return RefundSummary(
        refunds=sorted((p for p in payments if p.refund_of_id), key=lambda p: (p.created_at, p.pk)),
        refundable=sum(
            (
                ln.unit_price * ((ln.collected_quantity or 0) - ln.refunded_quantity)
                for ln in order.lines.all()
            ),
            ZERO,
        ),
        at_till=taken is not None and taken.provider == Payment.Provider.IN_STORE,
    )


# --- The money of one order ----------------------------------------------------------------------

# What the money of an order amounts to, for the customer (``MoneySummary.status``).
MONEY_STATUSES = {
    "awaiting_payment": _("Awaiting card payment"),
    "authorised": _("Authorised, charged at pickup"),
    "pay_at_counter": _("To pay at the counter"),
    "charged": _("Charged"),
    "partly_refunded": _("Partly refunded"),
    "refunded": _("Refunded"),
    "not_charged": _("Nothing charged"),
}


@dataclass(frozen=True)
class MoneySummary:
    """An order's money as it stands: what was ordered, handed over, held on the card,
    charged (captured online or taken at the till), given back, and the net."""

    currency: str
    ordered: Decimal
    collected: Decimal | None  # the value handed over; None until the order is collected
    authorised: Decimal  # a card hold not charged yet
    charged: Decimal
    refunded: Decimal
    status: str  # a key of MONEY_STATUSES

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded

    @property
    def label(self) -> str:
        return MONEY_STATUSES[self.status]


def money_summary(order: Order) -> MoneySummary:
    """The one account of an order's money, for the shopper's page, the API and the receipt.

    From the order's lines (what was handed over) and its payments (not the refund rows: each
    payment keeps its refunded total). Uses ``order.lines.all()`` and ``order.payments.all()``,
    so a prefetch makes it free.
    """
    lines = list(order.lines.all())
    payments = [p for p in order.payments.all() if p.refund_of_id is None]
    handed_over = any(line.collected_quantity is not None for line in lines)
    charged = sum((p.amount_captured for p in payments), ZERO)
    refunded = sum((p.amount_refunded for p in payments), ZERO)
    authorised = sum(
        (p.amount_authorised for p in payments if p.status == PaymentStatus.AUTHORISED), ZERO
    )
    if charged > 0 and refunded >= charged:
        status = "refunded"
    elif charged > 0 and refunded > 0:
        status = "partly_refunded"
    elif charged > 0:
        status = "charged"
    elif authorised > 0:
        status = "authorised"
    elif order.status == OrderStatus.PENDING_PAYMENT:
        status = "awaiting_payment"
    elif order.is_open:
        status = "pay_at_counter"
    else:
        status = "not_charged"
    return MoneySummary(
        currency=order.currency,
        ordered=order.total,
        collected=sum((ln.collected_total for ln in lines), ZERO) if handed_over else None,
        authorised=authorised,
        charged=charged,
        refunded=refunded,
        status=status,
    )


# A ready message may be sent again this many times (the customer lost it).
READY_RESENDS = 3


def ready_resends_left(messages) -> int:
    """How many more times the ready message may go, given the order's messages so far."""
    sent = sum(1 for message in messages if message.kind == NotificationKind.READY)
    return max(0, READY_RESENDS + 1 - sent)


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
    order = _detail().filter(number=number[:16]).first()
    if order is None or not links.matches_pickup_token(fingerprint, order.pickup_token):
        raise Http404("No such order")
    return order


def order_for_store(*, store, number: str, lock: bool = False) -> Order:
    """An order of this store; 404 for other stores' orders."""
    qs = Order.objects.select_for_update(of=("self",)) if lock else _detail()
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
    return _detail().filter(store=store, pickup_token=token).first()


def customer_orders(*, customer, detailed: bool = False):
    """The customer's orders, newest first; ``detailed`` adds lines, events and payments (for
    the API) in three more queries, however many orders there are."""
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
            "payments",
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


# --- Payments reconciliation (managers) ------------------------------------------------------
#
# Money is counted on the store's local day: a card taken at 23:30 in Madrid belongs to that
# Madrid day whatever the UTC date. Stores are grouped by time zone and each group is summed in
# SQL with ``TruncDate(..., tzinfo=...)``, so the query count grows with the number of time
# zones (bounded by the stores asked for), never with the number of orders or payments.


@dataclass
class ReconciliationRow:
    """Money for one store on one local day in one currency (or the totals when ``store`` and
    ``day`` are None)."""

    store: Store | None
    day: date | None
    currency: str
    online_captured: Decimal = ZERO
    in_store_card: Decimal = ZERO
    in_store_cash: Decimal = ZERO
    refunded_online: Decimal = ZERO
    refunded_counter: Decimal = ZERO
    orders_collected: int = 0

    @property
    def in_store_taken(self) -> Decimal:
        return self.in_store_card + self.in_store_cash

    @property
    def refunded(self) -> Decimal:
        return self.refunded_online + self.refunded_counter

    @property
    def net(self) -> Decimal:
        return self.online_captured + self.in_store_taken - self.refunded

    def add(self, other: "ReconciliationRow") -> None:
        for name in MONEY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.orders_collected += other.orders_collected


MONEY_FIELDS = (
    "online_captured",
    "in_store_card",
    "in_store_cash",
    "refunded_online",
    "refunded_counter",
)


@dataclass
class Reconciliation:
    rows: list[ReconciliationRow] = field(default_factory=list)
    # One totals row per currency (normally just one).
    totals: list[ReconciliationRow] = field(default_factory=list)


def _by_timezone(stores) -> dict[str, list[Store]]:
    groups: dict[str, list[Store]] = {}
    for store in stores:
        groups.setdefault(store.timezone, []).append(store)
    return groups


def _money(value) -> Decimal:
    """A summed amount to the cent (SQLite sums decimals as floats: 19.9500000000000)."""
    return (value or ZERO).quantize(Decimal("0.01"))


def payment_reconciliation(*, stores, start: date, end: date) -> Reconciliation:
    """Money taken and given back per store and local day, from ``start`` to ``end`` included.

    - taken: payments (not refunds) with money captured, on the local day of ``captured_at``
      (old rows without it: the order's handover, else the payment's creation); online =
      Stripe, at the counter split card / cash (a counter payment without a method counts as
      card, the method the till asks a reference for);
    - refunded: refund rows (``refund_of`` set), on the local day they were made, online or at
      the counter by their provider;
    - orders collected: handovers of collected orders on that local day.

    Days with nothing to show have no row. Three queries per distinct store time zone.
    """
    stores = list(stores)
    by_store = {store.pk: store for store in stores}
    rows: dict[tuple[int, date, str], ReconciliationRow] = {}

    def row(store_id: int, day: date, currency: str) -> ReconciliationRow:
        key = (store_id, day, currency)
        if key not in rows:
            rows[key] = ReconciliationRow(store=by_store[store_id], day=day, currency=currency)
        return rows[key]

    for tz_name, group in _by_timezone(stores).items():
        tz = zoneinfo.ZoneInfo(tz_name)
        taken_at = Coalesce("captured_at", "order__handover__collected_at", "created_at")
        taken = (
            Payment.objects.filter(
                order__store__in=group, refund_of__isnull=True, amount_captured__gt=0
            )
            .annotate(day=TruncDate(taken_at, tzinfo=tz))
            .filter(day__range=(start, end))
            .values("order__store_id", "day", "currency")
            .annotate(
                online=Sum("amount_captured", filter=Q(provider=Payment.Provider.STRIPE)),
                cash=Sum(
                    "amount_captured",
                    filter=Q(provider=Payment.Provider.IN_STORE, method=Payment.Method.CASH),
                ),
                card=Sum(
                    "amount_captured",
                    filter=Q(provider=Payment.Provider.IN_STORE) & ~Q(method=Payment.Method.CASH),
                ),
            )
            .order_by()
        )
        for item in taken:
            target = row(item["order__store_id"], item["day"], item["currency"])
            target.online_captured += _money(item["online"])
            target.in_store_card += _money(item["card"])
            target.in_store_cash += _money(item["cash"])

        refunds = (
            Payment.objects.filter(order__store__in=group, refund_of__isnull=False)
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .filter(day__range=(start, end))
            .values("order__store_id", "day", "currency")
            .annotate(
                online=Sum("amount_refunded", filter=Q(provider=Payment.Provider.STRIPE)),
                counter=Sum("amount_refunded", filter=~Q(provider=Payment.Provider.STRIPE)),
            )
            .order_by()
        )
        for item in refunds:
            target = row(item["order__store_id"], item["day"], item["currency"])
            target.refunded_online += _money(item["online"])
            target.refunded_counter += _money(item["counter"])

        collected = (
            Handover.objects.filter(order__store__in=group, order__status=OrderStatus.COLLECTED)
            .annotate(day=TruncDate("collected_at", tzinfo=tz))
            .filter(day__range=(start, end))
            .values("order__store_id", "day", "order__currency")
            .annotate(count=Count("pk"))
            .order_by()
        )
        for item in collected:
            row(
                item["order__store_id"], item["day"], item["order__currency"]
            ).orders_collected += item["count"]

    ordered = sorted(rows.values(), key=lambda r: (r.day, r.store.code, r.currency))
    totals: dict[str, ReconciliationRow] = {}
    for item in ordered:
        totals.setdefault(
            item.currency, ReconciliationRow(store=None, day=None, currency=item.currency)
        ).add(item)
    return Reconciliation(rows=ordered, totals=[totals[c] for c in sorted(totals)])


# --- Payment mismatches ----------------------------------------------------------------------


def extra_card_holds():
    """Card authorisations still open that their order does not use: an order holds one, and
    the one it uses is its latest card payment past the first step (what collection captures,
    see ``card_payment``), so an authorised card payment older than that is an extra hold (two
    attempts that raced, an intent adopted from a webhook). Oldest first."""
    used = (
        Payment.objects.filter(
            order=OuterRef("order"), provider=Payment.Provider.STRIPE, refund_of__isnull=True
        )
        .exclude(status=PaymentStatus.UNPAID)
        .order_by("-pk")
        .values("pk")[:1]
    )
    return (
        Payment.objects.filter(
            provider=Payment.Provider.STRIPE,
            refund_of__isnull=True,
            status=PaymentStatus.AUTHORISED,
            pk__lt=Subquery(used),
        )
        .exclude(provider_reference="")
        .order_by("pk")
    )


@dataclass(frozen=True)
class PaymentMismatch:
    order: Order
    code: str
    detail: str


MISMATCH_LABELS = {
    "collected_unpaid": _("Collected, but no payment was taken."),
    "captured_differs": _("Collected: %(captured)s taken for %(collected)s handed over."),
    "status_disagrees": _("The order says %(order)s, its payment says %(payment)s."),
    "hold_not_released": _("%(status)s, but its card hold is still authorised (not released)."),
    "payment_timed_out": _("Still awaiting online payment %(waited)s after checkout."),
    "hold_lost": _(
        "An open online order without an authorised card payment (hold lost or voided)."
    ),
    "operation_in_flight": _("A provider call (%(operation)s) is in flight or stuck."),
    "extra_hold": ngettext_lazy(
        "%(count)s card hold is open besides the one the order uses.",
        "%(count)s card holds are open besides the one the order uses.",
        "count",
    ),
}

MISMATCH_LIMIT = 200


def payment_mismatches(
    *, stores, now: datetime | None = None, limit: int = MISMATCH_LIMIT
) -> list[PaymentMismatch]:
    """Orders of ``stores`` whose payment state disagrees with their status, with a reason
    code and text each (an order can have several). One query: every check is a subquery or
    an EXISTS on the order row, and only orders failing one of them are read (at most
    ``limit`` of them, most recent first)."""
    now = now or timezone.now()
    deadline = now - timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES)
    own = Payment.objects.filter(order=OuterRef("pk"), refund_of__isnull=True)
    taken = own.filter(status__in=[PaymentStatus.PAID, PaymentStatus.REFUNDED])
    # The order's payment: the latest of its payment method's provider, a real attempt
    # (not an unpaid leftover) first; else the latest of any provider.
    primary = own.annotate(
        same_method=Case(
            When(
                Q(provider=Payment.Provider.STRIPE, order__payment_method=PaymentMethod.ONLINE)
                | Q(
                    provider=Payment.Provider.IN_STORE,
                    order__payment_method=PaymentMethod.IN_STORE,
                ),
                then=Value(0),
            ),
            default=Value(1),
        ),
        unpaid=Case(When(status=PaymentStatus.UNPAID, then=Value(1)), default=Value(0)),
    ).order_by("same_method", "unpaid", "-pk")
    captured = (
        taken.values("order").annotate(total=Sum("amount_captured")).values("total").order_by()
    )
    collected_total = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .values("order")
        .annotate(total=Sum(F("unit_price") * Coalesce("collected_quantity", 0)))
        .values("total")
        .order_by()
    )
    decimal = DecimalField(max_digits=14, decimal_places=2)
    orders = (
        Order.objects.filter(store__in=list(stores))
        .select_related("store")
        .annotate(
            has_taken=Exists(taken),
            captured_total=Coalesce(Subquery(captured, output_field=decimal), ZERO),
            collected_total=Coalesce(Subquery(collected_total, output_field=decimal), ZERO),
            primary_status=Subquery(primary.values("status")[:1]),
            hold_open=Exists(
                own.filter(provider=Payment.Provider.STRIPE, status=PaymentStatus.AUTHORISED)
            ),
            hold_ok=Exists(
                own.filter(
                    provider=Payment.Provider.STRIPE,
                    status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID],
                )
            ),
            extra_holds=Coalesce(
                Subquery(
                    extra_card_holds()
                    .filter(order=OuterRef("pk"))
                    .values("order")
                    .annotate(count=Count("pk"))
                    .values("count")
                    .order_by()
                ),
                0,
            ),
            operation=Subquery(
                Payment.objects.filter(order=OuterRef("pk"))
                .exclude(pending_operation="")
                .order_by("pk")
                .values("pending_operation")[:1]
            ),
        )
        .annotate(
            payment_state=Coalesce("primary_status", Value(PaymentStatus.UNPAID)),
        )
    )
    open_online = Q(
        status__in=[OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY],
        payment_method=PaymentMethod.ONLINE,
        hold_ok=False,
    )
    collected = Q(status=OrderStatus.COLLECTED)
    flagged = orders.filter(
        (collected & Q(has_taken=False))
        | (collected & ~Q(captured_total=F("collected_total")))
        | ~Q(payment_status=F("payment_state"))
        | Q(status__in=[OrderStatus.CANCELLED, OrderStatus.EXPIRED], hold_open=True)
        | Q(
            status=OrderStatus.PENDING_PAYMENT,
            payment_method=PaymentMethod.ONLINE,
            created_at__lt=deadline,
        )
        | open_online
        | Q(operation__isnull=False)
        | Q(extra_holds__gt=0)
    ).order_by("-created_at", "-pk")[:limit]

    found: list[PaymentMismatch] = []
    for order in flagged:
        found.extend(_mismatches_of(order, now))
    return found


def payment_anomalies(
    *, stores, unattributed: bool = False, limit: int = MISMATCH_LIMIT
) -> list[PaymentAnomaly]:
    """Refused provider events (see ``services.handle_stripe_event``) about orders of
    ``stores``, and with ``unattributed`` those naming no order of ours (for who sees every
    store), most recent first. One query."""
    scope = Q(order__store__in=list(stores))
    if unattributed:
        scope |= Q(order__isnull=True)
    return list(
        PaymentAnomaly.objects.filter(scope)
        .select_related("order__store")
        .order_by("-created_at", "-pk")[:limit]
    )


def _mismatches_of(order: Order, now: datetime) -> list[PaymentMismatch]:
    """The reasons an annotated order (see ``payment_mismatches``) was flagged."""
    reasons: list[tuple[str, str]] = []
    labels = MISMATCH_LABELS
    if order.status == OrderStatus.COLLECTED:
        if not order.has_taken:
            reasons.append(("collected_unpaid", str(labels["collected_unpaid"])))
        elif order.captured_total != order.collected_total:
            reasons.append(
                (
                    "captured_differs",
                    str(labels["captured_differs"])
                    % {
                        "captured": money(order.captured_total, order.currency),
                        "collected": money(order.collected_total, order.currency),
                    },
                )
            )
    if order.payment_status != order.payment_state:
        reasons.append(
            (
                "status_disagrees",
                str(labels["status_disagrees"])
                % {
                    "order": PaymentStatus(order.payment_status).label,
                    "payment": PaymentStatus(order.payment_state).label,
                },
            )
        )
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED) and order.hold_open:
        reasons.append(
            (
                "hold_not_released",
                str(labels["hold_not_released"]) % {"status": OrderStatus(order.status).label},
            )
        )
    deadline = now - timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES)
    if (
        order.status == OrderStatus.PENDING_PAYMENT
        and order.payment_method == PaymentMethod.ONLINE
        and order.created_at < deadline
    ):
        waited = timesince(order.created_at, now)
        reasons.append(("payment_timed_out", str(labels["payment_timed_out"]) % {"waited": waited}))
    if (
        order.status in (OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY)
        and order.payment_method == PaymentMethod.ONLINE
        and not order.hold_ok
    ):
        reasons.append(("hold_lost", str(labels["hold_lost"])))
    if order.extra_holds:
        reasons.append(("extra_hold", labels["extra_hold"] % {"count": order.extra_holds}))
    if order.operation:
        reasons.append(
            (
                "operation_in_flight",
                str(labels["operation_in_flight"]) % {"operation": order.operation},
            )
        )
    return [PaymentMismatch(order=order, code=code, detail=detail) for code, detail in reasons]


def lock_order(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("store", "customer")
        .get(pk=order.pk)
    )
