"""The managers' payments reconciliation: money per store and local day, the orders whose
payment disagrees with their status, who may see it, and its query count.

Orders and payments are written straight to the database (as the services would have left
them) so that every amount, time and odd state is exactly the one under test.
"""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import (
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from orders.selectors import payment_mismatches, payment_reconciliation
from stores.models import StaffMembership
from tests.support import order_rows
from tests.support.factories import (
    CustomerFactory,
    StaffMembershipFactory,
    UserFactory,
)
from tests.support.order_rows import collected, pay, refund
from tests.support.web_helpers import text

MADRID = ZoneInfo("Europe/Madrid")  # UTC+1 in January
NEW_YORK = ZoneInfo("America/New_York")  # UTC−5 in January
NOW = datetime(2025, 1, 17, 12, 0, tzinfo=MADRID)
START, END = date(2025, 1, 10), date(2025, 1, 16)
URL = "/manage/reconciliation/"
RANGE = {"from": "2025-01-10", "to": "2025-01-16"}
D = Decimal


# --- Building orders as the services leave them ----------------------------------------------


def make_order(*lines, created_at=NOW - timedelta(days=3), **kwargs):
    return order_rows.make_order(*lines, created_at=created_at, **kwargs)


@pytest.fixture
def week(madrid, new_york, clerk_user):
    """A week of takings at two stores in two time zones (see the expected rows below)."""
    m = madrid
    # 13 Jan, Madrid: an old counter card payment without captured_at (handover time counts).
    collected(
        m,
        clerk_user,
        ("8.00", 1, 1),
        at=datetime(2025, 1, 13, 10, 0, tzinfo=MADRID),
        via=PaymentMethod.IN_STORE,
        captured_at=None,
    )
    # 14 Jan, Madrid: online 2 × 12.50, captured at collection; 12.50 refunded online on the
    # 16th at 23:30 Madrid time (22:30 UTC).
    _, online = collected(
        m,
        clerk_user,
        ("12.50", 2, 2),
        at=datetime(2025, 1, 14, 18, 0, tzinfo=MADRID),
        via=PaymentMethod.ONLINE,
    )
    refund(online, "12.50", at=datetime(2025, 1, 16, 23, 30, tzinfo=MADRID))
    # 15 Jan 00:30 Madrid (14 Jan 23:30 UTC): cash 3 × 4.00.
    collected(
        m,
        clerk_user,
        ("4.00", 3, 3),
        at=datetime(2025, 1, 15, 0, 30, tzinfo=MADRID),
        via=PaymentMethod.IN_STORE,
        method="cash",
    )
    # 15 Jan, Madrid: counter card 6.00 + 4.00, the 4.00 refunded at the counter on the 16th.
    card_order, card = collected(
        m,
        clerk_user,
        ("6.00", 1, 1),
        ("4.00", 1, 1),
        at=datetime(2025, 1, 15, 12, 0, tzinfo=MADRID),
        via=PaymentMethod.IN_STORE,
    )
    card_order.lines.filter(unit_price=D("4.00")).update(refunded_quantity=1)
    refund(card, "4.00", at=datetime(2025, 1, 16, 10, 0, tzinfo=MADRID))
    # 17 Jan 00:30 Madrid (16 Jan 23:30 UTC): outside the range on the local calendar.
    collected(
        m,
        clerk_user,
        ("30.00", 1, 1),
        at=datetime(2025, 1, 17, 0, 30, tzinfo=MADRID),
        via=PaymentMethod.ONLINE,
    )
    # 14 Jan 23:30 New York (15 Jan 04:30 UTC): online 20.00 USD counts on the 14th.
    collected(
        new_york,
        clerk_user,
        ("20.00", 1, 1),
        currency="USD",
        at=datetime(2025, 1, 14, 23, 30, tzinfo=NEW_YORK),
        via=PaymentMethod.ONLINE,
    )
    # 15 Jan, New York: cash 7.50 USD.
    collected(
        new_york,
        clerk_user,
        ("7.50", 1, 1),
        currency="USD",
        at=datetime(2025, 1, 15, 9, 0, tzinfo=NEW_YORK),
        via=PaymentMethod.IN_STORE,
        method="cash",
    )


def _flat(row):
    return (
        row.day.isoformat() if row.day else None,
        row.store.code if row.store else None,
        row.currency,
        str(row.online_captured),
        str(row.in_store_card),
        str(row.in_store_cash),
        str(row.refunded_online),
        str(row.refunded_counter),
        str(row.net),
        row.orders_collected,
    )


EXPECTED_ROWS = [
    ("2025-01-13", "MAD-01", "EUR", "0.00", "8.00", "0.00", "0.00", "0.00", "8.00", 1),
    ("2025-01-14", "MAD-01", "EUR", "25.00", "0.00", "0.00", "0.00", "0.00", "25.00", 1),
    ("2025-01-14", "NYC-01", "USD", "20.00", "0.00", "0.00", "0.00", "0.00", "20.00", 1),
    ("2025-01-15", "MAD-01", "EUR", "0.00", "10.00", "12.00", "0.00", "0.00", "22.00", 2),
    ("2025-01-15", "NYC-01", "USD", "0.00", "0.00", "7.50", "0.00", "0.00", "7.50", 1),
    ("2025-01-16", "MAD-01", "EUR", "0.00", "0.00", "0.00", "12.50", "4.00", "-16.50", 0),
]
EXPECTED_TOTALS = [
    (None, None, "EUR", "25.00", "18.00", "12.00", "12.50", "4.00", "38.50", 4),
    (None, None, "USD", "20.00", "0.00", "7.50", "0.00", "0.00", "27.50", 2),
]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _staff_api(*stores, role=StaffMembership.Role.MANAGER):
    user = UserFactory()
    for store in stores:
        StaffMembershipFactory(user=user, store=store, role=role)
    return user


# --- Money per store and local day -----------------------------------------------------------


def test_takings_count_on_the_stores_local_day(madrid, new_york, week):
    report = payment_reconciliation(stores=[madrid, new_york], start=START, end=END)

    assert [_flat(r) for r in report.rows] == EXPECTED_ROWS
    assert [_flat(t) for t in report.totals] == EXPECTED_TOTALS


def test_a_late_evening_capture_stays_on_its_local_day(madrid, new_york, week):
    # 23:30 in New York on the 14th is already the 15th in UTC.
    only_14th = payment_reconciliation(
        stores=[new_york], start=date(2025, 1, 14), end=date(2025, 1, 14)
    )
    only_15th = payment_reconciliation(
        stores=[new_york], start=date(2025, 1, 15), end=date(2025, 1, 15)
    )

    assert [_flat(r) for r in only_14th.rows] == [EXPECTED_ROWS[2]]
    assert [_flat(r) for r in only_15th.rows] == [EXPECTED_ROWS[4]]


def test_an_after_midnight_payment_is_on_the_next_local_day(madrid, week):
    # 00:30 on the 17th in Madrid is 23:30 on the 16th in UTC: not in a range ending the 16th,
    # in one starting on the 17th.
    the_17th = payment_reconciliation(
        stores=[madrid], start=date(2025, 1, 17), end=date(2025, 1, 17)
    )

    assert [_flat(r) for r in the_17th.rows] == [
        ("2025-01-17", "MAD-01", "EUR", "30.00", "0.00", "0.00", "0.00", "0.00", "30.00", 1)
    ]


def test_a_refund_counts_on_the_day_it_was_made_not_the_sale(madrid, week):
    sale_days = payment_reconciliation(
        stores=[madrid], start=date(2025, 1, 14), end=date(2025, 1, 15)
    )

    assert all(r.refunded == 0 for r in sale_days.rows)
    assert [_flat(t) for t in sale_days.totals] == [
        (None, None, "EUR", "25.00", "10.00", "12.00", "0.00", "0.00", "47.00", 3)
    ]


def test_only_the_stores_asked_for_are_counted(madrid, new_york, week):
    report = payment_reconciliation(stores=[new_york], start=START, end=END)

    assert [_flat(r) for r in report.rows] == [EXPECTED_ROWS[2], EXPECTED_ROWS[4]]
    assert [_flat(t) for t in report.totals] == [EXPECTED_TOTALS[1]]


def test_unpaid_voided_and_authorised_payments_are_not_money_taken(madrid):
    order = make_order(madrid, ("10.00", 1, None), payment_status=PaymentStatus.AUTHORISED)
    pay(order, "10.00", status=PaymentStatus.AUTHORISED, captured_at=None)
    voided = make_order(madrid, ("10.00", 1, None), status=OrderStatus.CANCELLED)
    pay(voided, "10.00", status=PaymentStatus.VOIDED)

    report = payment_reconciliation(stores=[madrid], start=START, end=END)

    assert report.rows == []
    assert report.totals == []


# --- Payment mismatches ------------------------------------------------------------------------


@pytest.fixture
def troubled(madrid, clerk_user, settings):
    """One order per kind of mismatch, and healthy orders of every kind next to them."""
    settings.ONLINE_PAYMENT_TIMEOUT_MINUTES = 30
    at = NOW - timedelta(hours=1)  # the 17th: after the week under test
    bad = {}
    # Collected at the counter, but no payment recorded.
    bad["collected_unpaid"] = make_order(
        madrid, ("5.00", 1, 1), status=OrderStatus.COLLECTED, method=PaymentMethod.IN_STORE
    )
    # Collected online: 2 × 10.00 handed over, 25.00 captured.
    order = make_order(
        madrid,
        ("10.00", 2, 2),
        ("5.00", 1, 0),
        status=OrderStatus.COLLECTED,
        payment_status=PaymentStatus.PAID,
    )
    pay(order, "25.00", captured_at=at)
    bad["captured_differs"] = order
    # The card is authorised but the order still says unpaid (a status update was lost).
    order = make_order(madrid, ("10.00", 1, None))
    pay(order, "10.00", status=PaymentStatus.AUTHORISED)
    bad["status_disagrees"] = order
    # Cancelled, but the card hold was never released.
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.CANCELLED,
        payment_status=PaymentStatus.AUTHORISED,
    )
    pay(order, "10.00", status=PaymentStatus.AUTHORISED)
    bad["hold_not_released"] = order
    # Waiting for the card for 45 minutes (the timeout is 30).
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.PENDING_PAYMENT,
        created_at=NOW - timedelta(minutes=45),
    )
    pay(order, "10.00", status=PaymentStatus.UNPAID)
    bad["payment_timed_out"] = order
    # Ready for pickup, but its card hold was voided.
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.READY,
        payment_status=PaymentStatus.VOIDED,
    )
    pay(order, "10.00", status=PaymentStatus.VOIDED)
    bad["hold_lost"] = order
    # A capture claimed and never recorded.
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.READY,
        payment_status=PaymentStatus.AUTHORISED,
    )
    pay(order, "10.00", status=PaymentStatus.AUTHORISED, pending_operation="capture:10.00")
    bad["operation_in_flight"] = order

    healthy = []
    order = make_order(madrid, ("10.00", 1, None), payment_status=PaymentStatus.AUTHORISED)
    pay(order, "10.00", status=PaymentStatus.AUTHORISED)
    healthy.append(order)  # placed online, card held
    healthy.append(make_order(madrid, ("10.00", 1, None), method=PaymentMethod.IN_STORE))
    order, payment = collected(
        madrid, clerk_user, ("10.00", 2, 2), ("5.00", 1, 0), at=at, via=PaymentMethod.ONLINE
    )
    refund(payment, "10.00", at=NOW)  # partly refunded after collection: still paid
    healthy.append(order)
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.CANCELLED,
        payment_status=PaymentStatus.VOIDED,
    )
    pay(order, "10.00", status=PaymentStatus.VOIDED)
    healthy.append(order)  # cancelled, hold released
    order = make_order(
        madrid,
        ("10.00", 1, None),
        status=OrderStatus.PENDING_PAYMENT,
        created_at=NOW - timedelta(minutes=10),
    )
    pay(order, "10.00", status=PaymentStatus.UNPAID)
    healthy.append(order)  # still within the payment timeout
    return bad, healthy


def test_each_kind_of_mismatch_is_found_once(madrid, troubled):
    bad, healthy = troubled

    found = payment_mismatches(stores=[madrid], now=NOW)

    assert sorted((m.order.number, m.code) for m in found) == sorted(
        (order.number, code) for code, order in bad.items()
    )
    flagged = {m.order.pk for m in found}
    assert not flagged & {order.pk for order in healthy}


def test_mismatches_say_what_is_wrong(madrid, troubled):
    found = {m.code: m.detail for m in payment_mismatches(stores=[madrid], now=NOW)}

    assert found["captured_differs"] == "Collected: €25.00 taken for €20.00 handed over."
    assert found["status_disagrees"] == "The order says Not paid yet, its payment says Authorised."
    assert found["hold_not_released"] == (
        "Cancelled, but its card hold is still authorised (not released)."
    )
    assert found["payment_timed_out"] == (
        "Still awaiting online payment 45\xa0minutes after checkout."
    )
    assert found["operation_in_flight"] == (
        "A provider call (capture:10.00) is in flight or stuck."
    )


def test_mismatches_of_other_stores_are_not_listed(madrid, new_york, troubled):
    assert payment_mismatches(stores=[new_york], now=NOW) == []


def test_the_healthy_week_has_no_mismatch(madrid, new_york, week):
    assert payment_mismatches(stores=[madrid, new_york], now=NOW) == []


# --- The page: who may see it ------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(madrid):
    response = Client().get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"/account/login/?next={URL}"


def test_clerks_and_customers_are_refused(madrid, new_york):
    clerk = _staff_api(madrid, new_york, role=StaffMembership.Role.CLERK)
    shopper = UserFactory()
    CustomerFactory(user=shopper, email=shopper.email)

    for user in (clerk, shopper):
        client = _client(user)
        assert client.get(URL).status_code == 403
        assert client.get(URL, {"store": madrid.code}).status_code == 403
        assert client.get(URL, {"format": "csv"}).status_code == 403


def test_a_manager_sees_only_the_stores_they_manage(madrid, new_york, week):
    client = _client(_staff_api(new_york))

    page = client.get(URL, RANGE)
    other = client.get(URL, {**RANGE, "store": madrid.code})
    other_csv = client.get(URL, {**RANGE, "store": madrid.code, "format": "csv"})

    assert page.status_code == 200
    html = text(page)
    assert "New York SoHo" in html
    assert "Madrid Centro" not in html
    assert "MAD-01" not in html
    assert other.status_code == 404
    assert other_csv.status_code == 404


def test_a_manager_who_is_a_clerk_elsewhere_sees_only_the_managed_store(madrid, new_york, week):
    user = _staff_api(new_york)
    StaffMembershipFactory(user=user, store=madrid, role=StaffMembership.Role.CLERK)
    client = _client(user)

    assert client.get(URL, {**RANGE, "store": madrid.code}).status_code == 404
    assert "MAD-01" not in text(client.get(URL, RANGE))


def test_a_superuser_sees_every_store(madrid, new_york, week):
    admin = UserFactory(is_superuser=True, is_staff=True)

    response = _client(admin).get(URL, {**RANGE, "format": "csv"})

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row[1] for row in rows[1:]} == {"MAD-01", "NYC-01"}


# --- The page: what it shows ---------------------------------------------------------------------


def test_the_page_shows_days_totals_and_what_needs_attention(madrid, new_york, week, troubled):
    client = _client(_staff_api(madrid, new_york))

    response = client.get(URL, RANGE)

    assert response.status_code == 200
    html = text(response)
    report = response.context["report"]
    assert [_flat(r) for r in report.rows] == EXPECTED_ROWS
    assert [_flat(t) for t in report.totals] == EXPECTED_TOTALS
    assert html.count('<tr class="recon-total">') == 2
    assert "<strong>-€16.50</strong>" in html
    assert "<strong>€38.50</strong>" in html and "<strong>$27.50</strong>" in html
    bad, healthy = troubled
    for order in bad.values():
        assert f'href="/store/MAD-01/orders/{order.number}/"' in html
    # The page reads the wall clock: the order waiting 10 minutes on NOW has waited far longer.
    expected = {(order.number, code) for code, order in bad.items()}
    expected.add((healthy[-1].number, "payment_timed_out"))
    assert {(m.order.number, m.code) for m in response.context["mismatches"]} == expected
    assert 'href="?from=2025-01-10&amp;to=2025-01-16&amp;format=csv"' in html


def test_one_store_can_be_chosen(madrid, new_york, week):
    client = _client(_staff_api(madrid, new_york))

    response = client.get(URL, {**RANGE, "store": new_york.code})

    assert response.status_code == 200
    assert [_flat(r) for r in response.context["report"].rows] == [
        EXPECTED_ROWS[2],
        EXPECTED_ROWS[4],
    ]


def test_the_default_is_the_last_seven_days_at_the_managers_first_store(new_york):
    client = _client(_staff_api(new_york))

    response = client.get(URL)

    today = timezone.now().astimezone(NEW_YORK).date()
    assert response.status_code == 200
    assert response.context["start"] == today - timedelta(days=6)
    assert response.context["end"] == today


def test_csv_download_has_the_day_rows_exactly(madrid, new_york, week):
    client = _client(_staff_api(madrid, new_york))

    response = client.get(URL, {**RANGE, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="reconciliation-2025-01-10-2025-01-16.csv"'
    )
    assert b"".join(response.streaming_content).decode() == (
        "date,store,currency,online_captured,in_store_card,in_store_cash,"
        "refunded_online,refunded_counter,net,orders_collected\n"
        "2025-01-13,MAD-01,EUR,0.00,8.00,0.00,0.00,0.00,8.00,1\n"
        "2025-01-14,MAD-01,EUR,25.00,0.00,0.00,0.00,0.00,25.00,1\n"
        "2025-01-14,NYC-01,USD,20.00,0.00,0.00,0.00,0.00,20.00,1\n"
        "2025-01-15,MAD-01,EUR,0.00,10.00,12.00,0.00,0.00,22.00,2\n"
        "2025-01-15,NYC-01,USD,0.00,0.00,7.50,0.00,0.00,7.50,1\n"
        "2025-01-16,MAD-01,EUR,0.00,0.00,0.00,12.50,4.00,-16.50,0\n"
    )


def test_csv_of_one_store_names_it(madrid, new_york, week):
    client = _client(_staff_api(madrid, new_york))

    response = client.get(URL, {**RANGE, "store": "NYC-01", "format": "csv"})

    assert response["Content-Disposition"] == (
        'attachment; filename="reconciliation-NYC-01-2025-01-10-2025-01-16.csv"'
    )
    assert b"".join(response.streaming_content).decode().count("\n") == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2025-13-01", "to": "2025-01-16"}, "“From” must be a date written YYYY-MM-DD."),
        ({"from": "2025-01-10", "to": "yesterday"}, "“To” must be a date written YYYY-MM-DD."),
        ({"from": "10/01/2025"}, "“From” must be a date written YYYY-MM-DD."),
        (
            {"from": "2025-01-16", "to": "2025-01-10"},
            "The start date must be on or before the end date.",
        ),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "Choose a range of at most 366 days."),
        ({"to": "0001-01-03"}, "Choose dates between the years 1 and 9999."),
        ({"from": "9999-12-30"}, "Choose dates between the years 1 and 9999."),
        ({"format": "xlsx"}, "Select a valid choice. xlsx is not one of the available choices."),
    ],
)
def test_bad_parameters_are_refused_with_a_message(madrid, params, message):
    client = _client(_staff_api(madrid))

    response = client.get(URL, params)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert response.context["error"] == message
    assert 'id="recon-error"' in text(response)
    assert "report" not in response.context


def test_a_range_of_366_days_is_allowed(madrid):
    client = _client(_staff_api(madrid))

    response = client.get(URL, {"from": "2024-01-01", "to": "2024-12-31"})

    assert response.status_code == 200


def test_the_tablet_home_links_managers_to_the_reconciliation(madrid, new_york):
    manager = _client(_staff_api(madrid, new_york))
    clerk = _client(_staff_api(madrid, new_york, role=StaffMembership.Role.CLERK))
    link = f'href="{URL}"'

    assert text(manager.get("/store/")).count(link) == 1
    assert link not in text(clerk.get("/store/"))


def test_a_single_store_manager_finds_the_link_on_the_queue(madrid):
    manager = UserFactory()
    StaffMembershipFactory(user=manager, store=madrid, role=StaffMembership.Role.MANAGER)
    clerk = UserFactory()
    StaffMembershipFactory(user=clerk, store=madrid, role=StaffMembership.Role.CLERK)
    link = f'href="{URL}?store={madrid.code}"'

    # One store: /store/ goes straight to its queue, which carries the link.
    assert text(_client(manager).get(f"/store/{madrid.code}/")).count(link) == 1
    assert link not in text(_client(clerk).get(f"/store/{madrid.code}/"))


def test_orders_at_stores_the_user_does_not_work_at_open_in_the_admin(madrid, new_york):
    boss = UserFactory(is_superuser=True, is_staff=True)
    StaffMembershipFactory(user=boss, store=madrid, role=StaffMembership.Role.MANAGER)
    here = make_order(madrid, ("10.00", 1, 1), status=OrderStatus.COLLECTED)
    there = make_order(new_york, ("10.00", 1, 1), status=OrderStatus.COLLECTED)

    page = text(_client(boss).get(URL))

    assert f'href="/store/{madrid.code}/orders/{here.number}/"' in page
    assert f'href="/admin/orders/order/{there.pk}/change/"' in page


# --- Query count -------------------------------------------------------------------------------


def _grow(store, clerk, n, *, start=0):
    for i in range(start, start + n):
        day = datetime(2025, 1, 10 + i % 7, 12, 0, tzinfo=store.tz)
        _, payment = collected(
            store,
            clerk,
            ("10.00", 1, 1),
            at=day,
            via=PaymentMethod.ONLINE if i % 2 else PaymentMethod.IN_STORE,
        )
        if i % 3 == 0:
            refund(payment, "1.00", at=day + timedelta(hours=1))
        # and one order needing attention each time
        make_order(store, ("10.00", 1, 1), status=OrderStatus.COLLECTED)


def _measure(client, params):
    client.get(URL, params)  # warm up the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200
    return len(queries.captured_queries), response


def test_the_page_runs_the_same_queries_for_3_or_30_orders(madrid, new_york, clerk_user):
    client = _client(_staff_api(madrid, new_york))
    _grow(madrid, clerk_user, 3)
    _grow(new_york, clerk_user, 3)

    small, small_page = _measure(client, RANGE)
    _grow(madrid, clerk_user, 27, start=3)
    _grow(new_york, clerk_user, 27, start=3)
    large, large_page = _measure(client, RANGE)
    print(f"\nreconciliation: {small} queries for 3 orders a store, {large} for 30")

    assert small == large
    assert len(small_page.context["mismatches"]) == 6
    assert len(large_page.context["mismatches"]) == 60
    assert sum(t.orders_collected for t in large_page.context["report"].totals) == 60


def test_the_selectors_query_once_per_time_zone(
    madrid, new_york, clerk_user, django_assert_num_queries
):
    _grow(madrid, clerk_user, 30)
    _grow(new_york, clerk_user, 30)
    stores = [madrid, new_york]

    with django_assert_num_queries(6):  # taken, refunded, collected for each time zone
        payment_reconciliation(stores=stores, start=START, end=END)
    with django_assert_num_queries(1):
        assert len(payment_mismatches(stores=stores, now=NOW)) == 60
