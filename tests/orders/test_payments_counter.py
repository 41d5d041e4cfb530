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
from shop.services import cart_for_customer
from tests.support.api_helpers import CHECKOUT, order_url, ready, store_url
from tests.support.factories import (
    CartLineFactory,
    ProductFactory,
    StockLevelFactory,
    VariantFactory,
)
from tests.support.payments_helpers import intent
from tests.support.web_helpers import hand_over, slot_bookings, stock_of

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
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


# --- Partial collection of several lines ---------------------------------------------------


class RecordingStripe(StripeProvider):
    """The real Stripe provider (localstripe), keeping the amount of every capture it sends."""

    def __init__(self):
        super().__init__()
        self.captured: list[Decimal] = []

    def capture(self, payment, amount):
        self.captured.append(amount)
        return super().capture(payment, amount)


@pytest.fixture
def three_lines(localstripe, shop, shopper, customer_api, checkout_body):
    """The shopper's online order of three lines — 3 lamps at 12.50, 2 mugs at 4.00 and 4
    vases at 7.25: 74.50 EUR — its card authorised on localstripe, ready for pickup."""
    vase = VariantFactory(
        product=ProductFactory(name="Glass Vase", slug="glass-vase"),
        sku="VASE-01",
        title="Clear",
        price=Decimal("7.25"),
    )
    StockLevelFactory(store=shop.store, variant=vase, on_hand=5)
    cart = cart_for_customer(customer=shopper)
    for variant, quantity in [(shop.lamp, 3), (shop.mug, 2), (vase, 4)]:
        CartLineFactory(cart=cart, variant=variant, quantity=quantity, channel="mobile")
    body = {**checkout_body, "payment": "online", "payment_method": "pm_card_visa"}
    response = customer_api.post(CHECKOUT, body, key="three-lines")
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.total == Decimal("74.50")
    assert Payment.objects.get(order=order).amount_authorised == Decimal("74.50")
    return order


@pytest.mark.parametrize(
    ("handed_over", "charged"),
    [
        ({}, "74.50"),
        ({"MUG-01": 0}, "66.50"),
        ({"LAMP-01": 1, "VASE-01": 2}, "35.00"),
        ({"LAMP-01": 2, "MUG-01": 0, "VASE-01": 3}, "46.75"),
        ({"LAMP-01": 0, "MUG-01": 0, "VASE-01": 1}, "7.25"),
    ],
    ids=[
        "nothing-refused",
        "one-line-refused",
        "some-units-on-two-lines",
        "a-line-and-some-units",
        "all-but-one-unit",
    ],
)
def test_collecting_part_of_several_lines_captures_exactly_what_was_handed_over(
    shop, clerk, three_lines, handed_over, charged
):
    ready(three_lines, clerk)
    stripe = RecordingStripe()

    collect(three_lines, clerk, provider=stripe, **handed_over)

    charged = Decimal(charged)
    order = Order.objects.get(pk=three_lines.pk)
    payment = Payment.objects.get(order=order)
    assert (order.status, order.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.PAID)
    assert dict(order.lines.values_list("sku", "collected_quantity")) == {
        "LAMP-01": handed_over.get("LAMP-01", 3),
        "MUG-01": handed_over.get("MUG-01", 2),
        "VASE-01": handed_over.get("VASE-01", 4),
    }
    assert stripe.captured == [charged]
    assert (payment.status, payment.amount_captured, payment.pending_operation) == (
        PaymentStatus.PAID,
        charged,
        "",
    )
    # localstripe took the charged amount and released the rest of the hold.
    paid = intent(order)
    charge = paid["latest_charge"]
    assert paid["status"] == "succeeded"
    assert (charge["amount"], charge["amount"] - charge["amount_refunded"]) == (
        7450,
        int(charged * 100),
    )
