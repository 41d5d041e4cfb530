"""The facts click & collect KPIs are computed from: for the orders placed at some stores on
some local days, when each was placed, due, ready, announced ("I'm here") and collected, how
it ended, and what was handed over of what was ordered.

Four queries whatever the number of orders: the orders with their first "ready" time, the
collected orders' units, the reminders sent and the survey answers. And when customers come
to the counter, by weekday and hour (for staffing it).
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay

from customers.models import NotificationKind
from customers.selectors import sent_messages_by_order, survey_answers
from orders.models import Order, OrderEvent, OrderLine, OrderStatus
from orders.selectors.sales import local_bounds


@dataclass(frozen=True)
class OrderFacts:
    number: str
    store_id: int
    status: str
    placed_at: datetime
    slot_start: datetime
    ready_at: datetime | None
    arrived_at: datetime | None
    collected_at: datetime | None
    cancel_reason: str


@dataclass
class CohortFacts:
    """What the KPIs need about the orders placed in a range."""

    orders: list[OrderFacts]
    # Collected orders' units: (ordered, handed over) per order number.
    units: dict[str, tuple[int, int]]
    # Reminders that went out, per order number.
    reminders: dict[str, int]
    # Survey answers: (order number, score, comment, answered at).
    answers: list[tuple[str, int, str, datetime]]


def placed_orders(*, stores, start: date, end: date):
    """The orders placed at ``stores`` on their local days ``start`` to ``end`` (included)."""
    by_zone: dict[str, list[int]] = {}
    for store in stores:
        by_zone.setdefault(store.timezone, []).append(store.pk)
    match = Q(pk__in=[])
    for zone, store_ids in by_zone.items():
        first, last = local_bounds(zoneinfo.ZoneInfo(zone), start, end)
        match |= Q(store_id__in=store_ids, created_at__gte=first, created_at__lt=last)
    return Order.objects.filter(match)


def cohort_facts(*, stores, start: date, end: date, channel: str = "") -> CohortFacts:
    """The facts of the orders placed in the range (through ``channel`` only, if given)."""
    orders = placed_orders(stores=stores, start=start, end=end)
    if channel:
        orders = orders.filter(channel=channel)
    ready_at = (
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=OrderStatus.READY)
        .values("order")
        .annotate(first=Min("created_at"))
        .values("first")
    )
    facts = [
        OrderFacts(*row)
        for row in orders.annotate(ready_at=Subquery(ready_at))
        .values_list(
            "number",
            "store_id",
            "status",
            "created_at",
            "slot_start",
            "ready_at",
            "arrived_at",
            "handover__collected_at",
            "cancel_reason",
        )
        .order_by()
    ]
    collected = orders.filter(status=OrderStatus.COLLECTED)
    units = {
        row["number"]: (row["ordered"] or 0, row["handed"] or 0)
        for row in OrderLine.objects.filter(order__in=collected)
        .values(number=F("order__number"))
        .annotate(ordered=Sum("quantity"), handed=Sum("collected_quantity"))
        .order_by()
    }
    numbers = collected.values("number")
    reminders = sent_messages_by_order(order_numbers=numbers, kind=NotificationKind.REMINDER)
    answers = [
        (a.order_number, a.score, a.comment, a.created_at)
        for a in survey_answers(order_numbers=orders.values("number"))
    ]
    return CohortFacts(orders=facts, units=units, reminders=reminders, answers=answers)


def arrivals_by_hour(*, stores, start: date, end: date) -> dict[tuple[int, int, int], int]:
    """Customers arriving at the counter on the stores' local days ``start`` to ``end``:
    {(store id, ISO weekday 1–7, local hour 0–23): orders}. An arrival is the customer's
    "I'm here", else the handover (they were at the counter then). One query per store time
    zone."""
    counts: dict[tuple[int, int, int], int] = {}
    by_zone: dict[str, list[int]] = {}
    for store in stores:
        by_zone.setdefault(store.timezone, []).append(store.pk)
    arrived = Coalesce("arrived_at", "handover__collected_at")
    for zone, store_ids in by_zone.items():
        tz = zoneinfo.ZoneInfo(zone)
        first, last = local_bounds(tz, start, end)
        rows = (
            Order.objects.filter(store_id__in=store_ids)
            .annotate(arrival=arrived)
            .filter(arrival__gte=first, arrival__lt=last)
            .values(
                "store_id",
                weekday=ExtractIsoWeekDay("arrival", tzinfo=tz),
                hour=ExtractHour("arrival", tzinfo=tz),
            )
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            counts[(row["store_id"], row["weekday"], row["hour"])] = row["n"]
    return counts
