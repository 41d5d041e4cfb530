"""Fixtures for the payment tests: a real localstripe server on loopback.

A test module loads them with ``pytest_plugins = ["tests.payments_fixtures"]``. The server is
started once per session; every test starts with it empty and with the Stripe settings pointed
at it.
"""

import pytest

from tests.localstripe_server import LocalStripe

WEBHOOK_SECRET = "whsec_test_only_0123456789abcdef"
SECRET_KEY = "sk_test_omnicollect_0123456789"


@pytest.fixture(scope="session")
def localstripe_server():
    server = LocalStripe().start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(localstripe_server, settings):
    """The base URL of an empty localstripe, with STRIPE_* settings pointing at it."""
    localstripe_server.clear()
    settings.STRIPE_API_BASE = localstripe_server.base_url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield localstripe_server.base_url
    localstripe_server.clear()
