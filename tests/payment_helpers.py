"""Helpers for the payment tests (the fixtures are in ``tests/payments_fixtures.py``)."""

from orders.models import Payment
from orders.payments import StripeProvider


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
