"""Helpers for the payment tests (the fixtures are in ``tests/support/payments_fixtures.py``)."""

import itertools
import json
import time

import stripe
from django.conf import settings
from django.test import Client

from orders.models import Payment
from orders.payments import StripeProvider

WEBHOOK_URL = "/payments/stripe/webhook/"
_event_ids = itertools.count(1)


def three_d_secure_card() -> str:
    """A card needing authentication, tokenised the way Stripe's SDK would (a ``card_…`` id)."""
    token = StripeProvider().client.v1.tokens.create(
        params={
            "card": {
                "number": "4000002500003155",
                "exp_month": "12",
                "exp_year": "2030",
                "cvc": "123",
            }
        }
    )
    return token.card.id


def card_payment_of(order) -> Payment:
    """The order's card payment (not a refund row)."""
    return Payment.objects.get(order=order, provider="stripe", refund_of__isnull=True)


def intent(order) -> dict:
    """The order's PaymentIntent as localstripe has it."""
    return StripeProvider().retrieve(card_payment_of(order).provider_reference)


def stripe_event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    """A Stripe event of type ``kind`` about ``obj`` (a PaymentIntent, a charge…)."""
    return {
        "id": event_id or f"evt_test_{next(_event_ids)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def deliver(event, *, secret=None, signature=None, body=None, timestamp=None):
    """POST ``event`` (or the raw ``body``) to the webhook as Stripe would: signed with
    ``secret`` (default: the configured one) at ``timestamp`` (default: now); ``signature``
    replaces the header, False leaves it out."""
    payload = body if body is not None else json.dumps(event)
    headers = {}
    if signature is not False:
        if signature is None:
            signature = stripe.WebhookSignature.generate_signature_header(
                payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
            )
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    return Client().post(WEBHOOK_URL, payload, content_type="application/json", **headers)
