"""Online payments against a real localstripe server on loopback (tests/localstripe_server.py)."""

import stripe

pytest_plugins = ["tests.payments_fixtures"]


def test_localstripe_answers_on_loopback_and_starts_empty(localstripe, settings):
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )

    intents = client.v1.payment_intents.list()

    assert localstripe.startswith("http://127.0.0.1:")
    assert localstripe == settings.STRIPE_API_BASE
    assert intents.data == []
