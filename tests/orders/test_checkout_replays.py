"""A retried checkout (same Idempotency-Key, same body) answers the order already placed and
does not count against the checkout rate limit; new checkouts (new keys) still do.

The limit is lowered to 3 checkouts an hour here so that a minute boundary passing during the
test cannot reset the window.
"""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from shop.services import cart_for_customer
from tests.support.api_client import Api, token_for
from tests.support.api_helpers import CHECKOUT
from tests.support.factories import CartLineFactory
from tests.support.threads import race
from tests.support.web_helpers import written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

LIMIT = 3
RETRIES = 50


@pytest.fixture(autouse=True)
def _checkout_limit(settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "checkout": (LIMIT, 3600)}


def _outcomes(responses) -> Counter:
    """(status, replayed?, order number or error code) per response."""
    return Counter(
        (
            r.status_code,
            r.get("Idempotent-Replayed") == "true",
            r.json().get("number") or r.json()["code"],
        )
        for r in responses
    )


def _new_checkouts(api, shop, shopper, body, n) -> list[int]:
    """``n`` new checkouts (new keys), each of a cart with one lamp: their statuses."""
    cart = cart_for_customer(customer=shopper)
    statuses = []
    for i in range(n):
        CartLineFactory(cart=cart, variant=shop.lamp, quantity=1)
        statuses.append(api.post(CHECKOUT, body, key=f"new-{i}").status_code)
    return statuses


def _idempotency_lookups(queries) -> int:
    return sum('"idempotency_key" =' in query["sql"] for query in queries)


def test_fifty_retries_one_after_another_all_get_the_placed_order(
    shop, shopper, customer_api, filled_cart, checkout_body
):
    # given a checkout placed with a key
    first = customer_api.post(CHECKOUT, checkout_body, key="retry-me")
    assert first.status_code == 201
    number = first.json()["number"]
    after_first = written()

    # when the app retries it 50 times
    retries = [customer_api.post(CHECKOUT, checkout_body, key="retry-me") for _ in range(RETRIES)]

    # then every retry answers the same order, none is throttled, nothing is written
    outcomes = _outcomes(retries)
    print(f"\n{RETRIES} retries one after another: {dict(outcomes)}")
    assert outcomes == {(201, True, number): RETRIES}
    assert written() == after_first

    # and new checkouts still count: the first one and LIMIT - 1 more get through
    assert _new_checkouts(customer_api, shop, shopper, checkout_body, LIMIT) == [201, 201, 429]
    assert Order.objects.count() == LIMIT


def test_a_retry_and_a_new_checkout_each_look_their_key_up_once(
    customer_api, filled_cart, checkout_body
):
    with CaptureQueriesContext(connection) as new:
        assert customer_api.post(CHECKOUT, checkout_body, key="once").status_code == 201
    with CaptureQueriesContext(connection) as retry:
        assert customer_api.post(CHECKOUT, checkout_body, key="once").status_code == 201

    # one lookup before anything else; under the cart's lock a new checkout finds its lines
    # and does not look again
    assert (_idempotency_lookups(retry), _idempotency_lookups(new)) == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_fifty_simultaneous_retries_all_get_the_placed_order(
    shop, shopper, filled_cart, checkout_body
):
    # given a checkout placed with a key, and 50 clients of the same phone ready to retry it
    token = token_for(shopper.user)
    first = Api(token=token).post(CHECKOUT, checkout_body, key="retry-me")
    assert first.status_code == 201
    number = first.json()["number"]
    clients = [Api(token=token) for _ in range(RETRIES)]

    # when all 50 retries arrive at once
    responses = race(
        [lambda api=api: api.post(CHECKOUT, checkout_body, key="retry-me") for api in clients]
    )

    # then every one answers the placed order, and none is throttled
    outcomes = _outcomes(responses)
    print(f"\n{RETRIES} simultaneous retries: {dict(outcomes)}")
    assert outcomes == {(201, True, number): RETRIES}
    assert Order.objects.count() == 1

    # and new checkouts still count against the limit
    api = Api(token=token)
    assert _new_checkouts(api, shop, shopper, checkout_body, LIMIT) == [201, 201, 429]
    assert Order.objects.count() == LIMIT
