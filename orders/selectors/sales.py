"""Sales for managers: what collected orders brought in, per store, local day, channel and
currency.

An order counts on the store's local day of its collection (its handover), with what was
taken for it (captured online or paid at the counter: ``gross``) and what was given back for
it (``refunds``, whenever the refund was made: a late refund lowers the day the order was
collected on). Money is never added across currencies: every row has one.

Three queries per distinct store time zone (orders and items, money taken, money given back),
each along the handovers' collection time, whatever the number of orders.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from orders.models import Handover, OrderLine, OrderStatus, Payment
from orders.selectors.money import ZERO

CENT = Decimal("0.01")


@dataclass(kw_only=True)
class Takings:
    """Collected orders and the money they brought in (one currency)."""

    orders: int = 0
    items: int = 0
    gross: Decimal = ZERO
    refunds: Decimal = ZERO
    # Of ``gross``: taken online (card captured at pickup), the rest at the counter.
    online: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds

    @property
    def at_counter(self) -> Decimal:
        return self.gross - self.online

    @property
    def online_share(self) -> float | None:
        """The share of the money taken that was taken online (the payment mix)."""
        return round(float(self.online / self.gross), 4) if self.gross else None

    @property
    def average_basket(self) -> Decimal | None:
        """Net revenue per collected order (None without orders)."""
        return (self.net / self.orders).quantize(CENT) if self.orders else None

    def add(self, other: "Takings") -> None:
        self.orders += other.orders
        self.items += other.items
        self.gross += other.gross
        self.refunds += other.refunds
        self.online += other.online


@dataclass
class SalesRow(Takings):
    """Collected orders of one store on one local day, through one channel, in one currency."""

    store_id: int
    day: date
    channel: str
    currency: str


def _amount(value) -> Decimal:
    """A summed amount to the cent (SQLite sums decimals as floats)."""
    return (value or ZERO).quantize(CENT)


def local_bounds(tz: zoneinfo.ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    """The instants the local days ``start`` to ``end`` (included) begin and end in ``tz``."""
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def collected_sales(*, stores, start: date, end: date) -> list[SalesRow]:
    """The collected orders of ``stores`` from local day ``start`` to ``end`` (included), one
    row per (store, day, channel, currency) that had any, sorted by day, store and channel."""
    by_zone: dict[str, list[int]] = {}
    for store in stores:
        by_zone.setdefault(store.timezone, []).append(store.pk)
    rows: dict[tuple, SalesRow] = {}
    taken = Q(refund_of__isnull=True)
    for zone, store_ids in by_zone.items():
        where = (
            store_ids,
            zoneinfo.ZoneInfo(zone),
            local_bounds(zoneinfo.ZoneInfo(zone), start, end),
        )
        for key, item in _sums(Handover.objects, "collected_at", *where, orders=Count("pk")):
            rows[key] = SalesRow(*key, orders=item["orders"])
        for key, item in _sums(
            OrderLine.objects, THROUGH_ORDER, *where, items=Sum("collected_quantity")
        ):
            rows[key].items = item["items"] or 0
        for key, item in _sums(
            Payment.objects,
            THROUGH_ORDER,
            *where,
            gross=Sum("amount_captured", filter=taken),
            refunds=Sum("amount_refunded", filter=Q(refund_of__isnull=False)),
            online=Sum("amount_captured", filter=taken & Q(provider=Payment.Provider.STRIPE)),
        ):
            rows[key].gross = _amount(item["gross"])
            rows[key].refunds = _amount(item["refunds"])
            rows[key].online = _amount(item["online"])
    return sorted(rows.values(), key=lambda r: (r.day, r.store_id, r.channel, r.currency))


# From an order's line or payment to its handover's collection time.
THROUGH_ORDER = "order__handover__collected_at"


def _sums(manager, at: str, store_ids: list[int], tz, window, **aggregates):
    """``aggregates`` over the rows of ``manager``'s model (a handover, or a line or payment
    of an order) of the collected orders of these stores handed over within ``window`` (``at``
    leads to the collection time), per (store, local day, channel, currency): yields that key
    and the row."""
    rows = (
        manager.filter(
            order__store_id__in=store_ids,
            order__status=OrderStatus.COLLECTED,
            **{f"{at}__gte": window[0], f"{at}__lt": window[1]},
        )
        .values(
            store=F("order__store_id"),
            day=TruncDate(at, tzinfo=tz),
            channel=F("order__channel"),
            currency_code=F("order__currency"),
        )
        .annotate(**aggregates)
        .order_by()
    )
    for item in rows:
        yield (item["store"], item["day"], item["channel"], item["currency_code"]), item
