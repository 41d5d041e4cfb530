"""Finding things at the tablet (issue 11, item 16): an order by its number in the scan field
and in the search, customers whatever the case and accents, and today's collected orders."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.selectors import search_customers
from orders.selectors import COLLECTED_SHOWN
from orders.services import collect_order, pickup_verification
from stores.models import StockLevel
from tests.conftest import MADRID
from tests.support.api_helpers import ready
from tests.support.factories import CustomerFactory
from tests.support.sqlite_shell import run_on_sqlite
from tests.support.web_helpers import hand_over, place_at, text, written

pytest_plugins = ["tests.support.web_fixtures"]


@pytest.fixture
def order(shop):
    return place_at(shop.store, (shop.lamp, 1))


def _scan(tablet, store, value):
    return tablet.post(f"/store/{store.code}/scan/", {"q": value})


def _order_page(order) -> str:
    return f"/store/{order.store.code}/orders/{order.number}/"


def _typed(number: str, how: str) -> str:
    """``number`` ("CC-7K3F9QX2") as a clerk might type it."""
    bare = number.removeprefix("CC-")
    return {
        "exact": number,
        "lower": number.lower(),
        "no-dash": f"CC{bare}",
        "spaced": f" cc {bare[:4]} {bare[4:]} ",
        "other-dash": f"cc–{bare.lower()}",
    }[how]


# --- An order by its number ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["exact", "lower", "no-dash", "spaced", "other-dash"])
def test_the_scan_field_opens_an_order_by_its_number(shop, clerk, tablet, order, how):
    ready(order, clerk)
    before = written()

    response = _scan(tablet, shop.store, _typed(order.number, how))

    assert response.status_code == 302
    assert response["Location"] == _order_page(order)
    # A number is no proof of pickup: the clerk still checks the code or the QR.
    assert pickup_verification(order=order, user=clerk) == ""
    page = text(tablet.get(response["Location"]))
    assert "Check the customer's pickup code" in page
    assert "Confirm handover" not in page
    assert written() == before


def test_a_collected_order_opens_by_its_number_for_a_refund(shop, clerk, tablet, order):
    ready(order, clerk)
    hand_over(order, clerk, method="cash")

    response = _scan(tablet, shop.store, order.number.lower())

    assert response.status_code == 302
    assert response["Location"] == _order_page(order)


def test_an_order_number_of_another_store_is_not_found(shop, clerk, tablet):
    theirs = place_at(shop.other, (shop.mug, 1))
    before = written()

    response = _scan(tablet, shop.store, theirs.number)

    assert response.status_code == 404
    assert f"No order {theirs.number} at this store." in text(response)
    assert 'href="/store/' + shop.other.code not in text(response)
    assert written() == before


def test_the_search_opens_an_order_by_its_number(shop, tablet, order):
    response = tablet.get(
        f"/store/{shop.store.code}/customers/", {"q": _typed(order.number, "spaced")}
    )

    assert response.status_code == 302
    assert response["Location"] == _order_page(order)


def test_the_search_says_when_no_order_has_that_number_here(shop, tablet):
    theirs = place_at(shop.other, (shop.mug, 1))

    response = tablet.get(f"/store/{shop.store.code}/customers/", {"q": theirs.number})

    assert response.status_code == 200
    assert f"No order {theirs.number} at this store." in text(response)


# --- Customers whatever the case and accents -------------------------------------------------


@pytest.fixture
def people(db):
    return {
        "lucia": CustomerFactory(name="Lucía Fernández", email="l.f@example.test"),
        "angel": CustomerFactory(name="ÁNGEL NÚÑEZ", email="an@example.test"),
        "joao": CustomerFactory(name="João Gonçalves", email="jg@example.test"),
        "plain": CustomerFactory(name="Lucia Perez", email="lp@example.test"),
    }


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("lucia", ["Lucia Perez", "Lucía Fernández"]),
        ("LUCÍA", ["Lucia Perez", "Lucía Fernández"]),
        ("lucia fernandez", ["Lucía Fernández"]),
        ("FERNÁNDEZ", ["Lucía Fernández"]),
        ("pérez", ["Lucia Perez"]),
        ("angel nunez", ["ÁNGEL NÚÑEZ"]),
        ("Ángel Núñez", ["ÁNGEL NÚÑEZ"]),
        ("goncalves", ["João Gonçalves"]),
        ("JOAO", ["João Gonçalves"]),
    ],
)
def test_customer_search_ignores_case_and_accents(shop, tablet, people, query, found):
    response = tablet.get(f"/store/{shop.store.code}/customers/", {"q": query})

    assert response.status_code == 200
    assert sorted(c.name for c in search_customers(query)) == found
    for name in found:
        assert f"<strong>{name}</strong>" in text(response)


def test_a_renamed_customer_is_found_by_the_new_name(people):
    lucia = people["lucia"]
    lucia.name = "Lucía Fernández-Ibáñez"
    lucia.save(update_fields=["name"])

    assert [c.pk for c in search_customers("ibanez")] == [lucia.pk]
    assert Customer.objects.get(pk=lucia.pk).search_name == "lucia fernandez-ibanez"


def test_customer_search_ignores_case_and_accents_on_sqlite_too(tmp_path):
    """The demo runs on SQLite, whose LIKE and lower() fold ASCII only: the same search there,
    in a fresh SQLite database migrated from scratch."""
    script = (
        "import json\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from customers.models import Customer\n"
        "from customers.selectors import search_customers\n"
        "Customer.objects.create(email='l@example.test', name='LUCÍA Fernández')\n"
        "Customer.objects.create(email='a@example.test', name='Ángel Núñez')\n"
        "queries = ['lucia', 'Lucía fernandez', 'ANGEL', 'núñez', 'nunez']\n"
        "print(json.dumps({q: [c.name for c in search_customers(q)] for q in queries}))\n"
    )
    found = run_on_sqlite(script, tmp_path)

    assert found == {
        "lucia": ["LUCÍA Fernández"],
        "Lucía fernandez": ["LUCÍA Fernández"],
        "ANGEL": ["Ángel Núñez"],
        "núñez": ["Ángel Núñez"],
        "nunez": ["Ángel Núñez"],
    }


# --- Today's collected orders ----------------------------------------------------------------


def _collected_at(store, clerk, shop, when, *, quantity=1, slot_index=1):
    order = place_at(store, (shop.lamp, quantity), slot_index=slot_index)
    ready(order, clerk)
    collect_order(
        order=order,
        user=clerk,
        quantities={},
        payment_method="cash",
        reference="",
        collector="customer",
        verified_by="qr",
        device="test",
        now=when,
    )
    return order


def _collected_section(html: str) -> str:
    start = html.index('id="collected-today"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("Europe/Madrid", datetime(2025, 1, 15, 0, 30)),
        ("Europe/Madrid", datetime(2025, 1, 15, 23, 45)),
        ("America/Mexico_City", datetime(2025, 1, 15, 0, 30)),
        ("America/Mexico_City", datetime(2025, 1, 15, 23, 45)),
    ],
    ids=["madrid-after-midnight", "madrid-late", "mexico-after-midnight", "mexico-late"],
)
def test_the_queue_lists_the_orders_collected_today_in_the_stores_day(
    shop, clerk, tablet, zone, now
):
    store = shop.store
    store.timezone = zone
    store.save(update_fields=["timezone"])
    local_now = now.replace(tzinfo=store.tz)
    midnight = local_now.replace(hour=0, minute=0)
    today_early = _collected_at(store, clerk, shop, midnight + timedelta(minutes=1), quantity=2)
    today_latest = _collected_at(store, clerk, shop, local_now - timedelta(minutes=5))
    yesterday = _collected_at(store, clerk, shop, midnight - timedelta(minutes=1))
    elsewhere = place_at(shop.other, (shop.mug, 1))
    ready(elsewhere, clerk)
    hand_over(elsewhere, clerk, method="cash")
    open_order = place_at(store, (shop.lamp, 1))

    with time_machine.travel(local_now, tick=False):
        response = tablet.get(f"/store/{store.code}/")

    assert response.status_code == 200
    section = _collected_section(text(response))
    # Newest first, each linking to its page (for a refund), with what was handed over.
    assert section.index(today_latest.number) < section.index(today_early.number)
    assert f'href="{_order_page(today_early)}"' in section
    assert "€25.00" in section and "€12.50" in section
    for absent in (yesterday, elsewhere, open_order):
        assert absent.number not in section


def test_the_queue_says_when_nothing_was_collected_today(shop, tablet):
    response = tablet.get(f"/store/{shop.store.code}/")

    assert "Nothing collected yet today." in _collected_section(text(response))


def test_collected_today_lists_the_newest_and_counts_all_in_the_same_queries(shop, clerk, tablet):
    StockLevel.objects.filter(store=shop.store, variant=shop.lamp).update(on_hand=100)
    now = datetime(2025, 1, 15, 18, 0, tzinfo=MADRID)

    made = 0

    def measure(n):
        nonlocal made
        for _ in range(n):
            made += 1
            slot = made // shop.store.slot_capacity
            _collected_at(shop.store, clerk, shop, now - timedelta(minutes=made), slot_index=slot)
        path = f"/store/{shop.store.code}/"
        with time_machine.travel(now, tick=False):
            tablet.get(path)
            with CaptureQueriesContext(connection) as queries:
                response = tablet.get(path)
        section = _collected_section(text(response))
        return len(queries), section.count("<tr class="), section

    small, shown_small, _ = measure(3)
    large, shown_large, section = measure(27)

    # The newest 25 are listed; all 30 are counted, and the rest are said to be findable.
    assert (shown_small, shown_large) == (3, COLLECTED_SHOWN) == (3, 25)
    assert '<span class="badge">30</span>' in section
    assert "5 more orders collected today" in section
    assert small == large
