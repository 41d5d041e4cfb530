"""When customers come to the counter, per store, weekday and local hour: their "I'm here",
else the handover. Checked by hand around midnight and against direct SQL on random data."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from orders.models import OrderStatus
from reports.selectors import arrival_heatmaps
from tests.support.order_rows import hand_over, make_order

MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")


def came(store, clerk, *, arrived=None, collected=None):
    order = make_order(
        store,
        ("10.00", 1, 1 if collected else None),
        status=OrderStatus.COLLECTED if collected else OrderStatus.READY,
        created_at=(arrived or collected) - timedelta(days=1),
    )
    if arrived:
        order.arrived_at = arrived
        order.save(update_fields=["arrived_at"])
    if collected:
        hand_over(order, clerk, at=collected)
    return order


def test_arrivals_by_weekday_and_local_hour(madrid, mexico, clerk_user):
    # Monday 10 March 2025, 18:20 in Madrid: "I'm here", handed over at 18:40 — one arrival.
    monday = datetime(2025, 3, 10, 18, 20, tzinfo=MADRID)
    came(madrid, clerk_user, arrived=monday, collected=monday + timedelta(minutes=20))
    # No "I'm here": the handover counts, 19:05.
    came(madrid, clerk_user, collected=monday + timedelta(minutes=45))
    # Arrived, not collected yet.
    came(madrid, clerk_user, arrived=monday + timedelta(minutes=5))
    # Sunday 16 March, 23:30 in Mexico City (05:30 UTC on Monday 17): Sunday 23 there.
    came(mexico, clerk_user, arrived=datetime(2025, 3, 16, 23, 30, tzinfo=MEXICO))
    # Outside the range: the Monday after, 00:10 in Madrid.
    came(madrid, clerk_user, arrived=datetime(2025, 3, 17, 0, 10, tzinfo=MADRID))

    maps = arrival_heatmaps(stores=[madrid, mexico], start=date(2025, 3, 10), end=date(2025, 3, 16))

    by_store = {m.store.code: m for m in maps}
    assert [m.store.code for m in maps] == ["MAD-01", "CMX-01"]
    madrid_cells = by_store["MAD-01"].cells
    assert madrid_cells[0][18] == 2 and madrid_cells[0][19] == 1
    assert sum(map(sum, madrid_cells)) == 3
    assert by_store["CMX-01"].cells[6][23] == 1
    assert sum(map(sum, by_store["CMX-01"].cells)) == 1
    assert by_store["MAD-01"].busiest == 2
    assert all(len(row) == 24 for row in madrid_cells) and len(madrid_cells) == 7


DIRECT = """
    SELECT s.code,
           extract(isodow FROM coalesce(o.arrived_at, h.collected_at) AT TIME ZONE s.timezone),
           extract(hour FROM coalesce(o.arrived_at, h.collected_at) AT TIME ZONE s.timezone),
           count(*)
    FROM orders_order o
    JOIN stores_store s ON s.id = o.store_id
    LEFT JOIN orders_handover h ON h.order_id = o.id
    WHERE coalesce(o.arrived_at, h.collected_at) IS NOT NULL
      AND (coalesce(o.arrived_at, h.collected_at) AT TIME ZONE s.timezone)::date
          BETWEEN %s AND %s
    GROUP BY 1, 2, 3
"""


def test_heatmaps_equal_direct_sql_on_random_arrivals(
    madrid, mexico, clerk_user, django_assert_num_queries
):
    rng = random.Random(5)
    for _ in range(120):
        store = rng.choice([madrid, mexico])
        at = datetime(2025, 3, 1, tzinfo=store.tz) + timedelta(minutes=rng.randrange(14 * 1440))
        kind = rng.random()
        if kind < 0.4:
            came(store, clerk_user, arrived=at, collected=at + timedelta(minutes=rng.randrange(60)))
        elif kind < 0.8:
            came(store, clerk_user, collected=at)
        else:
            came(store, clerk_user, arrived=at)
    start, end = date(2025, 3, 3), date(2025, 3, 9)

    with django_assert_num_queries(2):  # one per store time zone
        maps = arrival_heatmaps(stores=[madrid, mexico], start=start, end=end)
    with connection.cursor() as cursor:
        cursor.execute(DIRECT, [start, end])
        expected = {(code, int(d), int(h)): n for code, d, h, n in cursor.fetchall()}

    found = {
        (m.store.code, weekday + 1, hour): n
        for m in maps
        for weekday, row in enumerate(m.cells)
        for hour, n in enumerate(row)
        if n
    }
    assert found == expected
    assert sum(expected.values()) > 30
