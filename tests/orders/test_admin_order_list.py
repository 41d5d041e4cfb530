"""The admin's order list at scale: no date hierarchy, no full count, a search on indexes."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.admin import EstimatedCountPaginator
from orders.models import Order
from tests.support.web_helpers import place_at, text

pytest_plugins = ["tests.support.web_fixtures"]

LIST = "/admin/orders/order/"


@pytest.fixture
def orders(shop, customer_factory):
    ana = customer_factory(name="Ana Lopez", email="ana.lopez@example.com", phone="+34600111222")
    ben = customer_factory(name="Ben Ortiz", email="ben@shop.test", phone="+34600999888")
    return place_at(shop.store, (shop.lamp, 1), customer=ana), place_at(
        shop.store, (shop.mug, 1), customer=ben
    )


def _listed(admin_client, **params) -> set[str]:
    response = admin_client.get(LIST, params, headers={"accept-language": "en"})
    assert response.status_code == 200
    html = text(response)
    return {number for number in Order.objects.values_list("number", flat=True) if number in html}


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("number", {"ana"}),
        ("number-lower", {"ana"}),
        ("lopez@exa", {"ana"}),
        ("LOPEZ", {"ana"}),
        ("ben ortiz", {"ben"}),
        ("+34600999888", {"ben"}),
        ("@", {"ana", "ben"}),
        ("nobody", set()),
    ],
)
def test_the_search_finds_by_number_phone_email_or_name(admin_client, orders, term, found):
    ana, ben = orders
    term = {"number": ana.number, "number-lower": ana.number.lower()}.get(term, term)

    listed = _listed(admin_client, q=term)

    assert listed == {
        order.number for order in orders if order.contact_name.split()[0].lower() in found
    }


def test_the_list_has_no_date_hierarchy_and_no_full_count(admin_client, orders):
    with CaptureQueriesContext(connection) as queries:
        html = text(admin_client.get(LIST, {"q": "Ana"}, headers={"accept-language": "en"}))

    assert "xfull-hierarchy" not in html and 'class="xfull"' not in html
    assert "date_hierarchy" not in html and "toplinks" not in html
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert all("LIMIT" in sql for sql in counts), counts
    assert not any(
        "django_datetime_trunc" in q["sql"] or "DATE_TRUNC" in q["sql"]
        for q in queries.captured_queries
    )


def test_the_search_uses_the_indexes(db, orders):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute(
                "EXPLAIN SELECT id FROM orders_order WHERE number = %s OR contact_phone = %s "
                "OR UPPER(contact_email::text) LIKE UPPER(%s) "
                "OR UPPER(contact_name::text) LIKE UPPER(%s)",
                ["CC-X", "+34", "%lopez%", "%lopez%"],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("SET enable_seqscan = on")

    for index in ("order_email_trgm", "order_name_trgm", "order_phone_idx"):
        assert index in plan, plan


def test_the_paginator_counts_exactly_up_to_its_bound_then_estimates(db, orders, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_UP_TO", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    start = time.perf_counter()

    estimated = EstimatedCountPaginator(Order.objects.all(), 100).count
    exact = EstimatedCountPaginator(Order.objects.filter(pk=orders[0].pk), 100).count
    print(f"\nestimated count: {(time.perf_counter() - start) * 1000:.1f} ms")

    assert exact == 1
    assert estimated >= 2
