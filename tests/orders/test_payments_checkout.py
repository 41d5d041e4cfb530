"""POST /api/v1/checkout/ paying online, against a real localstripe.

The order is placed pending_payment with its stock and slot held; once that has committed the
card is authorised (manual capture). Capturable → placed; 3-D Secure → still pending_payment
with the client_secret, placed by the webhook; declined → 402 and the order cancelled; never
paid → cancelled by the timeout task.
"""

import json
import time
from datetime import timedelta

import pytest
import stripe
from django.test import Client
from django.utils import timezone

from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.tasks import expire_unpaid_orders
from tests.support.api_helpers import CHECKOUT
from tests.support.payments_helpers import three_d_secure_card
from tests.support.web_helpers import slot_bookings, stock_of

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]


@pytest.fixture
def online_body(checkout_body):
    return {**checkout_body, "payment": "online", "payment_method": "pm_card_visa"}


def intent_on_localstripe(payment) -> dict:
    return StripeProvider().retrieve(payment.provider_reference)


def test_a_good_card_places_the_order_with_the_authorisation_held(
    localstripe, shop, customer_api, filled_cart, online_body
):
    response = customer_api.post(CHECKOUT, online_body, key="online-1")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["payment_method"], data["payment_status"]) == (
        "placed",
        "online",
        "authorised",
    )
    assert "client_secret" not in data
    order = Order.objects.get(number=data["number"])
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount_authorised) == (PaymentStatus.AUTHORISED, order.total)
    intent = intent_on_localstripe(payment)
    assert intent["status"] == "requires_capture"
    assert intent["metadata"]["order_number"] == order.number
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert stock_of(shop.store, shop.mug) == (3, 1)
    assert slot_bookings(shop.store) == 1
    assert [e.to_status for e in order.events.order_by("id")] == ["pending_payment", "placed"]


def test_the_same_key_does_not_authorise_twice(localstripe, customer_api, filled_cart, online_body):
    first = customer_api.post(CHECKOUT, online_body, key="online-2")
    again = customer_api.post(CHECKOUT, online_body, key="online-2")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert Payment.objects.count() == 1
    intents = StripeProvider().client.v1.payment_intents.list().data
    assert len(intents) == 1


def test_a_card_needing_authentication_waits_then_the_webhook_places_it(
    localstripe, settings, customer_api, filled_cart, online_body
):
    body = {**online_body, "payment_method": three_d_secure_card()}
    response = customer_api.post(CHECKOUT, body, key="online-3ds")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["payment_status"]) == ("pending_payment", "unpaid")
    payment = Payment.objects.get(order__number=data["number"])
    assert data["client_secret"].startswith(f"{payment.provider_reference}_secret_")
    assert data["client_secret"] not in str(list(Payment.objects.values()))

    # The customer authenticates on the device; Stripe tells us.
    intent = {
        "id": payment.provider_reference,
        "object": "payment_intent",
        "amount": 2900,
        "amount_capturable": 2900,
        "currency": "eur",
        "capture_method": "manual",
        "status": "requires_capture",
        "metadata": {"order_number": data["number"]},
    }
    event = {
        "id": "evt_checkout_3ds_1",
        "object": "event",
        "type": "payment_intent.amount_capturable_updated",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent},
    }
    payload = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, settings.STRIPE_WEBHOOK_SECRET
    )
    for _ in range(2):
        answer = Client().post(
            "/payments/stripe/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert answer.status_code == 200

    order = Order.objects.get(number=data["number"])
    payment.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, "authorised")
    assert payment.status == PaymentStatus.AUTHORISED
    assert order.events.filter(to_status=OrderStatus.PLACED).count() == 1


def test_a_declined_card_is_402_and_the_order_gives_everything_back(
    localstripe, shop, customer_api, filled_cart, online_body
):
    body = {**online_body, "payment_method": "pm_card_chargeCustomerFail"}
    response = customer_api.post(CHECKOUT, body, key="online-declined")

    assert response.status_code == 402, response.content
    assert response.json()["code"] == "card_declined"
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert not Payment.objects.filter(status=PaymentStatus.AUTHORISED).exists()
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert slot_bookings(shop.store) == 0


def test_a_card_number_instead_of_a_payment_method_is_refused(
    localstripe, shop, customer_api, filled_cart, online_body
):
    body = {**online_body, "payment_method": "4242424242424242"}
    response = customer_api.post(CHECKOUT, body, key="online-pan")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "bad_payment_method"
    assert not Order.objects.exists()
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert slot_bookings(shop.store) == 0


def test_without_a_stripe_key_online_is_refused(
    localstripe, settings, customer_api, filled_cart, online_body
):
    settings.STRIPE_SECRET_KEY = ""
    response = customer_api.post(CHECKOUT, online_body, key="online-nokey")

    assert response.status_code == 400
    assert response.json()["code"] == "payment_unavailable"
    assert not Order.objects.exists()


def test_unpaid_orders_time_out_and_give_everything_back(
    localstripe, settings, shop, customer_api, filled_cart, online_body
):
    settings.ONLINE_PAYMENT_TIMEOUT_MINUTES = 30
    body = {**online_body, "payment_method": three_d_secure_card()}
    number = customer_api.post(CHECKOUT, body, key="online-timeout").json()["number"]
    assert stock_of(shop.store, shop.lamp) == (10, 2)

    assert expire_unpaid_orders() == 0  # not yet
    assert Order.objects.get(number=number).status == OrderStatus.PENDING_PAYMENT
    Order.objects.filter(number=number).update(created_at=timezone.now() - timedelta(minutes=31))

    assert expire_unpaid_orders() == 1
    assert expire_unpaid_orders() == 0

    order = Order.objects.get(number=number)
    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.CANCELLED
    assert order.events.filter(to_status=OrderStatus.CANCELLED).count() == 1
    assert payment.status == PaymentStatus.VOIDED
    assert intent_on_localstripe(payment)["status"] == "canceled"
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert slot_bookings(shop.store) == 0


def test_an_authorised_order_whose_webhook_was_lost_is_placed_not_timed_out(
    localstripe, customer_api, filled_cart, online_body
):
    number = customer_api.post(CHECKOUT, online_body, key="online-lost").json()["number"]
    Order.objects.filter(number=number).update(
        status=OrderStatus.PENDING_PAYMENT, created_at=timezone.now() - timedelta(hours=1)
    )

    assert expire_unpaid_orders() == 0

    order = Order.objects.get(number=number)
    assert order.status == OrderStatus.PLACED
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORISED


def test_the_timeout_task_runs_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-unpaid-orders"]
    assert schedule["task"] == "orders.tasks.expire_unpaid_orders"
