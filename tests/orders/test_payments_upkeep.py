"""Keeping card payments in step, against a real localstripe: holds released before the card
networks' 7-day limit (the order is then paid at the counter), provider calls whose answer was
lost settled by asking Stripe, and every payment change on the customer's timeline."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from customers.models import Touchpoint
from orders.errors import OrderError
from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.services import settle_stale_payment_operations
from orders.tasks import settle_card_payments
from tests.support.api_helpers import CHECKOUT, ready
from tests.support.payments_helpers import card_payment_of, intent
from tests.support.web_helpers import hand_over

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]


def age(order, days):
    Payment.objects.filter(order=order).update(created_at=timezone.now() - timedelta(days=days))


def collect(order, clerk, *, method="", reference=""):
    return hand_over(order, clerk, method=method, reference=reference)


def kinds(order):
    return list(
        Touchpoint.objects.filter(customer=order.customer, kind__startswith="payment_")
        .order_by("pk")
        .values_list("kind", flat=True)
    )


# --- Holds near the card networks' limit ---------------------------------------------------


def test_a_hold_near_seven_days_is_released_and_the_order_flagged(shop, clerk, online):
    age(online, 7)

    result = settle_card_payments()

    assert result == {"released": 1, "settled": 0}
    payment = card_payment_of(online)
    assert payment.status == PaymentStatus.VOIDED
    assert intent(online)["status"] == "canceled"
    online.refresh_from_db()
    assert (online.status, online.payment_status) == (OrderStatus.PLACED, "voided")
    assert online.events.order_by("pk").last().note == "card hold lapsed"
    # Idempotent: nothing more to do.
    assert settle_card_payments() == {"released": 0, "settled": 0}
    assert online.events.filter(note="card hold lapsed").count() == 1


def test_a_recent_hold_is_left_alone(shop, clerk, online):
    age(online, 6)

    assert settle_card_payments() == {"released": 0, "settled": 0}
    assert card_payment_of(online).status == PaymentStatus.AUTHORISED
    assert intent(online)["status"] == "requires_capture"


def test_an_order_whose_hold_lapsed_is_paid_at_the_counter(shop, clerk, online):
    age(online, 7)
    settle_card_payments()
    ready(online, clerk)

    with pytest.raises(OrderError) as refused:
        collect(online, clerk)
    assert refused.value.code == "bad_payment"
    online.refresh_from_db()
    assert online.status == OrderStatus.READY

    collect(online, clerk, method="cash")

    online.refresh_from_db()
    assert (online.status, online.payment_status) == (OrderStatus.COLLECTED, "paid")
    counter = Payment.objects.get(order=online, provider="in_store")
    assert (counter.method, counter.amount_captured) == ("cash", Decimal("29.00"))
    assert counter.captured_at is not None
    # The released card was not charged.
    assert intent(online)["status"] == "canceled"
    assert card_payment_of(online).amount_captured == 0


def test_the_tablet_says_to_take_payment_when_the_hold_is_gone(shop, clerk, online):
    tablet = Client()
    tablet.force_login(clerk)
    ready(online, clerk)
    url = f"/store/{shop.store.code}/orders/{online.number}/"

    held = tablet.get(url).content.decode()
    assert "€29.00 authorised" in held
    assert 'id="take-payment"' not in held
    queue = tablet.get(f"/store/{shop.store.code}/").content.decode()
    assert "Card authorised" in queue

    age(online, 7)
    settle_card_payments()

    released = tablet.get(url).content.decode()
    assert 'id="take-payment"' in released
    assert "No card authorisation" in released
    queue = tablet.get(f"/store/{shop.store.code}/").content.decode()
    assert "Take payment" in queue


def test_a_hold_ending_before_the_order_is_collected_is_announced(shop, clerk, online):
    age(online, 5)
    ready(online, clerk)
    Order.objects.filter(pk=online.pk).update(hold_until=timezone.now() + timedelta(days=3))
    tablet = Client()
    tablet.force_login(clerk)

    page = tablet.get(f"/store/{shop.store.code}/orders/{online.number}/").content.decode()

    assert 'id="card-lapsing"' in page


# --- Operations whose answer was lost ------------------------------------------------------


def claim(order, operation, minutes_ago):
    Payment.objects.filter(pk=card_payment_of(order).pk).update(
        pending_operation=operation, pending_since=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_a_capture_that_happened_is_recorded_and_the_handover_finishes(shop, clerk, online):
    ready(online, clerk)
    # The capture reached Stripe but the process died before recording it.
    claim(online, "capture:29.00", minutes_ago=11)
    StripeProvider().client.v1.payment_intents.capture(
        card_payment_of(online).provider_reference, params={"amount_to_capture": 2900}
    )

    assert settle_stale_payment_operations() == 1

    payment = card_payment_of(online)
    assert (payment.status, payment.amount_captured, payment.pending_operation) == (
        PaymentStatus.PAID,
        Decimal("29.00"),
        "",
    )
    assert payment.captured_at is not None
    # The clerk confirms the handover again: no second capture, the order is collected.
    collect(online, clerk)
    online.refresh_from_db()
    assert (online.status, online.payment_status) == (OrderStatus.COLLECTED, "paid")


def test_a_capture_that_never_happened_gives_the_claim_back(shop, clerk, online):
    ready(online, clerk)
    claim(online, "capture:29.00", minutes_ago=11)

    assert settle_stale_payment_operations() == 1

    payment = card_payment_of(online)
    assert (payment.status, payment.pending_operation) == (PaymentStatus.AUTHORISED, "")
    assert intent(online)["status"] == "requires_capture"
    collect(online, clerk)
    assert card_payment_of(online).amount_captured == Decimal("29.00")


def test_a_lost_cancel_is_settled(shop, clerk, online):
    claim(online, "cancel", minutes_ago=30)
    StripeProvider().client.v1.payment_intents.cancel(card_payment_of(online).provider_reference)

    settle_card_payments()

    payment = card_payment_of(online)
    assert (payment.status, payment.pending_operation) == (PaymentStatus.VOIDED, "")


def test_a_recent_operation_is_not_touched(shop, clerk, online):
    claim(online, "capture:29.00", minutes_ago=2)

    assert settle_stale_payment_operations() == 0
    assert card_payment_of(online).pending_operation == "capture:29.00"


def test_a_lost_refund_that_went_through_is_recorded_once(shop, clerk, online):
    ready(online, clerk)
    collect(online, clerk)
    claim(online, "refund:0.00:10.00", minutes_ago=15)
    StripeProvider().client.v1.refunds.create(
        params={"payment_intent": card_payment_of(online).provider_reference, "amount": 1000}
    )

    assert settle_stale_payment_operations() == 1
    assert settle_stale_payment_operations() == 0

    payment = card_payment_of(online)
    assert (payment.amount_refunded, payment.pending_operation) == (Decimal("10.00"), "")
    refund = Payment.objects.get(refund_of=payment)
    assert refund.amount_refunded == Decimal("10.00")


def test_a_lost_refund_that_never_happened_records_nothing(shop, clerk, online):
    ready(online, clerk)
    collect(online, clerk)
    claim(online, "refund:0.00:10.00", minutes_ago=15)

    assert settle_stale_payment_operations() == 1

    payment = card_payment_of(online)
    assert (payment.amount_refunded, payment.pending_operation) == (Decimal("0.00"), "")
    assert not Payment.objects.filter(refund_of=payment).exists()


# --- The customer's timeline ----------------------------------------------------------------


def test_card_payment_changes_are_on_the_timeline(shop, clerk, online):
    ready(online, clerk)
    collect(online, clerk)

    assert kinds(online) == ["payment_authorised", "payment_captured"]
    captured = Touchpoint.objects.get(customer=online.customer, kind="payment_captured")
    assert (captured.channel, captured.payload) == ("store", {"order": online.number})


def test_a_refused_card_and_a_released_hold_are_on_the_timeline(
    localstripe, customer_api, filled_cart, checkout_body, shop
):
    body = {**checkout_body, "payment": "online", "payment_method": "pm_card_chargeCustomerFail"}
    refused = customer_api.post(CHECKOUT, body, key="upkeep-declined")
    assert refused.status_code == 402
    order = Order.objects.get()

    assert kinds(order) == ["payment_failed"]
    failed = Touchpoint.objects.get(customer=order.customer, kind="payment_failed")
    assert failed.payload == {"order": order.number, "code": "card_declined"}


def test_a_cancelled_order_records_the_released_hold(shop, clerk, online, customer_api):
    response = customer_api.post(f"/api/v1/orders/{online.number}/cancel/", {})
    assert response.status_code == 200, response.content

    assert kinds(online) == ["payment_authorised", "payment_voided"]
