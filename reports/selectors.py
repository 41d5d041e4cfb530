"""The figures managers read, put together from the apps' selectors: sales by channel, store
or day, one row per currency (money is never added across currencies)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from orders.selectors import ZERO, collected_sales

SALES_KEYS = ("channel", "store", "day")


@dataclass
class SalesFigure:
    """Collected orders under one key (a channel, a store's code or a day) in one currency."""

    key: str
    currency: str
    orders: int = 0
    items: int = 0
    gross: Decimal = ZERO
    refunds: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds

    @property
    def average_basket(self) -> Decimal | None:
        """Net revenue per collected order (None without orders)."""
        return (self.net / self.orders).quantize(Decimal("0.01")) if self.orders else None


def sales_by(group_by: str, *, stores, start: date, end: date) -> list[SalesFigure]:
    """Sales of ``stores`` from local day ``start`` to ``end`` (included) grouped by
    ``group_by`` (one of ``SALES_KEYS``), sorted by key then currency."""
    codes = {store.pk: store.code for store in stores}
    keys = {
        "channel": lambda row: row.channel,
        "store": lambda row: codes[row.store_id],
        "day": lambda row: row.day.isoformat(),
    }
    key_of = keys[group_by]
    figures: dict[tuple[str, str], SalesFigure] = {}
    for row in collected_sales(stores=stores, start=start, end=end):
        key = (key_of(row), row.currency)
        figure = figures.setdefault(key, SalesFigure(*key))
        figure.orders += row.orders
        figure.items += row.items
        figure.gross += row.gross
        figure.refunds += row.refunds
    return [figures[key] for key in sorted(figures)]
