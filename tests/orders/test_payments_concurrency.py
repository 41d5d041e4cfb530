"""Races on one payment, with real threads on separate PostgreSQL connections and a real
localstripe: exactly one provider operation wins and Stripe's state matches ours."""

from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone

from orders.errors import OrderError
from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.services import (
    authorise_payment,
    cancel_payment,
    capture_payment,
    confirm_online_order,
    expire_order,
)
from tests.support.factories import UserFactory
from tests.support.threads import race
from tests.support.web_helpers import hand_over

pytest_plugins = ["tests.support.payments_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def _provider(settings, base):
    # One SDK client per thread.
    return StripeProvider(
        stripe.StripeClient(
            settings.STRIPE_SECRET_KEY, base_addresses={"api": base}, max_network_retries=0
        )
    )


@pytest.mark.parametrize("round_", range(3))
def test_capture_and_cancel_racing_on_one_authorisation_one_wins(
    online_order, localstripe, settings, round_
):
    payment, _ = authorise_payment(
        order=online_order,
        payment_method="pm_card_visa",
        provider=_provider(settings, localstripe),
    )
    capture_with, cancel_with = _provider(settings, localstripe), _provider(settings, localstripe)

    results = race(
        [
            lambda: capture_payment(
                payment=payment, amount=Decimal("29.00"), provider=capture_with
            ),
            lambda: cancel_payment(payment=payment, provider=cancel_with),
        ]
    )

    won = [r for r in results if isinstance(r, Payment)]
    lost = [r for r in results if not isinstance(r, Payment)]
    assert len(won) == 1
    assert len(lost) == 1
    assert isinstance(lost[0], OrderError)
    assert lost[0].code in {"payment_busy", "illegal_payment_operation"}
    payment.refresh_from_db()
    intent = _provider(settings, localstripe).retrieve(payment.provider_reference)
    expected = {PaymentStatus.PAID: "succeeded", PaymentStatus.VOIDED: "canceled"}
    assert expected[payment.status] == intent["status"]
    assert payment.pending_operation == ""
    order = Order.objects.get(pk=online_order.pk)
    assert order.payment_status == payment.status
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize("round_", range(3))
def test_collect_and_hold_expiry_racing_on_an_online_order_one_wins(
    online_order, localstripe, settings, round_
):
    authorise_payment(
        order=online_order,
        payment_method="pm_card_visa",
        provider=_provider(settings, localstripe),
    )
    confirm_online_order(order=online_order)
    now = timezone.now()
    Order.objects.filter(pk=online_order.pk).update(
        status=OrderStatus.READY, hold_until=now - timedelta(minutes=1)
    )
    clerk = UserFactory()
    capture_with = _provider(settings, localstripe)

    results = race(
        [
            lambda: hand_over(online_order, clerk, provider=capture_with),
            lambda: expire_order(order=online_order, now=now),
        ]
    )

    collected, expired = results
    order = Order.objects.get(pk=online_order.pk)
    payment = Payment.objects.get(order=order)
    intent = _provider(settings, localstripe).retrieve(payment.provider_reference)
    if order.status == OrderStatus.COLLECTED:
        assert expired is None
        assert (payment.status, payment.amount_captured) == (PaymentStatus.PAID, Decimal("29.00"))
        assert intent["status"] == "succeeded"
    else:
        assert order.status == OrderStatus.EXPIRED
        assert isinstance(collected, OrderError)
        assert collected.code == "illegal_transition"
        assert payment.status == PaymentStatus.VOIDED
        assert intent["status"] == "canceled"
    assert payment.pending_operation == ""
    assert order.payment_status == payment.status
