"""Reconciliation for managers: money per store and day, orders whose payment does not match
their state, extra card holds and payment anomalies.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
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
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from core.display import money
from orders.models import (
    Handover,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentAnomaly,
    PaymentMethod,
    PaymentStatus,
)
from orders.selectors.money import ZERO
from stores.models import Store


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
        days = {"tz": zoneinfo.ZoneInfo(tz_name), "start": start, "end": end}
        for item in _taken(group, **days):
            target = row(item["order__store_id"], item["day"], item["currency"])
            target.online_captured += _money(item["online"])
            target.in_store_card += _money(item["card"])
            target.in_store_cash += _money(item["cash"])
        for item in _refunded(group, **days):
            target = row(item["order__store_id"], item["day"], item["currency"])
            target.refunded_online += _money(item["online"])
            target.refunded_counter += _money(item["counter"])
        for item in _collected(group, **days):
            target = row(item["order__store_id"], item["day"], item["order__currency"])
            target.orders_collected += item["count"]

    ordered = sorted(rows.values(), key=lambda r: (r.day, r.store.code, r.currency))
    totals: dict[str, ReconciliationRow] = {}
    for item in ordered:
        totals.setdefault(
            item.currency, ReconciliationRow(store=None, day=None, currency=item.currency)
        ).add(item)
    return Reconciliation(rows=ordered, totals=[totals[c] for c in sorted(totals)])


def _taken(stores, *, tz, start: date, end: date):
    """Money captured per store, local day and currency: online, and card / cash at the till."""
    taken_at = Coalesce("captured_at", "order__handover__collected_at", "created_at")
    return (
        Payment.objects.filter(
            order__store__in=stores, refund_of__isnull=True, amount_captured__gt=0
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


def _refunded(stores, *, tz, start: date, end: date):
    """Refund rows per store, local day and currency: online and at the counter."""
    return (
        Payment.objects.filter(order__store__in=stores, refund_of__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .filter(day__range=(start, end))
        .values("order__store_id", "day", "currency")
        .annotate(
            online=Sum("amount_refunded", filter=Q(provider=Payment.Provider.STRIPE)),
            counter=Sum("amount_refunded", filter=~Q(provider=Payment.Provider.STRIPE)),
        )
        .order_by()
    )


def _collected(stores, *, tz, start: date, end: date):
    """Collected orders per store, local day of the handover and currency."""
    return (
        Handover.objects.filter(order__store__in=stores, order__status=OrderStatus.COLLECTED)
        .annotate(day=TruncDate("collected_at", tzinfo=tz))
        .filter(day__range=(start, end))
        .values("order__store_id", "day", "order__currency")
        .annotate(count=Count("pk"))
        .order_by()
    )


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
    orders = _with_payment_checks(Order.objects.filter(store__in=list(stores)))
    flagged = orders.filter(_disagrees(deadline)).order_by("-created_at", "-pk")[:limit]
    found: list[PaymentMismatch] = []
    for order in flagged:
        found.extend(_mismatches_of(order, now))
    return found


DECIMAL = DecimalField(max_digits=14, decimal_places=2)


def _with_payment_checks(orders):
    """``orders`` annotated with what the checks compare, each a subquery on the order row."""
    own = Payment.objects.filter(order=OuterRef("pk"), refund_of__isnull=True)
    taken = own.filter(status__in=[PaymentStatus.PAID, PaymentStatus.REFUNDED])
    stripe = own.filter(provider=Payment.Provider.STRIPE)
    per_order = {"order": OuterRef("pk")}
    return (
        orders.select_related("store")
        .annotate(
            has_taken=Exists(taken),
            captured_total=Coalesce(Subquery(_sum_per_order(taken, "amount_captured")), ZERO),
            collected_total=Coalesce(Subquery(_collected_value()), ZERO),
            primary_status=Subquery(_primary_payment(own).values("status")[:1]),
            hold_open=Exists(stripe.filter(status=PaymentStatus.AUTHORISED)),
            hold_ok=Exists(
                stripe.filter(status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID])
            ),
            extra_holds=Coalesce(
                Subquery(_count_per_order(extra_card_holds().filter(**per_order))), 0
            ),
            operation=Subquery(
                Payment.objects.filter(**per_order)
                .exclude(pending_operation="")
                .order_by("pk")
                .values("pending_operation")[:1]
            ),
        )
        .annotate(payment_state=Coalesce("primary_status", Value(PaymentStatus.UNPAID)))
    )


def _primary_payment(own):
    """The order's payment: the latest of its payment method's provider, a real attempt (not
    an unpaid leftover) first; else the latest of any provider."""
    return own.annotate(
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


def _sum_per_order(payments, field: str):
    return (
        payments.values("order")
        .annotate(total=Sum(field, output_field=DECIMAL))
        .values("total")
        .order_by()
    )


def _count_per_order(rows):
    return rows.values("order").annotate(count=Count("pk")).values("count").order_by()


def _collected_value():
    """The value of the units handed over."""
    return (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .values("order")
        .annotate(
            total=Sum(F("unit_price") * Coalesce("collected_quantity", 0), output_field=DECIMAL)
        )
        .values("total")
        .order_by()
    )


def _disagrees(deadline: datetime) -> Q:
    """An order whose payment state disagrees with its status (``_with_payment_checks``)."""
    collected = Q(status=OrderStatus.COLLECTED)
    return (
        (collected & Q(has_taken=False))
        | (collected & ~Q(captured_total=F("collected_total")))
        | ~Q(payment_status=F("payment_state"))
        | Q(status__in=[OrderStatus.CANCELLED, OrderStatus.EXPIRED], hold_open=True)
        | Q(
            status=OrderStatus.PENDING_PAYMENT,
            payment_method=PaymentMethod.ONLINE,
            created_at__lt=deadline,
        )
        | Q(
            status__in=[OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY],
            payment_method=PaymentMethod.ONLINE,
            hold_ok=False,
        )
        | Q(operation__isnull=False)
        | Q(extra_holds__gt=0)
    )


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
