"""Redis down: nobody is stopped from ordering, logging in or collecting (config/counters.py).

In production the cache (attempt counters) and the Celery broker are one Redis. Here a private
redis-server on loopback is both, and the test stops it (or freezes it: connections accepted,
never answered). Meanwhile shoppers check out through the API and the web, log in on both,
clerks work the tablet and the counter API, and lockouts still hold (they are kept in the
database). When Redis returns, a real Celery worker delivers every message to a real SMTP
server, once. Timings are printed, never asserted.
"""

import logging
import statistics
import time
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from core import counters, tasks
from customers.models import Notification
from customers.services import sweep_notifications
from orders.models import Order
from orders.services import mark_preparing, mark_ready
from shop.services import cart_for_customer
from tests.support.api_client import Api
from tests.support.api_helpers import CHECKOUT, store_url
from tests.support.celery_worker import broker_at, thread_worker
from tests.support.factories import PASSWORD, CartLineFactory, CustomerFactory, UserFactory
from tests.support.redis_server import RedisServer
from tests.support.threads import race
from tests.support.web_helpers import add_to_cart, checkout, logged_in
from tests.support.worker_fixtures import per_recipient

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.worker_fixtures",
]
# The worker reads committed rows on its own connection, at the real time.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

CHECKOUTS = 20


@pytest.fixture
def redis(settings, empty_queue):
    """A private Redis as the app's cache and broker, started; the test stops it."""
    server = RedisServer().start()
    shared = settings.CACHES
    settings.CACHES = {"default": {**shared["default"], "LOCATION": server.url}}
    counters.reset()
    try:
        with broker_at(server.url):
            yield server
    finally:
        settings.CACHES = shared
        server.stop()
        counters.reset()


def _shopper_with_cart(shop):
    user = UserFactory()
    customer = CustomerFactory(user=user, email=user.email, name=user.name)
    CartLineFactory(cart=cart_for_customer(customer=customer), variant=shop.lamp, quantity=1)
    return customer


def _api_checkouts(shop, slots, n):
    """``n`` shoppers check out on their phones: (responses, seconds each)."""
    body = {"store": shop.store.code, "slot_start": slots[1].isoformat(), "payment": "in_store"}
    phones = [Api(_shopper_with_cart(shop).user) for _ in range(n)]
    responses, took = [], []
    for i, phone in enumerate(phones):
        start = time.monotonic()
        responses.append(phone.post(CHECKOUT, body, key=f"outage-{i}"))
        took.append(time.monotonic() - start)
    return responses, took


def _ms(took) -> str:
    ms = [t * 1000 for t in took]
    return f"p50 {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms"


def test_with_redis_stopped_shoppers_order_and_log_in_and_clerks_hand_over(
    big_shop, slots, clerk, redis, smtp, caplog
):
    shop = big_shop
    walk_in = _shopper_with_cart(shop)
    redis.stop()

    # Shoppers: 20 API checkouts, a web log-in and checkout, an API log-in.
    with caplog.at_level(logging.WARNING, logger="core.outage"):
        responses, took = _api_checkouts(shop, slots, CHECKOUTS)
    browser = Client()
    web_login = browser.post("/account/login/", {"username": walk_in.email, "password": PASSWORD})
    add_to_cart(browser, shop.mug)
    web_checkout = checkout(browser, shop.store, email=walk_in.email)
    api_login = Client().post(
        "/api/v1/auth/token/",
        {"email": walk_in.email, "password": PASSWORD},
        content_type="application/json",
    )

    # Clerks: the tablet hands one order over after a typed code, the counter API another
    # after a QR scan.
    by_tablet, by_api = Order.objects.filter(channel="mobile").order_by("pk")[:2]
    for order in (by_tablet, by_api):
        mark_preparing(order=order, user=clerk)
        mark_ready(order=order, user=clerk)
    tablet = logged_in(clerk)
    queue = tablet.get(f"/store/{shop.store.code}/")
    scanned = tablet.post(f"/store/{shop.store.code}/scan/", {"q": by_tablet.pickup_code})
    handed = tablet.post(
        f"/store/{shop.store.code}/orders/{by_tablet.number}/collect/",
        {"qty_LAMP-01": 1, "collector": "customer", "payment_method": "cash"},
    )
    counter = Api(clerk)
    looked_up = counter.post(
        store_url(shop.store, "pickups/lookup/"), {"token": by_api.pickup_token}
    )
    collected = counter.post(
        store_url(shop.store, f"orders/{by_api.number}/collect/"),
        {
            "lines": [{"sku": "LAMP-01", "quantity": 1}],
            "payment": {"method": "cash", "reference": ""},
        },
    )

    print(
        f"\nRedis stopped: {sum(r.status_code == 201 for r in responses)} of {CHECKOUTS} API "
        f"checkouts answered 201 ({_ms(took)})"
    )
    assert [r.status_code for r in responses] == [201] * CHECKOUTS
    assert web_login.status_code == 302
    assert web_checkout.status_code == 302
    assert api_login.status_code == 200 and api_login.json()["token"]
    assert queue.status_code == 200
    assert scanned.status_code == 302
    assert handed.status_code == 302
    assert looked_up.status_code == 200, looked_up.json()
    assert collected.status_code == 200, collected.json()
    assert set(
        Order.objects.filter(pk__in=[by_tablet.pk, by_api.pk]).values_list("status", flat=True)
    ) == {"collected"}
    assert Order.objects.count() == CHECKOUTS + 1
    # The outage is logged once per pause (config/outage.py), not once per request.
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.outage"]
    cache_warnings = [w for w in warnings if w.startswith("cache unreachable (ConnectionError)")]
    assert 1 <= len(cache_warnings) <= sum(took) / counters.PAUSE + 1
    assert len(warnings) <= 2 * (sum(took) / counters.PAUSE + 1)

    # Redis comes back (empty); the sweep queues every message written meanwhile and a real
    # worker sends each one once.
    assert tasks.flush()  # nothing handed to the publisher during the outage is still in it
    redis.start()
    counters.reset()
    due = Notification.objects.filter(status="pending", scheduled_for__lte=timezone.now())
    pending = due.count()
    with thread_worker():
        queued = sweep_notifications()
        received = smtp.wait_for(pending, timeout=60)
        time.sleep(0.5)  # anything sent twice would arrive now
    print(f"Redis back: {queued} messages queued by the sweep, {len(smtp.messages())} delivered")
    assert queued == pending >= CHECKOUTS + 1 + 2  # confirmations, ready messages, receipts
    assert len(smtp.messages()) == pending
    sent = Notification.objects.filter(status="sent")
    assert sent.count() == pending
    # Only what is not due yet waits: the surveys after the two collections.
    assert (
        list(Notification.objects.exclude(status="sent").values_list("kind", "status"))
        == [("nps_survey", "pending")] * 2
    )
    assert received == smtp.messages()
    assert sorted(m.key for m in received) == sorted(f"{n.order_number}:{n.kind}" for n in sent)
    assert len(per_recipient(received)) == CHECKOUTS + 1


def test_with_redis_stopped_a_locked_login_stays_locked(shop, shopper, redis, settings):
    redis.stop()
    browser = Client()
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [
        browser.post(
            "/account/login/", {"username": shopper.email, "password": f"wrong-{i}"}
        ).status_code
        for i in range(limit)
    ]

    locked = browser.post("/account/login/", {"username": shopper.email, "password": PASSWORD})
    # Redis returns: the lockout was never in it.
    redis.start()
    counters.reset()
    still = Client().post("/account/login/", {"username": shopper.email, "password": PASSWORD})

    assert statuses == [200] * (limit - 1) + [429]
    assert locked.status_code == 429
    assert still.status_code == 429
    assert SESSION_KEY not in browser.session


def test_with_redis_hung_checkouts_wait_one_short_timeout_not_one_per_request(
    big_shop, slots, redis
):
    redis.freeze()
    try:
        responses, took = _api_checkouts(big_shop, slots, 5)
    finally:
        redis.thaw()

    print(
        f"\nRedis hung (SIGSTOP): 5 API checkouts answered in {_ms(took)}: "
        + ", ".join(f"{t * 1000:.0f} ms" for t in took)
    )
    assert [r.status_code for r in responses] == [201] * 5
    assert Order.objects.count() == 5


def test_once_redis_is_back_the_limits_count_again(shop, redis, settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "auth": (3, 60)}

    def attempts(n):
        return [
            Client()
            .post(
                "/api/v1/auth/token/",
                {"email": f"nobody-{i}@example.test", "password": "wrong-password-1"},
                content_type="application/json",
            )
            .json()["code"]
            for i in range(n)
        ]

    redis.stop()
    during = attempts(5)
    redis.start()
    counters.reset()
    after = attempts(4)

    # Not counted while Redis was away: each answered on its merits.
    assert during == ["authentication_failed"] * 5
    assert after == ["authentication_failed"] * 3 + ["throttled"]


def test_fifty_simultaneous_wrong_passwords_are_locked_out_in_the_database(shop, shopper):
    """The lockout lives in PostgreSQL now: 50 wrong passwords for one account at the same
    moment, each on its own connection, and then the right one, which is refused."""
    limit = settings.AXES_FAILURE_LIMIT
    clients = [Client() for _ in range(50)]
    calls = [
        (
            lambda c=c, i=i: (
                c.post(
                    "/account/login/", {"username": shopper.email, "password": f"wrong-{i}"}
                ).status_code
            )
        )
        for i, c in enumerate(clients)
    ]

    statuses = Counter(race(calls))
    right = Client().post("/account/login/", {"username": shopper.email, "password": PASSWORD})

    print(f"\n50 simultaneous wrong passwords for one account: {dict(statuses)}")
    assert statuses[200] + statuses[429] == 50
    assert statuses[200] <= limit
    assert right.status_code == 429
