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


@dataclass
class SalesRow:
    """Collected orders of one store on one local day, through one channel, in one currency."""

    store_id: int
    day: date
    channel: str
    currency: str
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
    for zone, store_ids in by_zone.items():
        tz = zoneinfo.ZoneInfo(zone)
        window = local_bounds(tz, start, end)
        for item in _orders(store_ids, tz, window):
            key = (item["store"], item["day"], item["channel"], item["currency_code"])
            rows[key] = SalesRow(*key, orders=item["orders"])
        for item in _items(store_ids, tz, window):
            key = (item["store"], item["day"], item["channel"], item["currency_code"])
            rows[key].items = item["items"] or 0
        for item in _payments(store_ids, tz, window):
            key = (item["store"], item["day"], item["channel"], item["currency_code"])
            rows[key].gross = _amount(item["gross"])
            rows[key].refunds = _amount(item["refunds"])
            rows[key].online = _amount(item["online"])
    return sorted(rows.values(), key=lambda r: (r.day, r.store_id, r.channel, r.currency))


def _collected(prefix: str, store_ids: list[int], window: tuple[datetime, datetime], at: str) -> Q:
    """Collected orders of these stores handed over within ``window``: ``prefix`` leads from
    the model queried to its order, ``at`` to the handover's collection time."""
    return Q(
        **{
            f"{prefix}store_id__in": store_ids,
            f"{prefix}status": OrderStatus.COLLECTED,
            f"{at}__gte": window[0],
            f"{at}__lt": window[1],
        }
    )


def _orders(store_ids, tz, window):
    return (
        Handover.objects.filter(_collected("order__", store_ids, window, "collected_at"))
        .values(
            store=F("order__store_id"),
            day=TruncDate("collected_at", tzinfo=tz),
            channel=F("order__channel"),
            currency_code=F("order__currency"),
        )
        .annotate(orders=Count("pk"))
        .order_by()
    )


def _items(store_ids, tz, window):
    return (
        OrderLine.objects.filter(
            _collected("order__", store_ids, window, "order__handover__collected_at")
        )
        .values(
            store=F("order__store_id"),
            day=TruncDate("order__handover__collected_at", tzinfo=tz),
            channel=F("order__channel"),
            currency_code=F("order__currency"),
        )
        .annotate(items=Sum("collected_quantity"))
        .order_by()
    )


def _payments(store_ids, tz, window):
    """Money taken (captured payments) and given back (refund rows) for those orders."""
    return (
        Payment.objects.filter(
            _collected("order__", store_ids, window, "order__handover__collected_at")
        )
        .values(
            store=F("order__store_id"),
            day=TruncDate("order__handover__collected_at", tzinfo=tz),
            channel=F("order__channel"),
            currency_code=F("order__currency"),
        )
        .annotate(
            gross=Sum("amount_captured", filter=Q(refund_of__isnull=True)),
            refunds=Sum("amount_refunded", filter=Q(refund_of__isnull=False)),
            online=Sum(
                "amount_captured",
                filter=Q(refund_of__isnull=True, provider=Payment.Provider.STRIPE),
            ),
        )
        .order_by()
    )
