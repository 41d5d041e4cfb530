"""Rate limits hold under concurrent attempts, on the shared Redis cache (DESIGN §7).

50 requests are released at once, each from its own thread with its own database connection
and test client: exactly the configured number get through, the others get 429.
"""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test import Client

from core import counters
from orders.models import Order
from shop.services import cart_for_customer
from tests.support.api_client import Api, token_for
from tests.support.api_helpers import CHECKOUT, store_url
from tests.support.factories import CartLineFactory, UserFactory
from tests.support.web_helpers import place_at

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

ATTEMPTS = 50


def _race(make_request, n=ATTEMPTS):
    """Run ``make_request(i)`` in n threads released together; the responses, in order."""
    barrier = threading.Barrier(n)

    def run(i):
        try:
            connection.ensure_connection()
            request = make_request(i)  # builds its client; returns the call to make
            barrier.wait(timeout=30)
            return request()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _outcomes(responses) -> Counter:
    return Counter((r.status_code, r.json()["code"]) for r in responses)


def test_the_limits_count_in_the_shared_redis_cache():
    assert isinstance(caches["default"], RedisCache)


def test_an_attempt_is_counted_in_one_round_trip_that_also_sets_its_expiry(monkeypatch):
    # given a fresh counter, and every round trip to Redis counted
    key = f"test-round-trips:{uuid.uuid4().hex}"
    trips = Counter()
    sends = [
        (redis.Redis, "execute_command"),  # one command, one round trip
        (redis.client.Pipeline, "_execute_transaction"),  # a MULTI/EXEC pipeline
        (redis.client.Pipeline, "_execute_pipeline"),  # a plain pipeline
    ]
    for cls, name in sends:
        original = getattr(cls, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            trips[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)

    # when two attempts are counted
    first = counters.increment(key, timeout=30)
    second = counters.increment(key, timeout=30)
    monkeypatch.undo()

    # then each took one round trip, the count is what the cache reads, and it expires
    assert (first, second) == (1, 2)
    assert trips == {"_execute_transaction": 2}
    assert cache.get(key) == 2
    backend = caches["default"]
    client = backend._cache.get_client()
    assert 0 < client.ttl(backend.make_and_validate_key(key)) <= 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_wrong_passwords_let_exactly_the_limit_through(settings):
    # given 50 accounts, and one caller trying a wrong password on each at the same moment
    limit, _ = settings.API_RATE_LIMITS["auth"]
    emails = [UserFactory().email for _ in range(ATTEMPTS)]

    def attempt(i):
        client = Client()
        body = {"email": emails[i], "password": "wrong-password"}
        return lambda: client.post("/api/v1/auth/token/", body, content_type="application/json")

    responses = _race(attempt)

    # then exactly `limit` were answered (wrong password), every other one was throttled
    outcomes = Counter(r.json()["code"] for r in responses)
    statuses = Counter(r.status_code for r in responses)
    print(f"\nPOST /api/v1/auth/token/ x{ATTEMPTS} at once: {dict(outcomes)} {dict(statuses)}")
    assert outcomes == {"authentication_failed": limit, "throttled": ATTEMPTS - limit}
    assert statuses[429] == ATTEMPTS - limit
    assert all(r["Retry-After"] for r in responses if r.status_code == 429)


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_wrong_passwords_for_one_account_are_throttled_too(settings):
    limit, _ = settings.API_RATE_LIMITS["auth"]
    email = UserFactory().email

    def attempt(i):
        client = Client()
        body = {"email": email, "password": f"wrong-{i}"}
        return lambda: client.post("/api/v1/auth/token/", body, content_type="application/json")

    responses = _race(attempt)

    # the account lockout may answer some of the `limit` that got past the rate limit
    statuses = Counter(r.status_code for r in responses)
    throttled = sum(
        r.status_code == 429
        and r["Content-Type"] == "application/json"
        and r.json()["code"] == "throttled"
        for r in responses
    )
    print(f"\nPOST /api/v1/auth/token/ x{ATTEMPTS} at once, one account: {dict(statuses)}")
    assert throttled == ATTEMPTS - limit
    assert set(statuses) <= {401, 403, 429}


@pytest.fixture
def counter_race(shop, clerk):
    """``race()``: 50 wrong pickup codes typed by the clerk at once, from 50 clients."""
    place_at(shop.store, (shop.lamp, 1))
    token = token_for(clerk)
    url = store_url(shop.store, "pickups/lookup/")

    def attempt(i):
        api = Api(token=token)
        code = f"WRONG{i:03d}".replace("0", "X").replace("1", "Y")
        return lambda: api.post(url, {"code": code})

    return lambda: _race(attempt)


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_wrong_codes_hit_the_lookup_limit_exactly(settings, counter_race):
    # given a clerk allowed many wrong codes, so only the endpoint's rate limit applies
    settings.PICKUP_CODE_CLERK_LIMIT = 1000
    limit, _ = settings.API_RATE_LIMITS["code_lookup"]

    outcomes = _outcomes(counter_race())

    print(f"\nPOST pickups/lookup/ x{ATTEMPTS} wrong codes at once: {dict(outcomes)}")
    assert outcomes == {(404, "wrong_code"): limit, (429, "throttled"): ATTEMPTS - limit}


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_wrong_codes_hit_the_clerk_limit_exactly(settings, counter_race):
    # given the real limits: 20 lookups a minute, 10 wrong codes per clerk and store
    limit, _ = settings.API_RATE_LIMITS["code_lookup"]
    clerk_limit = settings.PICKUP_CODE_CLERK_LIMIT
    assert clerk_limit < limit

    outcomes = _outcomes(counter_race())

    # then `limit` got past the rate limit, and of those exactly `clerk_limit` were checked
    print(f"\nPOST pickups/lookup/ x{ATTEMPTS} wrong codes at once, clerk limit: {dict(outcomes)}")
    assert outcomes == {
        (404, "wrong_code"): clerk_limit,
        (429, "too_many_attempts"): limit - clerk_limit,
        (429, "throttled"): ATTEMPTS - limit,
    }


def test_checkouts_are_rate_limited_per_customer(
    shop, shopper, customer_api, checkout_body, settings
):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "checkout": (3, 60)}
    cart = cart_for_customer(customer=shopper)
    statuses = []
    for i in range(4):
        CartLineFactory(cart=cart, variant=shop.mug, quantity=1)
        statuses.append(customer_api.post(CHECKOUT, checkout_body, key=f"k{i}"))

    assert [r.status_code for r in statuses] == [201, 201, 201, 429]
    assert statuses[-1].json()["code"] == "throttled"
    assert int(statuses[-1]["Retry-After"]) >= 1
    assert Order.objects.count() == 3
