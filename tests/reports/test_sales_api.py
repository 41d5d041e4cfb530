"""GET /api/v1/reports/sales/: collected orders and their revenue (taken minus refunded) per
channel, store or local day of collection, one row per currency; for managers only.

The figures are checked against a direct SQL aggregate over the raw orders (written here
independently: the store's day by ``AT TIME ZONE`` in SQL), on random histories.
"""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderStatus, PaymentMethod, PaymentStatus
from reports.selectors import sales_by
from stores.models import StaffMembership
from tests.support.api_client import Api
from tests.support.factories import (
    CustomerFactory,
    StaffMembershipFactory,
    UserFactory,
)
from tests.support.order_rows import collected, make_order, pay, refund
from tests.support.staff import staff_api

URL = "/api/v1/reports/sales/"
MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")
D = Decimal


def rows(response):
    assert response.status_code == 200, response.content
    return [(r["key"], r["orders"], r["revenue"], r["currency"]) for r in response.json()["rows"]]


# --- The figures ----------------------------------------------------------------------------


def test_revenue_is_what_was_taken_minus_refunds_on_the_day_of_collection(madrid, clerk_user):
    day = datetime(2025, 3, 10, 18, 0, tzinfo=MADRID)
    # Two lines, one handed over in part: 2 × 10.00 of 3 ordered, and 1 × 5.00.
    _, card = collected(
        madrid,
        clerk_user,
        ("10.00", 3, 2),
        ("5.00", 1, 1),
        at=day,
        via=PaymentMethod.ONLINE,
        channel="mobile",
    )
    # A week later 10.00 goes back: it lowers the day the order was collected on.
    refund(card, "10.00", at=day + timedelta(days=7))
    collected(madrid, clerk_user, ("4.00", 2, 2), at=day + timedelta(hours=1), channel="web")

    api = staff_api(madrid)
    by_day = rows(api.get(URL, data={"from": "2025-03-10", "to": "2025-03-17", "group_by": "day"}))
    by_channel = rows(
        api.get(URL, data={"from": "2025-03-10", "to": "2025-03-10", "group_by": "channel"})
    )

    assert by_day == [("2025-03-10", 2, "23.00", "EUR")]
    assert by_channel == [("mobile", 1, "15.00", "EUR"), ("web", 1, "8.00", "EUR")]


def test_only_collected_orders_count(madrid, clerk_user):
    at = datetime(2025, 3, 10, 12, 0, tzinfo=MADRID)
    collected(madrid, clerk_user, ("10.00", 1, 1), at=at)
    for status in (OrderStatus.PLACED, OrderStatus.READY, OrderStatus.CANCELLED):
        order = make_order(madrid, ("99.00", 1, None), status=status, created_at=at)
        pay(order, "99.00", status=PaymentStatus.AUTHORISED)
    expired = make_order(madrid, ("50.00", 1, None), status=OrderStatus.EXPIRED, created_at=at)
    pay(expired, "50.00", status=PaymentStatus.VOIDED)

    api = staff_api(madrid)
    found = rows(api.get(URL, data={"from": "2025-03-10", "to": "2025-03-10", "group_by": "store"}))

    assert found == [("MAD-01", 1, "10.00", "EUR")]


def test_a_collection_late_at_night_counts_on_the_stores_local_day(madrid, mexico, clerk_user):
    # 23:30 in Mexico City is 05:30 UTC the next day; 00:30 in Madrid is 23:30 UTC the day before.
    collected(mexico, clerk_user, ("7.00", 1, 1), at=datetime(2025, 3, 10, 23, 30, tzinfo=MEXICO))
    collected(madrid, clerk_user, ("3.00", 1, 1), at=datetime(2025, 3, 11, 0, 30, tzinfo=MADRID))

    api = staff_api(madrid, mexico)
    found = rows(api.get(URL, data={"from": "2025-03-10", "to": "2025-03-11", "group_by": "day"}))

    assert found == [("2025-03-10", 1, "7.00", "EUR"), ("2025-03-11", 1, "3.00", "EUR")]


def test_money_is_never_added_across_currencies(madrid, mexico, clerk_user):
    at = datetime(2025, 3, 10, 12, 0, tzinfo=MADRID)
    collected(madrid, clerk_user, ("10.00", 1, 1), at=at)
    collected(mexico, clerk_user, ("200.00", 1, 1), at=at, currency="MXN")
    collected(mexico, clerk_user, ("5.00", 1, 1), at=at, currency="EUR")

    api = staff_api(madrid, mexico)
    found = rows(
        api.get(URL, data={"from": "2025-03-10", "to": "2025-03-10", "group_by": "channel"})
    )

    assert found == [("web", 2, "15.00", "EUR"), ("web", 1, "200.00", "MXN")]


# --- Against a direct SQL aggregate on random histories -------------------------------------

DIRECT_KEYS = {
    "channel": "o.channel",
    "store": "s.code",
    "day": "to_char((h.collected_at AT TIME ZONE s.timezone)::date, 'YYYY-MM-DD')",
}


def direct_sql(group_by, start, end, store_codes, channel=None):
    """Collected orders and taken − refunded per key and currency, straight from the tables."""
    key = DIRECT_KEYS[group_by]
    sql = f"""
        SELECT {key} AS key, count(*), sum(coalesce(p.taken, 0) - coalesce(p.back, 0)),
               o.currency
        FROM orders_order o
        JOIN orders_handover h ON h.order_id = o.id
        JOIN stores_store s ON s.id = o.store_id
        LEFT JOIN LATERAL (
            SELECT sum(amount_captured) FILTER (WHERE refund_of_id IS NULL) AS taken,
                   sum(amount_refunded) FILTER (WHERE refund_of_id IS NOT NULL) AS back
            FROM orders_payment WHERE order_id = o.id
        ) p ON true
        WHERE o.status = 'collected'
          AND (h.collected_at AT TIME ZONE s.timezone)::date BETWEEN %s AND %s
          AND s.code = ANY(%s)
          AND (%s::text IS NULL OR o.channel = %s)
        GROUP BY 1, o.currency
        ORDER BY 1, o.currency
    """  # noqa: S608 (the key is one of three fixed expressions)
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end, list(store_codes), channel, channel])
        return [(k, n, f"{amount:.2f}", currency) for k, n, amount, currency in cursor.fetchall()]


def random_history(rng, stores, clerk, *, orders, first_day):
    """Collected orders at random times over 12 days (random channel, lines, partial pickups,
    payment at the counter or online, refunds made up to a week later), and orders that never
    were collected, with their holds."""
    channels = ["web", "mobile", "store"]
    for _ in range(orders):
        store = rng.choice(stores)
        at = datetime.combine(
            first_day + timedelta(days=rng.randrange(12)), datetime.min.time(), tzinfo=store.tz
        ) + timedelta(minutes=rng.randrange(24 * 60))
        lines = []
        for _ in range(rng.randint(1, 3)):
            quantity = rng.randint(1, 3)
            price = D(rng.randrange(100, 5000)) / 100
            lines.append((f"{price:.2f}", quantity, rng.randint(0, quantity)))
        if not any(c for _, _, c in lines):
            lines[0] = (lines[0][0], lines[0][1], 1)
        currency = "MXN" if store.timezone == "America/Mexico_City" else "EUR"
        if rng.random() < 0.15:
            currency = "USD"
        via = rng.choice([PaymentMethod.ONLINE, PaymentMethod.IN_STORE])
        _, payment = collected(
            store, clerk, *lines, at=at, via=via, currency=currency, channel=rng.choice(channels)
        )
        if rng.random() < 0.3 and payment.amount_captured > 1:
            back = D(rng.randrange(1, int(payment.amount_captured * 100))) / 100
            refund(payment, f"{back:.2f}", at=at + timedelta(days=rng.randrange(8)))
    for _ in range(orders // 4):
        store = rng.choice(stores)
        status = rng.choice([OrderStatus.PLACED, OrderStatus.CANCELLED, OrderStatus.EXPIRED])
        created = datetime.combine(first_day, datetime.min.time(), tzinfo=store.tz)
        order = make_order(store, ("30.00", 1, None), status=status, created_at=created)
        pay(order, "30.00", status=PaymentStatus.AUTHORISED)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_equal_a_direct_sql_aggregate_on_random_histories(
    seed, madrid, barcelona, mexico, clerk_user
):
    rng = random.Random(seed)
    stores = [madrid, barcelona, mexico]
    first = date(2025, 3, 1)
    random_history(rng, stores, clerk_user, orders=60, first_day=first)
    api = staff_api(madrid, mexico)  # not Barcelona
    managed = ["MAD-01", "CMX-01"]

    for group_by in ("channel", "store", "day"):
        for start, end in [(first, first + timedelta(days=11)), (first + timedelta(days=3),) * 2]:
            params = {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by}
            expected = direct_sql(group_by, start, end, managed)
            assert rows(api.get(URL, data=params)) == expected, (group_by, start, end)
            one = rows(api.get(URL, data={**params, "store": "CMX-01"}))
            assert one == direct_sql(group_by, start, end, ["CMX-01"])
            for channel in ("web", "mobile", "store"):
                through = rows(api.get(URL, data={**params, "channel": channel}))
                assert through == direct_sql(group_by, start, end, managed, channel)
    assert direct_sql("store", first, first + timedelta(days=11), managed)  # not empty


def test_the_same_queries_for_few_or_many_orders(madrid, mexico, clerk_user):
    api = staff_api(madrid, mexico)
    params = {"from": "2025-03-01", "to": "2025-03-12", "group_by": "day"}

    def measure(n, seed):
        random_history(
            random.Random(seed), [madrid, mexico], clerk_user, orders=n, first_day=date(2025, 3, 1)
        )
        api.get(URL, data=params)
        with CaptureQueriesContext(connection) as queries:
            found = rows(api.get(URL, data=params))
        return len(queries), sum(r[1] for r in found)

    few, counted_few = measure(3, 1)
    many, counted_many = measure(40, 2)

    assert counted_many > counted_few > 0
    # The token, the managed stores, then 3 per store time zone.
    assert few == many == 2 + 3 * 2


# --- Who may ask ----------------------------------------------------------------------------

PARAMS = {"from": "2025-03-10", "to": "2025-03-10", "group_by": "store"}


def test_a_manager_sees_only_the_stores_they_manage(madrid, barcelona, clerk_user):
    at = datetime(2025, 3, 10, 12, 0, tzinfo=MADRID)
    collected(madrid, clerk_user, ("10.00", 1, 1), at=at)
    collected(barcelona, clerk_user, ("20.00", 1, 1), at=at)
    # A clerk at Barcelona, manager at Madrid.
    api = staff_api(madrid)
    StaffMembershipFactory(user=api.user, store=barcelona, role=StaffMembership.Role.CLERK)

    assert rows(api.get(URL, data=PARAMS)) == [("MAD-01", 1, "10.00", "EUR")]
    refused = api.get(URL, data={**PARAMS, "store": "BCN-01"})
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"
    assert api.get(URL, data={**PARAMS, "store": "NOPE-9"}).status_code == 404


def test_a_superuser_sees_every_store(madrid, barcelona, clerk_user):
    at = datetime(2025, 3, 10, 12, 0, tzinfo=MADRID)
    collected(madrid, clerk_user, ("10.00", 1, 1), at=at)
    collected(barcelona, clerk_user, ("20.00", 1, 1), at=at)
    api = Api(UserFactory(is_superuser=True, is_staff=True))

    assert rows(api.get(URL, data=PARAMS)) == [
        ("BCN-01", 1, "20.00", "EUR"),
        ("MAD-01", 1, "10.00", "EUR"),
    ]


def test_clerks_and_customers_are_refused_and_anonymous_callers_must_log_in(madrid):
    clerk = staff_api(madrid, role=StaffMembership.Role.CLERK)
    customer = Api(CustomerFactory(user=UserFactory()).user)

    for api in (clerk, customer):
        response = api.get(URL, data=PARAMS)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert Api().get(URL, data=PARAMS).status_code == 401


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"to": "2025-03-10", "group_by": "day"}, "Give the range as from=YYYY-MM-DD"),
        ({"from": "2025-03-10", "group_by": "day"}, "Give the range as from=YYYY-MM-DD"),
        ({"from": "10/03/2025", "to": "2025-03-10", "group_by": "day"}, "Write dates as"),
        ({"from": "2025-02-30", "to": "2025-03-10", "group_by": "day"}, "Write dates as"),
        ({"from": "2025-03-11", "to": "2025-03-10", "group_by": "day"}, "on or before"),
        ({"from": "2024-03-09", "to": "2025-03-10", "group_by": "day"}, "at most 366 days"),
        ({"from": "2025-03-10", "to": "2025-03-10"}, "Say how to group the rows"),
        ({"from": "2025-03-10", "to": "2025-03-10", "group_by": "week"}, "one of channel"),
        (
            {"from": "2025-03-10", "to": "2025-03-10", "group_by": "day", "channel": "fax"},
            "channel is one of web, mobile or store.",
        ),
        ({"from": "2025-03-10", "to": "2025-03-10", "group_by": "day", "store": "X" * 40}, ""),
    ],
    ids=[
        "no-from",
        "no-to",
        "not-iso",
        "no-such-day",
        "reversed",
        "367-days",
        "no-group",
        "bad-group",
        "bad-channel",
        "long-store",
    ],
)
def test_bad_queries_get_a_400_saying_what_is_wrong(madrid, params, message):
    response = staff_api(madrid).get(URL, data=params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in body["detail"]


def test_a_range_of_366_days_is_accepted(madrid):
    response = staff_api(madrid).get(
        URL, data={"from": "2024-03-10", "to": "2025-03-10", "group_by": "day"}
    )

    assert rows(response) == []


def test_the_report_is_in_the_api_schema(db):
    schema = Api().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/reports/sales/"]["get"]

    names = {p["name"]: p for p in operation["parameters"]}
    assert {"from", "to", "group_by", "store"} <= set(names)
    assert set(names["group_by"]["schema"]["enum"]) == {"channel", "store", "day"}
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])


# --- What the dashboard reads beside the API's figures --------------------------------------

MIX_SQL = """
    SELECT o.channel, o.currency,
           sum(p.amount_captured) FILTER (WHERE p.refund_of_id IS NULL AND p.provider = 'stripe'),
           sum(p.amount_captured) FILTER (WHERE p.refund_of_id IS NULL AND p.provider = 'in_store')
    FROM orders_order o
    JOIN orders_handover h ON h.order_id = o.id
    JOIN stores_store s ON s.id = o.store_id
    JOIN orders_payment p ON p.order_id = o.id
    WHERE o.status = 'collected'
      AND (h.collected_at AT TIME ZONE s.timezone)::date BETWEEN %s AND %s
    GROUP BY 1, 2 ORDER BY 1, 2
"""
ITEMS_SQL = """
    SELECT o.channel, o.currency, sum(l.collected_quantity)
    FROM orders_order o
    JOIN orders_handover h ON h.order_id = o.id
    JOIN stores_store s ON s.id = o.store_id
    JOIN orders_orderline l ON l.order_id = o.id
    WHERE o.status = 'collected'
      AND (h.collected_at AT TIME ZONE s.timezone)::date BETWEEN %s AND %s
    GROUP BY 1, 2 ORDER BY 1, 2
"""


def test_payment_mix_items_and_basket_equal_direct_sql(madrid, mexico, clerk_user):
    random_history(
        random.Random(7), [madrid, mexico], clerk_user, orders=50, first_day=date(2025, 3, 1)
    )
    start, end = date(2025, 3, 1), date(2025, 3, 12)

    figures = sales_by("channel", stores=[madrid, mexico], start=start, end=end)
    with connection.cursor() as cursor:
        cursor.execute(MIX_SQL, [start, end])
        mix = {(c, cur): (online or D(0), counter or D(0)) for c, cur, online, counter in cursor}
        cursor.execute(ITEMS_SQL, [start, end])
        items = {(c, cur): n for c, cur, n in cursor}

    assert len(figures) >= 3
    assert {(f.key, f.currency) for f in figures} == set(mix) == set(items)
    for f in figures:
        online, counter = mix[(f.key, f.currency)]
        assert (f.online, f.gross - f.online) == (online, counter)
        assert f.items == items[(f.key, f.currency)]
        assert f.online_share == round(float(online / (online + counter)), 4)
        assert f.average_basket == (f.net / f.orders).quantize(D("0.01"))
