"""The figures managers read, put together from the apps' selectors: sales by channel, store
or day, one row per currency (money is never added across currencies), and the click &
collect KPIs of the orders placed in a range, and the follow-ups of unhappy customers."""

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import NpsFollowUp
from customers.selectors import survey_follow_ups
from orders.models import Order, OrderStatus
from orders.selectors import (
    CohortFacts,
    OrderFacts,
    Takings,
    arrivals_by_hour,
    cohort_facts,
    collected_sales,
    order_numbers_at,
    orders_by_number,
)
from stores.selectors import managed_stores

SALES_KEYS = ("channel", "store", "day")


@dataclass
class SalesFigure(Takings):
    """Collected orders under one key (a channel, a store's code or a day) in one currency."""

    key: str
    currency: str


def sales_by(
    group_by: str, *, stores, start: date, end: date, channel: str = ""
) -> list[SalesFigure]:
    """Sales of ``stores`` from local day ``start`` to ``end`` (included), through
    ``channel`` only if given, grouped by ``group_by`` (one of ``SALES_KEYS``), sorted by key
    then currency."""
    codes = {store.pk: store.code for store in stores}
    keys = {
        "channel": lambda row: row.channel,
        "store": lambda row: codes[row.store_id],
        "day": lambda row: row.day.isoformat(),
    }
    key_of = keys[group_by]
    figures: dict[tuple[str, str], SalesFigure] = {}
    for row in collected_sales(stores=stores, start=start, end=end):
        if channel and row.channel != channel:
            continue
        key = (key_of(row), row.currency)
        figures.setdefault(key, SalesFigure(*key)).add(row)
    return [figures[key] for key in sorted(figures)]


# --- Click & collect KPIs -------------------------------------------------------------------

# What each figure means, as the dashboard shows it on hover.
KPI_DEFINITIONS = {
    "ready_on_time_rate": _(
        "Of the orders made ready, the share that was ready before its pickup slot started."
    ),
    "lead_time_minutes": _(
        "From placing the order to ready, in minutes: median and 90th percentile."
    ),
    "ready_to_collected_minutes": _(
        "From ready to handed over, in minutes, for the orders collected: median and 90th "
        "percentile."
    ),
    "counter_wait_minutes": _(
        "From the customer's “I'm here” to the handover, in minutes: median and 90th percentile."
    ),
    "no_show_rate": _("Of the orders made ready, the share never collected (expired)."),
    "cancellation_rate": _("Of the orders placed, the share cancelled, by the reason given."),
    "fill_rate": _(
        "In the orders collected, the units handed over of the units ordered (a line the "
        "customer refused counts as not handed over)."
    ),
    "reminders_per_collected": _("Pickup reminders sent per order collected."),
    "nps": _(
        "Net Promoter Score: promoters (9–10) minus detractors (0–6), as a share of the "
        "answers, from −100 to 100."
    ),
}


@dataclass(frozen=True)
class Spread:
    """The median and 90th percentile (nearest rank) of some durations, in minutes."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, minutes: list[float]) -> "Spread":
        if not minutes:
            return cls(None, None, 0)
        ordered = sorted(minutes)
        p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
        return cls(round(statistics.median(ordered), 1), round(p90, 1), len(ordered))


@dataclass(frozen=True)
class Nps:
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        if not self.answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.answers)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _minutes(later, earlier) -> float:
    return (later - earlier).total_seconds() / 60


@dataclass(frozen=True)
class Kpis:
    """Click & collect KPIs of the orders placed in a range (see ``KPI_DEFINITIONS``)."""

    orders: int
    ready: int
    collected: int
    ready_on_time_rate: float | None
    lead_time_minutes: Spread
    ready_to_collected_minutes: Spread
    counter_wait_minutes: Spread
    no_show_rate: float | None
    cancellation_rate: float | None
    cancellations: dict[str, int]
    fill_rate: float | None
    reminders_per_collected: float | None
    nps: Nps

    @classmethod
    def of(cls, orders: list[OrderFacts], facts: CohortFacts) -> "Kpis":
        made_ready = [o for o in orders if o.ready_at is not None]
        collected = [o for o in orders if o.status == OrderStatus.COLLECTED and o.collected_at]
        expired = [o for o in made_ready if o.status == OrderStatus.EXPIRED]
        cancelled = Counter(o.cancel_reason for o in orders if o.status == OrderStatus.CANCELLED)
        numbers = {o.number for o in orders}
        ordered = sum(facts.units.get(o.number, (0, 0))[0] for o in collected)
        handed = sum(facts.units.get(o.number, (0, 0))[1] for o in collected)
        scores = [score for number, score, _, _ in facts.answers if number in numbers]
        return cls(
            orders=len(orders),
            ready=len(made_ready),
            collected=len(collected),
            ready_on_time_rate=_share(
                sum(1 for o in made_ready if o.ready_at <= o.slot_start), len(made_ready)
            ),
            lead_time_minutes=Spread.of([_minutes(o.ready_at, o.placed_at) for o in made_ready]),
            ready_to_collected_minutes=Spread.of(
                [_minutes(o.collected_at, o.ready_at) for o in collected if o.ready_at]
            ),
            counter_wait_minutes=Spread.of(
                [_minutes(o.collected_at, o.arrived_at) for o in collected if o.arrived_at]
            ),
            no_show_rate=_share(len(expired), len(made_ready)),
            cancellation_rate=_share(sum(cancelled.values()), len(orders)),
            cancellations=dict(cancelled.most_common()),
            fill_rate=_share(handed, ordered),
            reminders_per_collected=_share(
                sum(facts.reminders.get(o.number, 0) for o in collected), len(collected)
            ),
            nps=Nps(
                promoters=sum(1 for s in scores if s >= 9),
                passives=sum(1 for s in scores if 7 <= s <= 8),
                detractors=sum(1 for s in scores if s <= 6),
            ),
        )


def kpis(*, stores, start: date, end: date, channel: str = "") -> tuple[Kpis, dict[int, Kpis]]:
    """The KPIs of the orders placed at ``stores`` on their local days ``start`` to ``end``
    (through ``channel`` only, if given): over all of them, and per store (by id; every store
    asked for, even without orders)."""
    facts = cohort_facts(stores=stores, start=start, end=end, channel=channel)
    by_store: dict[int, list[OrderFacts]] = {store.pk: [] for store in stores}
    for order in facts.orders:
        by_store[order.store_id].append(order)
    return Kpis.of(facts.orders, facts), {
        store_id: Kpis.of(orders, facts) for store_id, orders in by_store.items()
    }


# --- Closed-loop NPS ------------------------------------------------------------------------

# An open follow-up older than this is flagged.
FOLLOW_UP_FLAG_AFTER = timedelta(hours=48)
FOLLOW_UPS_SHOWN = 200


@dataclass(frozen=True)
class FollowUpItem:
    """A detractor's answer to follow up, with the order and store it is about."""

    follow_up: NpsFollowUp
    order: Order | None
    flagged: bool


def follow_ups(*, stores, status: str = "", now: datetime | None = None) -> list[FollowUpItem]:
    """The follow-ups of answers about orders of ``stores`` (``status``: only those, else
    all), open ones first, oldest first; an open one older than ``FOLLOW_UP_FLAG_AFTER`` is
    flagged. Two queries."""
    now = now or timezone.now()
    found = survey_follow_ups(order_numbers=order_numbers_at(stores=stores))
    if status:
        found = found.filter(status=status)
    found = list(found[:FOLLOW_UPS_SHOWN])
    by_number = orders_by_number(f.answer.order_number for f in found)
    return [
        FollowUpItem(
            follow_up=f,
            order=by_number.get(f.answer.order_number),
            flagged=f.status == NpsFollowUp.Status.OPEN
            and f.created_at <= now - FOLLOW_UP_FLAG_AFTER,
        )
        for f in found
    ]


def follow_up_for_manager(user, follow_up_id) -> NpsFollowUp:
    """The follow-up if its order is at a store ``user`` manages; 404 otherwise."""
    try:
        follow_up_id = int(follow_up_id)
    except (TypeError, ValueError):
        raise Http404 from None
    stores, _chosen = managed_scope(user)
    numbers = order_numbers_at(stores=stores)
    follow_up = survey_follow_ups(order_numbers=numbers).filter(pk=follow_up_id).first()
    if follow_up is None:
        raise Http404
    return follow_up


def managed_scope(user, store_code: str = "") -> tuple[list, object]:
    """The stores ``user`` manages (every store for a superuser; PermissionDenied if none) and
    the one chosen by ``store_code`` (None: all of them; Http404 for a store they do not
    manage, so nothing says whether it exists)."""
    stores = list(managed_stores(user))
    if not stores:
        raise PermissionDenied
    if not store_code:
        return stores, None
    chosen = next((store for store in stores if store.code == store_code), None)
    if chosen is None:
        raise Http404("No such store")
    return stores, chosen


# --- Arrivals at the counter ----------------------------------------------------------------


@dataclass(frozen=True)
class Heatmap:
    """Arrivals at one store: ``cells[weekday - 1][hour]`` (Monday first, local hours)."""

    store: object
    cells: list[list[int]]

    @property
    def busiest(self) -> int:
        return max((n for row in self.cells for n in row), default=0)


def arrival_heatmaps(*, stores, start: date, end: date) -> list[Heatmap]:
    """Per store (in the order given), customers arriving at the counter by weekday and local
    hour over the local days ``start`` to ``end``."""
    counts = arrivals_by_hour(stores=stores, start=start, end=end)
    return [
        Heatmap(
            store=store,
            cells=[
                [counts.get((store.pk, weekday, hour), 0) for hour in range(24)]
                for weekday in range(1, 8)
            ],
        )
        for store in stores
    ]
