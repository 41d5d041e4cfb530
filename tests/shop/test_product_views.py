"""Product views on the customer's timeline without a write per page view.

A view is queued in Redis (no SQL on the request); beat's flush task writes one touchpoint per
customer, channel and product since the last flush, at the first view, counting the views.
With Redis down the view is written at once, as before.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import counters
from customers.models import Touchpoint
from customers.tasks import flush_touchpoints
from shop.services import record_product_view
from tests.support.redis_server import RedisServer
from tests.support.web_helpers import logged_in

pytest_plugins = ["tests.support.web_fixtures"]


def _timeline(customer):
    return list(
        Touchpoint.objects.filter(customer=customer)
        .order_by("created_at", "pk")
        .values_list("channel", "kind", "payload")
    )


def _views(client, path, n):
    """n page views; the SQL statements they ran."""
    with CaptureQueriesContext(connection) as queries:
        for _ in range(n):
            assert client.get(path).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_product_page_views_write_nothing_until_the_flush(shop, shopper):
    client = logged_in(shopper.user)
    client.get("/p/stoneware-mug/")  # warm up: session, customer, cart
    flush_touchpoints()
    Touchpoint.objects.filter(customer=shopper).delete()

    statements = _views(client, "/p/stoneware-mug/", 3)

    assert [sql for sql in statements if not sql.lstrip().upper().startswith("SELECT")] == []
    assert _timeline(shopper) == []

    assert flush_touchpoints() == 1

    viewed = {"product": "stoneware-mug", "views": 3}
    assert _timeline(shopper) == [("web", "product_viewed", viewed)]
    assert flush_touchpoints() == 0
    assert Touchpoint.objects.filter(customer=shopper).count() == 1


def test_a_flushed_view_keeps_the_time_of_the_first_view(shop, shopper):
    first = timezone.now() - timedelta(minutes=3)

    record_product_view(customer=shopper, product=shop.mug.product, channel="web", now=first)
    record_product_view(
        customer=shopper,
        product=shop.mug.product,
        channel="web",
        now=first + timedelta(minutes=2),
    )
    flush_touchpoints()

    touchpoint = Touchpoint.objects.get(customer=shopper)
    assert touchpoint.created_at == first
    assert touchpoint.payload == {"product": "stoneware-mug", "views": 2}


def test_views_of_other_products_channels_and_customers_stay_apart(shop, shopper, customer):
    for product, channel, who in [
        (shop.mug.product, "web", shopper),
        (shop.lamp.product, "web", shopper),
        (shop.mug.product, "mobile", shopper),
        (shop.mug.product, "web", customer),
        (shop.mug.product, "web", shopper),
    ]:
        record_product_view(customer=who, product=product, channel=channel)

    assert flush_touchpoints() == 4

    assert sorted(_timeline(shopper), key=str) == sorted(
        [
            ("web", "product_viewed", {"product": "stoneware-mug", "views": 2}),
            ("web", "product_viewed", {"product": "brass-desk-lamp"}),
            ("mobile", "product_viewed", {"product": "stoneware-mug"}),
        ],
        key=str,
    )
    assert _timeline(customer) == [("web", "product_viewed", {"product": "stoneware-mug"})]


def test_a_view_by_a_customer_deleted_before_the_flush_is_dropped(shop, customer):
    record_product_view(customer=customer, product=shop.mug.product, channel="web")
    customer.delete()

    assert flush_touchpoints() == 0
    assert Touchpoint.objects.count() == 0


def test_an_anonymous_view_queues_nothing(shop):
    assert Client().get("/p/stoneware-mug/").status_code == 200

    assert flush_touchpoints() == 0
    assert Touchpoint.objects.count() == 0


@pytest.fixture
def redis(settings):
    """A private Redis as the app's cache; the test stops it."""
    server = RedisServer().start()
    shared = settings.CACHES
    settings.CACHES = {"default": {**shared["default"], "LOCATION": server.url}}
    counters.reset()
    try:
        yield server
    finally:
        settings.CACHES = shared
        server.stop()
        counters.reset()


def test_with_redis_down_a_view_is_written_at_once(shop, shopper, redis):
    client = logged_in(shopper.user)
    redis.stop()

    assert client.get("/p/stoneware-mug/").status_code == 200
    assert client.get("/p/brass-desk-lamp/").status_code == 200

    assert _timeline(shopper) == [
        ("web", "product_viewed", {"product": "stoneware-mug"}),
        ("web", "product_viewed", {"product": "brass-desk-lamp"}),
    ]
    assert flush_touchpoints() == 0
