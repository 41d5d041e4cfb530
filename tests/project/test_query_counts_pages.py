"""Pages run a fixed number of SQL queries, whatever the size of the data (DESIGN §9).

Each test builds a few rows, measures, grows the data, measures again, and checks that both
counts are equal (and, for the pages with a known count, equal to that fixed number) and that
the page really shows every row both times.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Notification, NpsAnswer, Touchpoint
from orders.models import Order
from orders.services import mark_preparing, mark_ready, refund_order
from shop.models import Cart
from stores.models import StockLevel, Store
from tests.support.factories import (
    CartLineFactory,
    CategoryFactory,
    ProductFactory,
    StockLevelFactory,
    StoreFactory,
    VariantFactory,
)
from tests.support.web_helpers import (
    add_to_cart,
    checkout,
    collect_in_full,
    logged_in,
    place_at,
    text,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.payments_fixtures"]

SMALL, LARGE = 5, 50

PUBLISHABLE_KEY = "pk_test_omnicollect_0123456789"

# The fixed counts, as measured.
CATALOGUE_PAGE = 3
PRODUCT_PAGE = 7
# Logged in: session, user, customer, cart and the stores of the header; a view is queued in
# Redis, not written (shop.services.record_product_view).
PRODUCT_PAGE_LOGGED_IN = 13
CART_PAGE = 8
CHECKOUT_PAGE = 14
# The board: the columns' totals (its version), the first tickets of each column, their fields.
TABLET_QUEUE = 9
TABLET_POLL = 7
TABLET_POLL_UNCHANGED = 4  # session, user, staff membership (the store: cached), state: 204
# The card page looks for the order's last card attempt (one query): one waiting for 3-D
# Secure is finished, not replaced by a new card.
PAY_PAGE = 10
SURVEY_PAGE = 2
ORDER_PAGE = 9
TABLET_ORDER_PAGE = 11
ACCOUNT_PAGE = 9


def _count(client, path, **kwargs) -> tuple[int, str]:
    client.get(path, **kwargs)  # warm up: session row, lazily created customer, cart
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return len(queries.captured_queries), text(response)


def _report(name, small, large, rows=(SMALL, LARGE)):
    print(f"\n{name}: {small} queries for {rows[0]} rows, {large} for {rows[1]} rows")


@pytest.fixture
def stocked_variants(shop):
    """``make(n)``: n more variants at 10.00 EUR, each stocked at the shop's stores."""

    def make(n):
        made = []
        for _ in range(n):
            variant = VariantFactory()
            StockLevel.objects.bulk_create(
                [StockLevel(store=s, variant=variant, on_hand=50) for s in (shop.store, shop.other)]
            )
            made.append(variant)
        return made

    return make


def _assert_no_distinct_count(client, path):
    """The catalogue's queries join no variants: no DISTINCT, no GROUP BY, on any page."""
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    for query in queries.captured_queries:
        assert "DISTINCT" not in query["sql"].upper(), query["sql"]
        assert "GROUP BY" not in query["sql"].upper(), query["sql"]


def test_catalogue_queries_do_not_grow_with_products(db, settings):
    settings.CATALOGUE_PAGE_SIZE = 100
    categories = [CategoryFactory() for _ in range(3)]

    def grow(n):
        for i in range(n):
            product = ProductFactory(category=categories[i % 3])
            VariantFactory(product=product)
            VariantFactory(product=product)

    client = Client()
    grow(SMALL)
    small, html_small = _count(client, "/")
    grow(LARGE - SMALL)
    large, html_large = _count(client, "/")
    _report("catalogue", small, large)

    assert html_small.count('<li class="card">') == SMALL
    assert html_large.count('<li class="card">') == LARGE
    assert (small, large) == (CATALOGUE_PAGE, CATALOGUE_PAGE)
    _assert_no_distinct_count(client, "/")


def test_catalogue_search_queries_do_not_grow_with_matches(db, settings):
    settings.CATALOGUE_PAGE_SIZE = 100
    category = CategoryFactory()
    other = CategoryFactory()

    def grow(n):
        for _ in range(n):
            VariantFactory(product=ProductFactory(category=category, name="Desk lamp"))
            VariantFactory(product=ProductFactory(category=other, name="Floor lamp"))
            VariantFactory(product=ProductFactory(category=category, name="Mug"))

    client = Client()
    grow(SMALL)
    small, html_small = _count(client, f"/?q=lamp&category={category.slug}")
    grow(LARGE - SMALL)
    large, html_large = _count(client, f"/?q=lamp&category={category.slug}")
    _report("catalogue search", small, large)

    assert html_small.count('<li class="card">') == SMALL
    assert html_large.count('<li class="card">') == LARGE
    assert (small, large) == (CATALOGUE_PAGE, CATALOGUE_PAGE)
    _assert_no_distinct_count(client, f"/?q=lamp&category={category.slug}")


def test_product_page_queries_do_not_grow_with_variants(shop):
    StoreFactory()  # three stores in all
    product = ProductFactory(slug="many-variants")
    stores = list(Store.objects.all())
    assert len(stores) == 3

    def grow(n):
        for _ in range(n):
            variant = VariantFactory(product=product)
            for store in stores:
                StockLevelFactory(store=store, variant=variant, on_hand=4)

    client = Client()
    grow(SMALL)
    small, html_small = _count(client, "/p/many-variants/")
    grow(LARGE - SMALL)
    large, html_large = _count(client, "/p/many-variants/")
    _report("product", small, large)

    assert html_small.count('class="chip"') == SMALL
    assert html_large.count('class="chip"') == LARGE
    assert html_large.count('<li class="store-row') == 3
    assert (small, large) == (PRODUCT_PAGE, PRODUCT_PAGE)


def test_product_page_queries_for_a_logged_in_shopper_do_not_grow(shop, shopper, stocked_variants):
    product = ProductFactory(slug="for-shopper")
    client = Client()
    client.force_login(shopper.user)

    for variant in stocked_variants(SMALL):
        VariantFactory(product=product, sku=variant.sku + "-P")
    small, _ = _count(client, "/p/for-shopper/")
    for variant in stocked_variants(LARGE - SMALL):
        VariantFactory(product=product, sku=variant.sku + "-P")
    large, _ = _count(client, "/p/for-shopper/")
    _report("product (logged in)", small, large)

    assert (small, large) == (PRODUCT_PAGE_LOGGED_IN, PRODUCT_PAGE_LOGGED_IN)


def test_cart_queries_do_not_grow_with_lines(shop, stocked_variants):
    client = Client()
    add_to_cart(client, shop.lamp, 1)
    client.post("/cart/store/", {"store": shop.store.code})
    cart = Cart.objects.get()

    def grow(n):
        for variant in stocked_variants(n):
            CartLineFactory(cart=cart, variant=variant, quantity=2)

    grow(SMALL - 1)
    small, html_small = _count(client, "/cart/")
    grow(LARGE - SMALL)
    large, html_large = _count(client, "/cart/")
    _report("cart", small, large)

    assert html_small.count('class="qty-form"') == SMALL
    assert html_large.count('class="qty-form"') == LARGE
    assert (small, large) == (CART_PAGE, CART_PAGE)


def test_checkout_page_queries_do_not_grow_with_lines(shop, stocked_variants):
    client = Client()
    add_to_cart(client, shop.lamp, 1)
    cart = Cart.objects.get()

    def grow(n):
        for variant in stocked_variants(n):
            CartLineFactory(cart=cart, variant=variant, quantity=1)

    grow(SMALL - 1)
    small, html_small = _count(client, f"/checkout/?store={shop.store.code}")
    grow(LARGE - SMALL)
    large, html_large = _count(client, f"/checkout/?store={shop.store.code}")
    _report("checkout", small, large)

    assert html_small.count("<li>") == SMALL
    assert html_large.count("<li>") == LARGE
    assert (small, large) == (CHECKOUT_PAGE, CHECKOUT_PAGE)


def _orders_at(store, clerk, n, *, variants, customer=None, start=0):
    """n orders of two lines each: a third placed, a third preparing, a third ready."""
    made = []
    for i in range(start, start + n):
        order = place_at(
            store,
            (variants[0], 1),
            (variants[1], 1),
            customer=customer,
            slot_index=1 + i // store.slot_capacity,
        )
        if i % 3 >= 1:
            mark_preparing(order=order, user=clerk)
        if i % 3 == 2:
            mark_ready(order=order, user=clerk)
        made.append(order)
    return made


def test_tablet_queue_queries_do_not_grow_with_orders(shop, clerk, stocked_variants):
    variants = stocked_variants(2)
    StockLevel.objects.filter(variant__in=variants).update(on_hand=500)
    tablet = Client()
    tablet.force_login(clerk)
    path = f"/store/{shop.store.code}/"

    _orders_at(shop.store, clerk, SMALL, variants=variants)
    small, html_small = _count(tablet, path)
    small_poll, _ = _count(tablet, path, headers={"HX-Request": "true"})
    small_unchanged = _unchanged_poll(tablet, path)
    _orders_at(shop.store, clerk, LARGE - SMALL, variants=variants, start=SMALL)
    large, html_large = _count(tablet, path)
    large_poll, _ = _count(tablet, path, headers={"HX-Request": "true"})
    large_unchanged = _unchanged_poll(tablet, path)
    _report("tablet queue", small, large)
    _report("tablet queue (htmx poll)", small_poll, large_poll)
    _report("tablet queue (poll, nothing changed)", small_unchanged, large_unchanged)

    assert html_small.count('<article class="ticket">') == SMALL
    assert html_large.count('<article class="ticket">') == LARGE
    assert (small, large) == (TABLET_QUEUE, TABLET_QUEUE)
    assert (small_poll, large_poll) == (TABLET_POLL, TABLET_POLL)
    assert (small_unchanged, large_unchanged) == (TABLET_POLL_UNCHANGED, TABLET_POLL_UNCHANGED)


def _unchanged_poll(client, path) -> int:
    """The queries of a poll that sends back the board's own version (204, no board)."""
    board = client.get(path, headers={"HX-Request": "true"}).content.decode()
    since = re.search(r'name="since" value="([^"]+)"', board).group(1)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"since": since}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    return len(queries.captured_queries)


def test_account_queries_do_not_grow_with_orders(shop, shopper, clerk, stocked_variants):
    variants = stocked_variants(2)
    StockLevel.objects.filter(variant__in=variants).update(on_hand=500)
    client = Client()
    client.force_login(shopper.user)

    _orders_at(shop.store, clerk, SMALL, variants=variants, customer=shopper)
    small, html_small = _count(client, "/account/")
    _orders_at(shop.store, clerk, LARGE - SMALL, variants=variants, customer=shopper, start=SMALL)
    large, html_large = _count(client, "/account/")
    _report("account", small, large)

    assert html_small.count('<a href="/orders/CC-') == SMALL
    assert html_large.count('<a href="/orders/CC-') == LARGE
    assert (small, large) == (ACCOUNT_PAGE, ACCOUNT_PAGE)


def test_order_pages_queries_do_not_grow_with_lines(shop, shopper, clerk, stocked_variants):
    customer_client = Client()
    customer_client.force_login(shopper.user)
    tablet = Client()
    tablet.force_login(clerk)

    def measure(n):
        order = place_at(shop.store, *[(v, 1) for v in stocked_variants(n)], customer=shopper)
        mark_preparing(order=order, user=clerk)
        mark_ready(order=order, user=clerk)
        tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
        page, html = _count(customer_client, f"/orders/{order.number}/")
        assert html.count("<tr><td>") == n
        counter, html = _count(tablet, f"/store/{shop.store.code}/orders/{order.number}/")
        assert html.count('type="number" name="qty_') == n
        return page, counter

    small_page, small_counter = measure(SMALL)
    large_page, large_counter = measure(LARGE)
    _report("order page", small_page, large_page)
    _report("tablet order page", small_counter, large_counter)

    assert (small_page, large_page) == (ORDER_PAGE, ORDER_PAGE)
    assert (small_counter, large_counter) == (TABLET_ORDER_PAGE, TABLET_ORDER_PAGE)


@pytest.fixture
def stripe_web(localstripe, settings):
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    return localstripe


# --- The card payment page -------------------------------------------------------------------


def test_card_page_queries_do_not_grow_with_lines(shop, shopper, stocked_variants, stripe_web):
    client = logged_in(shopper.user)

    def measure(n):
        for variant in stocked_variants(n):
            add_to_cart(client, variant)
        response = checkout(client, shop.store, payment="online")
        assert response.status_code == 302, text(response)
        pay_url = response["Location"]
        assert pay_url.endswith("/pay/")
        order = Order.objects.get(number=pay_url.split("/")[2])
        assert (order.status, order.lines.count()) == ("pending_payment", n)
        count, html = _count(client, pay_url)
        assert '<div id="card-element" class="card-element"></div>' in html
        assert f"€{n * 10}.00" in html
        return count

    small = measure(1)
    large = measure(8)
    _report("card page", small, large, (1, 8))

    assert (small, large) == (PAY_PAGE, PAY_PAGE)


# --- The survey page -------------------------------------------------------------------------


def test_survey_page_queries_do_not_grow_with_other_surveys(client, shop, clerk, shopper):
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    note = Notification.objects.get(order_number=order.number, kind="nps_survey")
    path = urlsplit(note.context["survey_url"]).path

    def grow(start, n):
        """n more surveys of other orders of the same customer, each answered."""
        for i in range(start, start + n):
            number = f"CC-OTHER{i:04d}"
            Notification.objects.create(
                customer=shopper,
                order_number=number,
                kind="nps_survey",
                context={"survey_url": f"http://testserver/survey/other-{i}/"},
                dedupe_key=f"qc-nps-{number}",
                status=Notification.Status.SENT,
            )
            NpsAnswer.objects.create(customer=shopper, order_number=number, score=i % 11)

    grow(0, 1)
    small, html_small = _count(client, path)
    grow(1, 9)
    large, html_large = _count(client, path)
    _report("survey page", small, large, (1, 10))

    assert NpsAnswer.objects.filter(customer=shopper).count() == 10
    for html in (html_small, html_large):
        assert order.number in html
        assert "How likely are you to recommend us to a friend?" in html
    assert (small, large) == (SURVEY_PAGE, SURVEY_PAGE)


# --- Order pages of a collected order with refunds and messages --------------------------------


@pytest.fixture
def collected_six(shop, clerk, shopper, stocked_variants):
    """The shopper's order of six different items, paid cash at the counter, collected."""
    variants = stocked_variants(6)
    order = place_at(shop.store, *[(v, 1) for v in variants], customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    order.refresh_from_db()
    assert order.status == "collected"
    return order, variants


def _refund(order, clerk, variants):
    for variant in variants:
        refund_order(
            order=order,
            user=clerk,
            quantities={variant.sku: 1},
            reason="Damaged",
            method="cash",
        )


def _messages(order, n, *, start=0):
    """Keep only this test's messages about ``order`` and add n more."""
    Notification.objects.filter(order_number=order.number).exclude(
        dedupe_key__startswith="qc-"
    ).delete()
    for i in range(start, start + n):
        Notification.objects.create(
            customer=order.customer,
            order_number=order.number,
            kind="order_ready" if i % 2 else "order_confirmed",
            channel="email",
            dedupe_key=f"qc-{order.number}-{i}",
            status=Notification.Status.SENT if i % 3 else Notification.Status.FAILED,
            reason="" if i % 3 else "mailbox full",
        )


def test_order_page_queries_do_not_grow_with_refunds(shopper, clerk, collected_six):
    order, variants = collected_six
    client = logged_in(shopper.user)
    path = f"/orders/{order.number}/"

    _refund(order, clerk, variants[:1])
    small, html_small = _count(client, path)
    _refund(order, clerk, variants[1:])
    large, html_large = _count(client, path)
    _report("order page (refunds)", small, large, (1, 6))

    assert html_small.count("given back on") == 1
    assert html_large.count("given back on") == 6
    assert (small, large) == (ORDER_PAGE, ORDER_PAGE)


def test_tablet_order_page_queries_do_not_grow_with_refunds_and_messages(
    shop, clerk, collected_six
):
    order, variants = collected_six
    tablet = logged_in(clerk)
    path = f"/store/{shop.store.code}/orders/{order.number}/"

    _refund(order, clerk, variants[:1])
    _messages(order, 1)
    small, html_small = _count(tablet, path)
    _refund(order, clerk, variants[1:])
    _messages(order, 7, start=1)
    large, html_large = _count(tablet, path)
    _report("tablet order page (refunds, messages)", small, large, ((1, 1), (6, 8)))

    assert html_small.count('<tr class="refund-row">') == 1
    assert html_large.count('<tr class="refund-row">') == 6
    assert html_small.count('<tr class="message-row') == 1
    assert html_large.count('<tr class="message-row') == 8
    assert (small, large) == (TABLET_ORDER_PAGE, TABLET_ORDER_PAGE)


# --- The account timeline ---------------------------------------------------------------------


def test_account_queries_do_not_grow_with_message_touchpoints(shopper):
    client = logged_in(shopper.user)

    def grow(start, n):
        Touchpoint.objects.bulk_create(
            [
                Touchpoint(
                    customer=shopper,
                    channel="web",
                    kind="notification_sent",
                    payload={
                        "message": "order_ready",
                        "order": f"CC-MSG{i:04d}",
                        "channel": "email",
                    },
                )
                for i in range(start, start + n)
            ]
        )

    grow(0, 2)
    small, html_small = _count(client, "/account/")
    grow(2, 18)
    large, html_large = _count(client, "/account/")
    _report("account (message touchpoints)", small, large, (2, 20))

    assert html_small.count('class="timeline-detail"') == 2
    assert html_large.count('class="timeline-detail"') == 20
    assert (small, large) == (ACCOUNT_PAGE, ACCOUNT_PAGE)
