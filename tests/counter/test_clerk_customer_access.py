"""A clerk sees only what the counter needs (issue 12, item 3).

A tester enumerated ``/store/MAD-01/customers/<id>/`` for ids 1–300 as a clerk of MAD-01 and
got 262 full customer records, one of a customer who only ever ordered at BCN-01. Now a
customer is opened by an unguessable reference that only a search or an order of the clerk's
store links to; other stores' orders are only counted; searches and record views are rate
limited per clerk; and every view of a record is in an access log that managers read.
"""

import re
import secrets
from collections import Counter

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer, CustomerAccess
from stores.models import StaffMembership
from tests.core.test_api_throttle import _race
from tests.support.factories import (
    CustomerFactory,
    StaffMembershipFactory,
    StoreFactory,
    UserFactory,
)
from tests.support.sqlite_shell import run_on_sqlite
from tests.support.web_helpers import logged_in, place_at, tags, text

pytest_plugins = [
    "tests.support.web_fixtures"
]  # shop (store + other_store), tablet (clerk of store)

LOG = "/manage/customer-access/"


@pytest.fixture
def store(db, store_zone):
    """The clerk's store (``shop.store``, the ``clerk`` and ``manager`` fixtures' store)."""
    return StoreFactory(code="MAD-01", name="Madrid Centro", timezone=store_zone)


@pytest.fixture
def other_store(db, store_zone):
    return StoreFactory(code="BCN-01", name="Barcelona Gràcia", timezone=store_zone)


@pytest.fixture
def bcn_clerk(other_store):
    user = UserFactory(name="Jordi Puig")
    StaffMembershipFactory(user=user, store=other_store, role=StaffMembership.Role.CLERK)
    return user


@pytest.fixture
def lucia(db):
    return CustomerFactory(name="Lucía Fernández", email="lucia@example.test")


def _page(store, customer) -> str:
    return f"/store/{store.code}/customers/{customer.reference}/"


def _search(client, store, query):
    return client.get(f"/store/{store.code}/customers/", {"q": query})


def _limit(settings, scope, limit, window=3600):
    """``scope``'s limit for this test, in a window long enough that no test straddles two."""
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, scope: (limit, window)}


def _orders_section(html: str) -> str:
    return re.search(r'<section class="panel" id="orders">(.*?)</section>', html, re.S).group(1)


# --- No sequential ids -----------------------------------------------------------------------


def test_integer_customer_ids_no_longer_open_a_customer(shop, tablet, settings):
    # given customers on file, and a view limit high enough not to be what answers
    _limit(settings, "customer_view", 10_000)
    customers = [CustomerFactory() for _ in range(20)]
    first, last = customers[0].pk, customers[-1].pk

    statuses = Counter(
        tablet.get(f"/store/{shop.store.code}/customers/{n}/").status_code
        for n in range(1, last + 1)
    )

    # then every integer is a 404, those of real customers too
    assert statuses == {404: last}, statuses
    assert first >= 1


def test_a_clerk_opens_a_customer_by_reference_and_a_guess_is_404(shop, tablet, lucia):
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", lucia.reference)
    assert Customer.objects.filter(reference=lucia.reference).count() == 1

    opened = tablet.get(_page(shop.store, lucia))
    guessed = tablet.get(f"/store/{shop.store.code}/customers/{secrets.token_urlsafe(16)}/")

    assert opened.status_code == 200
    assert "Lucía Fernández" in text(opened)
    assert guessed.status_code == 404
    assert "Lucía" not in text(guessed)


def test_every_customer_route_takes_the_reference_not_the_id(shop, tablet, lucia):
    by_id = f"/store/{shop.store.code}/customers/{lucia.pk}/"
    for path in ["", "cart/", "cart/claim/", "cart/handoff/", "order/", "cart/lines/1/"]:
        assert tablet.post(by_id + path, {"code": "LAMP-01"}).status_code == 404, path
    added = tablet.post(_page(shop.store, lucia) + "cart/", {"code": "LAMP-01", "quantity": 1})
    assert added.status_code == 302
    assert added["Location"] == _page(shop.store, lucia)


def test_new_customers_get_distinct_random_references(db):
    references = {CustomerFactory().reference for _ in range(50)}

    assert len(references) == 50
    assert all(len(r) >= 22 for r in references)


def test_the_migration_gives_existing_customers_distinct_references(tmp_path):
    """Customers on file before the reference existed get one each (on the demo's SQLite,
    migrated from scratch: back to before the reference, rows added, then forward)."""
    script = (
        "import json\n"
        "from django.db import connection\n"
        "from django.db.migrations.executor import MigrationExecutor\n"
        "executor = MigrationExecutor(connection)\n"
        "executor.migrate([('customers', '0007_notification_kind_receipt')])\n"
        "state = executor.loader.project_state(('customers', '0007_notification_kind_receipt'))\n"
        "Old = state.apps.get_model('customers', 'Customer')\n"
        "for i in range(30):\n"
        "    Old.objects.create(email=f'c{i}@example.test', name=f'C {i}')\n"
        "executor = MigrationExecutor(connection)\n"
        "executor.migrate(executor.loader.graph.leaf_nodes())\n"
        "from customers.models import Customer\n"
        "print(json.dumps(list(Customer.objects.values_list('reference', flat=True))))\n"
    )
    references = run_on_sqlite(script, tmp_path)

    assert len(references) == 30
    assert len(set(references)) == 30
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", r) for r in references)


# --- Reached through a search or an order of the store ---------------------------------------


def test_search_results_and_the_order_page_link_to_the_reference(shop, tablet, lucia):
    order = place_at(shop.store, (shop.lamp, 1), customer=lucia)

    results = text(_search(tablet, shop.store, "lucia"))
    order_page = text(tablet.get(f"/store/{shop.store.code}/orders/{order.number}/"))

    links = [t.attrs.get("href", "") for t in tags(results + order_page) if t.name == "a"]
    assert f"{_page(shop.store, lucia)}?via=search" in links
    assert f"{_page(shop.store, lucia)}?via=order" in links
    assert not [link for link in links if f"/customers/{lucia.pk}/" in link]


# --- Other stores' orders only as a count ----------------------------------------------------


def test_a_customer_who_only_ordered_at_bcn_shows_a_count_at_mad(shop, tablet, lucia):
    # given a customer whose only orders are two at BCN-01 (the mug is 4.00 EUR)
    first = place_at(shop.other, (shop.mug, 3), customer=lucia)
    second = place_at(shop.other, (shop.mug, 1), customer=lucia, slot_index=2)

    # when a clerk of MAD-01 opens her
    response = tablet.get(_page(shop.store, lucia))

    # then the orders are a count, and nothing of them is on the page
    html = text(response)
    assert response.status_code == 200
    assert re.search(r'id="orders-elsewhere">\s*2 orders at other stores\s*<', html)
    assert "No orders at this store yet." in _orders_section(html)
    for number in (first.number, second.number):
        assert number not in html
    for amount in ("€12.00", "12.00", "€4.00", "4.00"):
        assert amount not in html, amount
    for leak in ("Stoneware Mug", "MUG-01", "BCN-01", "Barcelona", "/orders/"):
        assert leak not in html, leak
    shown = re.search(r'id="orders-elsewhere">([^<]*)<', html)[1].strip()
    print(f"\nA customer who only ordered at BCN-01, at MAD-01's tablet: {shown!r}")


def test_this_stores_orders_are_listed_and_only_theirs_on_the_timeline(shop, tablet, lucia):
    here = place_at(shop.store, (shop.lamp, 1), customer=lucia)
    there = place_at(shop.other, (shop.mug, 2), customer=lucia)

    html = text(tablet.get(_page(shop.store, lucia)))

    orders = _orders_section(html)
    assert f'<a href="/store/{shop.store.code}/orders/{here.number}/">{here.number}</a>' in orders
    assert "€12.50</li>" in orders
    assert re.search(r'id="orders-elsewhere">\s*1 order at another store\s*<', html)
    timeline = re.search(r'<section class="panel" id="timeline">(.*?)</section>', html, re.S)[1]
    assert f"Placed an order · {here.number}" in timeline
    assert there.number not in html
    assert "€8.00" not in html


def test_a_customer_with_no_orders_elsewhere_has_no_count(shop, tablet, lucia):
    place_at(shop.store, (shop.lamp, 1), customer=lucia)

    html = text(tablet.get(_page(shop.store, lucia)))

    assert 'id="orders-elsewhere"' not in html


# --- Throttles -------------------------------------------------------------------------------


def test_the_search_is_throttled_per_clerk_with_a_message(shop, tablet, lucia, settings, store):
    _limit(settings, "customer_search", 3)
    other_clerk = UserFactory()
    StaffMembershipFactory(user=other_clerk, store=store, role=StaffMembership.Role.CLERK)

    allowed = [_search(tablet, shop.store, "lucia") for _ in range(3)]
    refused = _search(tablet, shop.store, "lucia")
    colleague = _search(logged_in(other_clerk), shop.store, "lucia")
    page_without_search = tablet.get(f"/store/{shop.store.code}/customers/")

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert all("Lucía Fernández" in text(r) for r in allowed)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    html = text(refused)
    assert re.search(
        r'id="throttled"[^>]*>Too many customer searches in a short time\. '
        r"Wait \d+ seconds? and try again\.<",
        html,
    )
    assert "Lucía" not in html
    assert 'id="customer-q"' in html  # still the tablet's page, with its search box
    assert colleague.status_code == 200
    assert "Lucía Fernández" in text(colleague)
    assert page_without_search.status_code == 200


def test_the_throttle_message_is_in_spanish_on_a_spanish_tablet(shop, clerk, lucia, settings):
    _limit(settings, "customer_search", 1)
    tablet = Client(HTTP_ACCEPT_LANGUAGE="es")
    tablet.force_login(clerk)
    _search(tablet, shop.store, "lucia")

    refused = _search(tablet, shop.store, "lucia")

    assert refused.status_code == 429
    assert "Demasiadas búsquedas de clientes en poco tiempo." in text(refused)


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_searches_by_one_clerk_let_exactly_the_limit_through(settings):
    # given one clerk of MAD-01 and one customer; the configured limit, in a long window
    limit, _ = settings.API_RATE_LIMITS["customer_search"]
    _limit(settings, "customer_search", limit)
    store = StoreFactory(code="MAD-01")
    clerk = UserFactory()
    StaffMembershipFactory(user=clerk, store=store, role=StaffMembership.Role.CLERK)
    CustomerFactory(name="Lucía Fernández")

    def attempt(i):
        client = logged_in(clerk)
        return lambda: _search(client, store, "lucia")

    responses = _race(attempt)

    statuses = Counter(r.status_code for r in responses)
    print(f"\n50 customer searches at once by one clerk (limit {limit}): {dict(statuses)}")
    assert statuses == {200: limit, 429: 50 - limit}
    assert all("Lucía Fernández" in text(r) for r in responses if r.status_code == 200)


def test_customer_views_are_throttled_per_clerk(shop, tablet, lucia, settings, store):
    _limit(settings, "customer_view", 2)
    other_clerk = UserFactory()
    StaffMembershipFactory(user=other_clerk, store=store, role=StaffMembership.Role.CLERK)

    allowed = [tablet.get(_page(shop.store, lucia)) for _ in range(2)]
    refused = tablet.get(_page(shop.store, lucia))
    guess = tablet.get(f"/store/{shop.store.code}/customers/{secrets.token_urlsafe(16)}/")
    colleague = logged_in(other_clerk).get(_page(shop.store, lucia))

    assert [r.status_code for r in allowed] == [200, 200]
    assert refused.status_code == 429
    assert re.search(
        r'id="throttled"[^>]*>Too many customer records opened in a short time\. '
        r"Wait \d+ seconds? and try again\.<",
        text(refused),
    )
    assert "Lucía" not in text(refused)
    assert guess.status_code == 429  # a guessed reference counts too
    assert colleague.status_code == 200
    # only the views that showed the record are in the log
    assert CustomerAccess.objects.filter(customer=lucia).count() == 3


# --- The access log --------------------------------------------------------------------------


def test_each_view_of_a_customer_page_writes_one_access_row(shop, tablet, clerk, lucia):
    order = place_at(shop.store, (shop.lamp, 1), customer=lucia)

    tablet.get(f"{_page(shop.store, lucia)}?via=search")
    tablet.get(f"{_page(shop.store, lucia)}?via=order")
    tablet.post(_page(shop.store, lucia) + "cart/", {"code": "LAMP-01", "quantity": 1})
    tablet.get(f"/store/{shop.store.code}/orders/{order.number}/")
    _search(tablet, shop.store, "lucia")

    rows = list(
        CustomerAccess.objects.order_by("pk").values_list("customer", "user", "store", "via")
    )
    assert rows == [
        (lucia.pk, clerk.pk, shop.store.pk, "search"),
        (lucia.pk, clerk.pk, shop.store.pk, "order"),
    ]
    # the page again (reloaded, or after an action), and a refused action that shows it too
    assert tablet.get(_page(shop.store, lucia)).status_code == 200
    refused = tablet.post(_page(shop.store, lucia) + "cart/", {"code": "NOPE-1", "quantity": 1})
    assert refused.status_code == 400 and "Lucía Fernández" in text(refused)
    assert list(CustomerAccess.objects.order_by("pk").values_list("via", flat=True)[2:]) == [
        "page",
        "page",
    ]


def test_a_refused_or_guessed_view_writes_no_access_row(shop, tablet, lucia):
    tablet.get(f"/store/{shop.store.code}/customers/{secrets.token_urlsafe(16)}/")
    Client().get(_page(shop.store, lucia))
    outsider = UserFactory()
    StaffMembershipFactory(user=outsider, store=shop.other)
    assert logged_in(outsider).get(_page(shop.store, lucia)).status_code == 404

    assert CustomerAccess.objects.count() == 0


@pytest.fixture
def views_at_both_stores(shop, tablet, clerk, bcn_clerk, lucia):
    """Lucía opened by the MAD-01 clerk, Pau by the BCN-01 clerk."""
    pau = CustomerFactory(name="Pau Serra", email="pau@example.test")
    tablet.get(f"{_page(shop.store, lucia)}?via=search")
    logged_in(bcn_clerk).get(f"{_page(shop.other, pau)}?via=order")
    return lucia, pau


def _log_rows(html: str) -> list[str]:
    body = re.search(r'<tbody id="access-rows">(.*?)</tbody>', html, re.S)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []


def test_a_manager_reads_the_log_of_their_store_only(shop, manager, clerk, views_at_both_stores):
    lucia, pau = views_at_both_stores

    response = logged_in(manager).get(LOG)

    html = text(response)
    assert response.status_code == 200
    rows = _log_rows(html)
    assert len(rows) == 1
    assert "Lucía Fernández" in rows[0]
    assert lucia.reference in rows[0]
    assert (clerk.name or clerk.email) in rows[0]
    assert "MAD-01" in rows[0]
    assert "Pau" not in html and pau.reference not in html and "Jordi Puig" not in html


def test_a_manager_of_both_stores_sees_both_newest_first(shop, manager, views_at_both_stores):
    lucia, pau = views_at_both_stores
    StaffMembershipFactory(user=manager, store=shop.other, role=StaffMembership.Role.MANAGER)

    rows = _log_rows(text(logged_in(manager).get(LOG)))
    only_bcn = _log_rows(text(logged_in(manager).get(LOG, {"store": "BCN-01"})))

    assert ["Pau Serra" in rows[0], "Lucía Fernández" in rows[1]] == [True, True]
    assert len(only_bcn) == 1 and "Pau Serra" in only_bcn[0]


def test_clerks_shoppers_and_visitors_cannot_read_the_log(
    shop, tablet, shopper, manager, views_at_both_stores
):
    shopper_client = logged_in(shopper.user)

    assert tablet.get(LOG).status_code == 403
    assert shopper_client.get(LOG).status_code == 403
    assert Client().get(LOG)["Location"].startswith("/account/login/")
    # a store the manager does not manage is not found
    assert logged_in(manager).get(LOG, {"store": "BCN-01"}).status_code == 404


def test_the_log_page_runs_the_same_queries_for_3_or_30_views(shop, tablet, manager):
    customers = [CustomerFactory() for _ in range(30)]
    client = logged_in(manager)

    def measure():
        client.get(LOG)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LOG)
        assert response.status_code == 200
        return len(queries.captured_queries), len(_log_rows(text(response)))

    for customer in customers[:3]:
        tablet.get(_page(shop.store, customer))
    small, shown_small = measure()
    for customer in customers[3:]:
        tablet.get(_page(shop.store, customer))
    large, shown_large = measure()

    assert (shown_small, shown_large) == (3, 30)
    assert small == large


def test_the_log_is_read_only_in_the_admin(admin_client, shop, tablet, lucia):
    tablet.get(_page(shop.store, lucia))
    access = CustomerAccess.objects.get()
    model_admin = admin.site._registry[CustomerAccess]

    changelist = admin_client.get(reverse("admin:customers_customeraccess_changelist"))
    change = admin_client.get(reverse("admin:customers_customeraccess_change", args=[access.pk]))
    add = admin_client.get(reverse("admin:customers_customeraccess_add"))
    delete = admin_client.post(
        reverse("admin:customers_customeraccess_delete", args=[access.pk]), {"post": "yes"}
    )

    assert changelist.status_code == 200 and "Lucía Fernández" in text(changelist)
    assert change.status_code == 200
    assert not model_admin.has_change_permission(change.wsgi_request, access)
    assert add.status_code == 403
    assert delete.status_code == 403
    assert CustomerAccess.objects.count() == 1


# --- The figure ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_customer_records_a_mad_clerk_reaches_by_enumerating_ids_1_to_300():
    # given 300 customers with ids 1..300, one of whom only ever ordered at BCN-01
    mad = StoreFactory(code="MAD-01")
    StoreFactory(code="BCN-01")
    clerk = UserFactory()
    StaffMembershipFactory(user=clerk, store=mad, role=StaffMembership.Role.CLERK)
    customers = [CustomerFactory() for _ in range(300)]
    assert (customers[0].pk, customers[-1].pk) == (1, 300)
    tablet = logged_in(clerk)

    # when the clerk asks for every id, as the tester did
    responses = [tablet.get(f"/store/MAD-01/customers/{n}/") for n in range(1, 301)]

    statuses = Counter(r.status_code for r in responses)
    reached = statuses[200]
    print(f"\ncustomer records a MAD-01 clerk can reach by enumerating ids 1..300: {reached}")
    print(f"  answers: {dict(sorted(statuses.items()))}")
    assert reached == 0
    assert set(statuses) <= {404, 429}
    assert not any(c.email in r.content.decode() for r in responses for c in customers[:5])
