"""Pages run a fixed number of SQL queries, whether they show 5 rows or 50 (DESIGN §9).

Each test builds 5 rows, measures, grows the data to 50, measures again, and checks the page
really shows every row both times.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders.services import mark_preparing, mark_ready
from shop.models import Cart
from stores.models import StockLevel, Store
from tests.factories import (
    CartLineFactory,
    CategoryFactory,
    ProductFactory,
    StockLevelFactory,
    StoreFactory,
    VariantFactory,
)
from tests.web_helpers import (
    add_to_cart,
    place_at,
    text,
)

pytest_plugins = ["tests.web_fixtures"]  # the shop and shopper fixtures

SMALL, LARGE = 5, 50


def _count(client, path, **kwargs) -> tuple[int, str]:
    client.get(path, **kwargs)  # warm up: session row, lazily created customer, cart
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return len(queries.captured_queries), text(response)


def _report(name, small, large):
    print(f"\n{name}: {small} queries for {SMALL} rows, {large} for {LARGE} rows")


@pytest.fixture
def stocked_variants(shop):
    """``make(n)``: n more variants, each stocked at the shop's stores."""

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
    assert small == large


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
    assert small == large


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
    assert small == large


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

    assert small == large


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
    assert small == large


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
    assert small == large


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
    _orders_at(shop.store, clerk, LARGE - SMALL, variants=variants, start=SMALL)
    large, html_large = _count(tablet, path)
    large_poll, _ = _count(tablet, path, headers={"HX-Request": "true"})
    _report("tablet queue", small, large)
    _report("tablet queue (htmx poll)", small_poll, large_poll)

    assert html_small.count('<article class="ticket">') == SMALL
    assert html_large.count('<article class="ticket">') == LARGE
    assert small == large
    assert small_poll == large_poll


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
    assert small == large


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

    assert small_page == large_page
    assert small_counter == large_counter
