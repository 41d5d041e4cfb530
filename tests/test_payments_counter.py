"""An online order at the counter, against a real localstripe: collecting charges exactly what
was handed over; cancelling or a hold running out releases the card hold."""

from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone

from orders.errors import OrderError
from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.services import cancel_order, capture_payment, expire_order
from orders.tasks import expire_holds
from tests.order_api_helpers import order_url, ready, store_url
from tests.payment_helpers import intent
from tests.web_helpers import hand_over, slot_bookings, stock_of

pytest_plugins = [
    "tests.web_fixtures",
    "tests.order_api_fixtures",
    "tests.payments_fixtures",
]


def collect(order, clerk, provider=None, **quantities):
    return hand_over(order, clerk, quantities=quantities, provider=provider)


def test_collecting_in_full_captures_the_total(shop, clerk, online):
    ready(online, clerk)

    collect(online, clerk)

    order = Order.objects.get(pk=online.pk)
    payment = Payment.objects.get(order=order)
    assert (order.status, order.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.PAID)
    assert (payment.status, payment.amount_captured) == (PaymentStatus.PAID, Decimal("29.00"))
    assert payment.pending_operation == ""
    assert intent(order)["status"] == "succeeded"
    assert stock_of(shop.store, shop.lamp) == (8, 0)


def test_a_refused_line_is_not_charged(shop, clerk, clerk_api, online):
    ready(online, clerk)
    clerk_api.post(store_url(shop.store, "pickups/lookup/"), {"code": online.pickup_code})

    response = clerk_api.post(
        store_url(shop.store, f"orders/{online.number}/collect/"),
        {"lines": [{"sku": "LAMP-01", "quantity": 2}, {"sku": "MUG-01", "quantity": 0}]},
    )

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["payment_status"]) == (
        "collected",
        "paid",
    )
    payment = Payment.objects.get(order=online)
    assert payment.amount_captured == Decimal("25.00")
    charge = intent(online)["latest_charge"]
    # localstripe shows the released rest as refunded on the charge.
    assert (charge["amount"], charge["amount_refunded"]) == (2900, 400)
    assert stock_of(shop.store, shop.mug) == (3, 0)


def test_a_failed_capture_hands_nothing_over(shop, clerk, online):
    ready(online, clerk)
    payment = Payment.objects.get(order=online)
    unreachable = StripeProvider(
        stripe.StripeClient(
            "sk_test_x", base_addresses={"api": "http://127.0.0.1:9"}, max_network_retries=0
        )
    )

    with pytest.raises(OrderError) as exc:
        collect(online, clerk, provider=unreachable)

    assert exc.value.code == "payment_provider_unavailable"
    order = Order.objects.get(pk=online.pk)
    payment.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert (payment.status, payment.pending_operation) == (PaymentStatus.AUTHORISED, "")
    assert stock_of(shop.store, shop.lamp) == (10, 2)


def test_staff_cancel_releases_the_card_hold(shop, clerk, online):
    cancel_order(order=online, reason="broken lamp", actor="staff", channel="store")

    payment = Payment.objects.get(order=online)
    assert payment.status == PaymentStatus.VOIDED
    assert intent(online)["status"] == "canceled"
    assert Order.objects.get(pk=online.pk).status == OrderStatus.CANCELLED
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert slot_bookings(shop.store) == 0


def test_customer_cancel_releases_the_card_hold(customer_api, online):
    response = customer_api.post(order_url(online, "cancel"), {})

    assert response.status_code == 200, response.content
    assert Payment.objects.get(order=online).status == PaymentStatus.VOIDED
    assert intent(online)["status"] == "canceled"


def test_hold_expiry_releases_the_card_hold(shop, clerk, online):
    ready(online, clerk)
    Order.objects.filter(pk=online.pk).update(hold_until=timezone.now() - timedelta(minutes=1))

    assert expire_holds() == 1
    assert expire_holds() == 0

    order = Order.objects.get(pk=online.pk)
    assert (order.status, order.payment_status) == (OrderStatus.EXPIRED, PaymentStatus.VOIDED)
    assert intent(online)["status"] == "canceled"
    assert stock_of(shop.store, shop.lamp) == (10, 0)


def test_a_captured_order_can_no_longer_be_cancelled_or_expire(shop, clerk, online):
    ready(online, clerk)
    capture_payment(payment=Payment.objects.get(order=online), amount=Decimal("29.00"))
    online.refresh_from_db()

    with pytest.raises(OrderError) as exc:
        cancel_order(order=online, reason="too late", actor="staff", channel="store")
    assert exc.value.code == "payment_busy"
    assert expire_order(order=online, now=timezone.now() + timedelta(days=30)) is None
    # A collection retried after the charge only records the handover.
    collect(online, clerk)
    assert Order.objects.get(pk=online.pk).status == OrderStatus.COLLECTED
