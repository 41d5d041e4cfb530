"""Fixtures for the payment tests: a real localstripe server on loopback.

A test module loads them with ``pytest_plugins = ["tests.support.payments_fixtures"]``. The
server is started once per session; every test starts with it empty and with the Stripe settings
pointed at it.
"""

from decimal import Decimal

import pytest
import stripe

from orders.models import Order, OrderStatus, PaymentMethod
from orders.payments import StripeProvider
from tests.support.localstripe_server import LocalStripe

WEBHOOK_SECRET = "whsec_test_only_0123456789abcdef"
SECRET_KEY = "sk_test_omnicollect_0123456789"


@pytest.fixture(scope="session")
def localstripe_server():
    server = LocalStripe().start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(localstripe_server, settings):
    """The base URL of an empty localstripe, with STRIPE_* settings pointing at it.

    ``DELETE /_config/data`` forgets every object but not the webhooks registered with
    ``POST /_config/webhooks/{id}``: those last the session, and localstripe sends each event
    a second late to every webhook registered by then (a stopped receiver only logs an error).
    """
    localstripe_server.clear()
    settings.STRIPE_API_BASE = localstripe_server.base_url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield localstripe_server.base_url
    localstripe_server.clear()


class RecordingHTTPClient(stripe.RequestsClient):
    """The SDK's own HTTP client, keeping every request it sends (localstripe ignores
    Idempotency-Key, so the tests read it here)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, headers, post_data=None):
        self.sent.append((method.upper(), url, dict(headers or {})))
        return super().request(method, url, headers, post_data)


@pytest.fixture
def stripe_http(localstripe):
    return RecordingHTTPClient()


@pytest.fixture
def stripe_provider(localstripe, settings, stripe_http):
    """A StripeProvider talking to localstripe through the recording HTTP client."""
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": localstripe},
        http_client=stripe_http,
        max_network_retries=0,
    )
    return StripeProvider(client)


@pytest.fixture
def online(localstripe, customer_api, filled_cart, checkout_body):
    """The shopper's order through the API (2 lamps, 1 mug: 29.00 EUR), paid online with
    ``pm_card_visa``: placed, the card authorised on localstripe. Needs the web and order API
    fixtures loaded too."""
    from tests.support.api_helpers import CHECKOUT

    body = {**checkout_body, "payment": "online", "payment_method": "pm_card_visa"}
    response = customer_api.post(CHECKOUT, body, key="online-authorised")
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.status == OrderStatus.PLACED
    return order


@pytest.fixture
def online_order(place, variant, stock):
    """An online order of 2 × 14.50 EUR (29.00) waiting for payment, its stock reserved."""
    variant.price = Decimal("14.50")
    variant.save(update_fields=["price"])
    order = place((variant, 2))
    Order.objects.filter(pk=order.pk).update(
        payment_method=PaymentMethod.ONLINE, status=OrderStatus.PENDING_PAYMENT
    )
    order.refresh_from_db()
    assert order.total == Decimal("29.00")
    return order
