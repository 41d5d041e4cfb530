"""GET /api/v1/reports/kpis/: click & collect KPIs of the orders placed in a range, over all
the stores asked for and per store; for managers only.

A small history with every figure worked out by hand, then random histories checked against
direct SQL (percentile_disc for the 90th percentile, the first "ready" event per order).
"""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Notification, NotificationKind, NpsAnswer
from orders.models import OrderEvent, OrderStatus
from stores.models import StaffMembership
from tests.support.api_client import Api
from tests.support.order_rows import hand_over, make_order
from tests.support.staff import staff_api

URL = "/api/v1/reports/kpis/"
MADRID = ZoneInfo("Europe/Madrid")
DAY = datetime(2025, 3, 10, 9, 0, tzinfo=MADRID)
RANGE = {"from": "2025-03-10", "to": "2025-03-10"}


def an_order(
    store,
    clerk,
    *,
    placed,
    slot,
    status,
    ready=None,
    arrived=None,
    collected=None,
    units=(1, 1),
    reason="",
    channel="web",
):
    """An order placed at ``placed`` for the slot ``slot``, made ready at ``ready`` (an event),
    with the customer's "I'm here" at ``arrived`` and its handover at ``collected``; ``units``:
    (ordered, handed over)."""
    order = make_order(
        store,
        ("10.00", units[0], units[1] if status == OrderStatus.COLLECTED else None),
        status=status,
        created_at=placed,
        channel=channel,
    )
    order.slot_start, order.slot_end = slot, slot + timedelta(minutes=30)
    order.arrived_at, order.cancel_reason = arrived, reason
    order.save(update_fields=["slot_start", "slot_end", "arrived_at", "cancel_reason"])
    if ready:
        for at in (ready, ready + timedelta(minutes=90)):  # a second "ready" (resent) is ignored
            OrderEvent.objects.create(
                order=order,
                from_status="preparing",
                to_status="ready",
                actor="staff",
                channel="store",
                created_at=at,
            )
    if collected:
        hand_over(order, clerk, at=collected)
    return order


def reminder(order, *, status=Notification.Status.SENT):
    return Notification.objects.create(
        customer=order.customer,
        order_number=order.number,
        kind=NotificationKind.REMINDER,
        dedupe_key=f"reminder:{order.number}:{Notification.objects.count()}",
        status=status,
    )


def answer(order, score, comment=""):
    return NpsAnswer.objects.create(
        customer=order.customer, order_number=order.number, score=score, comment=comment
    )


@pytest.fixture
def day_at_madrid(madrid, clerk_user):
    """Six orders placed on 10 March at Madrid, and one the day before."""
    slot = DAY + timedelta(hours=4)  # 13:00
    o = {}
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    # Ready 2 h after placing, before its slot; collected 30 min after ready, 10 min after "I'm
    # here"; 3 of 4 units handed over; two reminders sent (one more failed).
    o["a"] = an_order(
        madrid,
        clerk_user,
        placed=DAY,
        slot=slot,
        status=OrderStatus.COLLECTED,
        ready=DAY + 2 * h,
        arrived=DAY + 2 * h + 20 * m,
        collected=DAY + 2 * h + 30 * m,
        units=(4, 3),
    )
    # Ready 5 h after placing, after its slot started; collected 60 min after ready, no check-in.
    o["b"] = an_order(
        madrid,
        clerk_user,
        placed=DAY,
        slot=slot,
        status=OrderStatus.COLLECTED,
        ready=DAY + 5 * h,
        collected=DAY + 6 * h,
        units=(2, 2),
    )
    # Ready after 1 h, on time, never collected.
    o["c"] = an_order(
        madrid, clerk_user, placed=DAY, slot=slot, status=OrderStatus.EXPIRED, ready=DAY + h
    )
    o["d"] = an_order(
        madrid,
        clerk_user,
        placed=DAY,
        slot=slot,
        status=OrderStatus.CANCELLED,
        reason="out of stock",
    )
    o["e"] = an_order(
        madrid,
        clerk_user,
        placed=DAY,
        slot=slot,
        status=OrderStatus.CANCELLED,
        reason="out of stock",
    )
    o["f"] = an_order(madrid, clerk_user, placed=DAY, slot=slot, status=OrderStatus.PLACED)
    o["before"] = an_order(
        madrid,
        clerk_user,
        placed=DAY - timedelta(days=1),
        slot=slot,
        status=OrderStatus.COLLECTED,
        ready=DAY,
        collected=DAY + h,
    )
    reminder(o["a"])
    reminder(o["a"])
    reminder(o["a"], status=Notification.Status.FAILED)
    answer(o["a"], 10, "Quick")
    answer(o["b"], 4, "Waited at the counter")
    answer(o["before"], 0)
    return o


def test_each_kpi_of_a_day_worked_out_by_hand(madrid, day_at_madrid):
    body = staff_api(madrid).get(URL, data=RANGE).json()
    kpis = body["overall"]

    assert (kpis["orders"], kpis["ready"], kpis["collected"]) == (6, 3, 2)
    assert kpis["ready_on_time_rate"] == round(2 / 3, 4)  # a and c before 13:00, b after
    # Placed → ready: 60, 120, 300 minutes.
    assert kpis["lead_time_minutes"] == {"median": 120.0, "p90": 300.0, "count": 3}
    assert kpis["ready_to_collected_minutes"] == {"median": 45.0, "p90": 60.0, "count": 2}
    assert kpis["counter_wait_minutes"] == {"median": 10.0, "p90": 10.0, "count": 1}
    assert kpis["no_show_rate"] == round(1 / 3, 4)
    assert kpis["cancellation_rate"] == round(2 / 6, 4)
    assert kpis["cancellations"] == [{"reason": "out of stock", "orders": 2}]
    assert kpis["fill_rate"] == round(5 / 6, 4)
    assert kpis["reminders_per_collected"] == 1.0  # 2 sent over 2 collected
    assert kpis["nps"] == {
        "score": 0,
        "answers": 2,
        "promoters": 1,
        "passives": 0,
        "detractors": 1,
    }
    assert body["stores"] == [{"store": "MAD-01", **kpis}]


def test_per_store_figures_and_stores_without_orders(madrid, barcelona, day_at_madrid):
    body = staff_api(madrid, barcelona).get(URL, data=RANGE).json()
    stores = {row["store"]: row for row in body["stores"]}

    assert [row["store"] for row in body["stores"]] == ["BCN-01", "MAD-01"]
    assert stores["MAD-01"]["orders"] == body["overall"]["orders"] == 6
    assert stores["BCN-01"]["orders"] == 0
    assert stores["BCN-01"]["ready_on_time_rate"] is None
    assert stores["BCN-01"]["lead_time_minutes"] == {"median": None, "p90": None, "count": 0}
    assert stores["BCN-01"]["nps"]["score"] is None


def test_a_manager_sees_only_their_stores_and_others_are_refused(madrid, barcelona, day_at_madrid):
    only_barcelona = staff_api(barcelona)

    body = only_barcelona.get(URL, data=RANGE).json()
    assert body["overall"]["orders"] == 0
    assert [row["store"] for row in body["stores"]] == ["BCN-01"]
    assert only_barcelona.get(URL, data={**RANGE, "store": "MAD-01"}).status_code == 404
    assert (
        staff_api(madrid, role=StaffMembership.Role.CLERK).get(URL, data=RANGE).status_code == 403
    )
    assert Api().get(URL, data=RANGE).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2025-03-10"},
        {"from": "x", "to": "2025-03-10"},
        {"from": "2025-03-11", "to": "2025-03-10"},
        {"from": "2024-01-01", "to": "2025-03-10"},
    ],
)
def test_bad_ranges_get_a_400(madrid, params):
    response = staff_api(madrid).get(URL, data=params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- Against direct SQL on random histories -------------------------------------------------

DIRECT = """
WITH cohort AS (
    SELECT o.id, o.number, o.status, o.created_at, o.slot_start, o.arrived_at,
           h.collected_at,
           (SELECT min(e.created_at) FROM orders_orderevent e
            WHERE e.order_id = o.id AND e.to_status = 'ready') AS ready_at
    FROM orders_order o
    JOIN stores_store s ON s.id = o.store_id
    LEFT JOIN orders_handover h ON h.order_id = o.id
    WHERE s.code = ANY(%(stores)s)
      AND (o.created_at AT TIME ZONE s.timezone)::date BETWEEN %(start)s AND %(end)s
      AND (%(channel)s::text IS NULL OR o.channel = %(channel)s)
)
SELECT
    count(*),
    count(ready_at),
    count(*) FILTER (WHERE ready_at <= slot_start),
    count(*) FILTER (WHERE status = 'expired' AND ready_at IS NOT NULL),
    count(*) FILTER (WHERE status = 'cancelled'),
    percentile_disc(0.9) WITHIN GROUP (
        ORDER BY extract(epoch FROM ready_at - created_at) / 60),
    percentile_disc(0.9) WITHIN GROUP (
        ORDER BY extract(epoch FROM collected_at - arrived_at) / 60)
        FILTER (WHERE status = 'collected'),
    (SELECT sum(l.collected_quantity)::float / sum(l.quantity) FROM orders_orderline l
     JOIN cohort c ON c.id = l.order_id WHERE c.status = 'collected')
FROM cohort
"""


def direct_sql(stores, start, end, channel=None):
    with connection.cursor() as cursor:
        cursor.execute(DIRECT, {"stores": stores, "start": start, "end": end, "channel": channel})
        return cursor.fetchone()


def random_history(rng, stores, clerk, *, orders, first_day):
    for _ in range(orders):
        store = rng.choice(stores)
        placed = datetime.combine(
            first_day + timedelta(days=rng.randrange(6)), datetime.min.time(), tzinfo=store.tz
        ) + timedelta(minutes=rng.randrange(24 * 60))
        slot = placed + timedelta(minutes=rng.randrange(30, 600))
        status = rng.choice(
            [OrderStatus.COLLECTED] * 4
            + [OrderStatus.EXPIRED, OrderStatus.CANCELLED, OrderStatus.READY, OrderStatus.PLACED]
        )
        ready = (
            placed + timedelta(minutes=rng.randrange(5, 700))
            if status in (OrderStatus.COLLECTED, OrderStatus.EXPIRED, OrderStatus.READY)
            else None
        )
        collected = (
            ready + timedelta(minutes=rng.randrange(1, 3000))
            if (status == OrderStatus.COLLECTED)
            else None
        )
        arrived = (
            collected - timedelta(minutes=rng.randrange(0, 30))
            if collected and rng.random() < 0.7
            else None
        )
        ordered = rng.randint(1, 4)
        an_order(
            store,
            clerk,
            channel=rng.choice(["web", "mobile", "store"]),
            placed=placed,
            slot=slot,
            status=status,
            ready=ready,
            arrived=arrived,
            collected=collected,
            units=(ordered, rng.randint(0, ordered)),
            reason=rng.choice(["", "out of stock", "customer asked"]),
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_kpis_equal_direct_sql_on_random_histories(seed, madrid, barcelona, clerk_user):
    rng = random.Random(seed)
    random_history(rng, [madrid, barcelona], clerk_user, orders=80, first_day=date(2025, 3, 1))
    api = staff_api(madrid, barcelona)

    for start, end, codes, channel in [
        (date(2025, 3, 1), date(2025, 3, 6), ["BCN-01", "MAD-01"], None),
        (date(2025, 3, 2), date(2025, 3, 3), ["MAD-01"], None),
        (date(2025, 3, 1), date(2025, 3, 6), ["BCN-01", "MAD-01"], "mobile"),
    ]:
        params = {"from": start.isoformat(), "to": end.isoformat()}
        if len(codes) == 1:
            params["store"] = codes[0]
        if channel:
            params["channel"] = channel
        kpis = api.get(URL, data=params).json()["overall"]
        (n, ready, on_time, expired, cancelled, lead_p90, wait_p90, fill) = direct_sql(
            codes, start, end, channel
        )

        assert kpis["orders"] == n > 0
        assert kpis["ready"] == ready
        assert kpis["ready_on_time_rate"] == round(on_time / ready, 4)
        assert kpis["no_show_rate"] == round(expired / ready, 4)
        assert kpis["cancellation_rate"] == round(cancelled / n, 4)
        assert kpis["lead_time_minutes"]["p90"] == round(float(lead_p90), 1)
        assert kpis["counter_wait_minutes"]["p90"] == round(float(wait_p90), 1)
        assert kpis["fill_rate"] == round(fill, 4)


def test_the_same_queries_for_few_or_many_orders(madrid, barcelona, clerk_user):
    api = staff_api(madrid, barcelona)
    params = {"from": "2025-03-01", "to": "2025-03-06"}

    def measure(n, seed):
        random_history(
            random.Random(seed),
            [madrid, barcelona],
            clerk_user,
            orders=n,
            first_day=date(2025, 3, 1),
        )
        api.get(URL, data=params)
        with CaptureQueriesContext(connection) as queries:
            body = api.get(URL, data=params).json()
        return len(queries), body["overall"]["orders"]

    few, counted_few = measure(3, 1)
    many, counted_many = measure(40, 2)

    assert counted_many > counted_few > 0
    # The token, the managed stores, then the orders, units, reminders and answers.
    assert few == many == 2 + 4


def test_the_kpis_are_in_the_api_schema(db):
    schema = Api().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/reports/kpis/"]["get"]

    assert {"from", "to", "store"} <= {p["name"] for p in operation["parameters"]}
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
