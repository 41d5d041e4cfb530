"""The Stripe webhook: verified, each event once, order of arrival does not matter."""

import json
import time
from decimal import Decimal

import pytest
import requests
import stripe
from django.test import Client, override_settings
from pytest_django.live_server_helper import LiveServer

from customers.models import Touchpoint
from orders.models import Order, Payment, PaymentStatus, StripeEvent
from orders.payments import StripeProvider
from orders.services import authorise_payment, capture_payment
from tests.support.payments_helpers import WEBHOOK_URL as URL
from tests.support.payments_helpers import deliver, stripe_event

pytest_plugins = ["tests.support.payments_fixtures"]

WEBHOOK_SECRET = "whsec_webhook_tests_only_0123456789"
PI = "pi_webhook_test_1"


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def payment(online_order):
    """The online order's intent was created; its answer has not been recorded yet."""
    return Payment.objects.create(
        order=online_order,
        provider=Payment.Provider.STRIPE,
        provider_reference=PI,
        method=Payment.Method.CARD,
        currency="EUR",
        status=PaymentStatus.UNPAID,
    )


def intent_event(kind, *, status, order_number, pi=PI, event_id=None, **fields):
    intent = {
        "id": pi,
        "object": "payment_intent",
        "amount": 2900,
        "currency": "eur",
        "capture_method": "manual",
        "status": status,
        "metadata": {"order_number": order_number},
        **fields,
    }
    return stripe_event(kind, intent, event_id)


def refund_event(*, amount_refunded, pi=PI, event_id=None):
    charge = {
        "id": "ch_webhook_test_1",
        "object": "charge",
        "amount": 2900,
        "amount_captured": 2900,
        "amount_refunded": amount_refunded,
        "captured": True,
        "currency": "eur",
        "payment_intent": pi,
    }
    return stripe_event("charge.refunded", charge, event_id)


def state(payment):
    payment.refresh_from_db()
    order = Order.objects.get(pk=payment.order_id)
    return (
        payment.status,
        payment.amount_authorised,
        payment.amount_captured,
        payment.amount_refunded,
        order.payment_status,
    )


def test_capturable_intent_authorises_the_payment(payment):
    event = intent_event(
        "payment_intent.amount_capturable_updated",
        status="requires_capture",
        order_number=payment.order.number,
        amount_capturable=2900,
    )

    response = deliver(event)

    assert response.status_code == 200
    assert state(payment) == (
        PaymentStatus.AUTHORISED,
        Decimal("29.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        PaymentStatus.AUTHORISED,
    )
    assert list(StripeEvent.objects.values_list("event_id", "type")) == [
        (event["id"], "payment_intent.amount_capturable_updated")
    ]


def test_the_same_event_five_times_changes_the_state_once(payment):
    event = intent_event(
        "payment_intent.succeeded",
        status="succeeded",
        order_number=payment.order.number,
        amount_received=2000,
    )

    responses = [deliver(event).status_code for _ in range(5)]

    assert responses == [200] * 5
    assert StripeEvent.objects.count() == 1
    assert state(payment) == (
        PaymentStatus.PAID,
        Decimal("29.00"),
        Decimal("20.00"),
        Decimal("0.00"),
        PaymentStatus.PAID,
    )


def test_a_repeated_refund_event_is_counted_once(payment):
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.PAID, amount_authorised=Decimal("29.00"), amount_captured=29
    )
    event = refund_event(amount_refunded=1000)

    for _ in range(5):
        assert deliver(event).status_code == 200
    # The same refund told again under a new event id (Stripe's amounts are cumulative).
    assert deliver(refund_event(amount_refunded=1000)).status_code == 200

    assert state(payment)[:4] == (
        PaymentStatus.PAID,
        Decimal("29.00"),
        Decimal("29.00"),
        Decimal("10.00"),
    )
    assert deliver(refund_event(amount_refunded=2900)).status_code == 200
    assert state(payment)[0] == PaymentStatus.REFUNDED
    assert state(payment)[4] == PaymentStatus.REFUNDED


def test_a_refund_made_in_stripe_is_recorded_as_a_refund_row(payment):
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.PAID, amount_authorised=Decimal("29.00"), amount_captured=29
    )

    deliver(refund_event(amount_refunded=1000))
    deliver(refund_event(amount_refunded=1000))
    deliver(refund_event(amount_refunded=2900))

    rows = Payment.objects.filter(refund_of=payment).order_by("pk")
    assert [(r.amount_refunded, r.status, r.note) for r in rows] == [
        (Decimal("10.00"), PaymentStatus.REFUNDED, "refunded in Stripe"),
        (Decimal("19.00"), PaymentStatus.REFUNDED, "refunded in Stripe"),
    ]
    assert state(payment)[3:] == (Decimal("29.00"), PaymentStatus.REFUNDED)
    touchpoints = Touchpoint.objects.filter(kind="payment_refunded").order_by("pk")
    assert [t.payload["amount"] for t in touchpoints] == ["10.00", "19.00"]


def test_a_refund_event_while_our_refund_is_in_flight_is_left_to_it(payment):
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.PAID,
        amount_authorised=Decimal("29.00"),
        amount_captured=29,
        pending_operation="refund:0.00:10.00",
    )

    assert deliver(refund_event(amount_refunded=1000)).status_code == 200

    assert state(payment)[3] == Decimal("0.00")
    assert not Payment.objects.filter(refund_of=payment).exists()


@pytest.mark.parametrize(
    "order_of_arrival",
    [
        ("capturable", "succeeded", "canceled"),
        ("succeeded", "capturable", "canceled"),
        ("canceled", "succeeded", "capturable"),
        ("succeeded", "canceled", "capturable"),
    ],
)
def test_out_of_order_deliveries_end_in_the_same_state(payment, order_of_arrival):
    number = payment.order.number
    events = {
        "capturable": intent_event(
            "payment_intent.amount_capturable_updated",
            status="requires_capture",
            order_number=number,
            amount_capturable=2900,
        ),
        "succeeded": intent_event(
            "payment_intent.succeeded",
            status="succeeded",
            order_number=number,
            amount_received=2900,
        ),
        # A late cancel of an intent that was in fact captured (Stripe would refuse it; the
        # event can only be stale): it must not void a captured payment.
        "canceled": intent_event("payment_intent.canceled", status="canceled", order_number=number),
    }

    for name in order_of_arrival:
        assert deliver(events[name]).status_code == 200

    if order_of_arrival[0] == "canceled":
        # Cancelled first: a voided payment stays voided (captures after that are refused).
        assert state(payment)[0] == PaymentStatus.VOIDED
    else:
        assert state(payment) == (
            PaymentStatus.PAID,
            Decimal("29.00"),
            Decimal("29.00"),
            Decimal("0.00"),
            PaymentStatus.PAID,
        )
    assert StripeEvent.objects.count() == 3


def test_captured_payment_is_never_moved_back_to_authorised(payment):
    number = payment.order.number
    deliver(
        intent_event(
            "payment_intent.succeeded",
            status="succeeded",
            order_number=number,
            amount_received=2900,
        )
    )

    deliver(
        intent_event(
            "payment_intent.amount_capturable_updated",
            status="requires_capture",
            order_number=number,
            amount_capturable=2900,
        )
    )

    assert state(payment)[0] == PaymentStatus.PAID


def test_failed_payment_keeps_it_unpaid(payment):
    event = intent_event(
        "payment_intent.payment_failed",
        status="requires_payment_method",
        order_number=payment.order.number,
    )

    assert deliver(event).status_code == 200

    assert state(payment)[0] == PaymentStatus.UNPAID
    assert StripeEvent.objects.count() == 1


def test_intent_unknown_to_us_is_found_by_its_order_number(online_order, localstripe):
    # Our record of the intent was lost (e.g. the authorise answer never came back): Stripe
    # confirms it was made for this order, its amount and currency
    # (tests/orders/test_webhook_guard.py has the intents it does not confirm).
    auth = StripeProvider().authorise(online_order, "pm_card_visa")
    event = intent_event(
        "payment_intent.amount_capturable_updated",
        pi=auth.reference,
        status="requires_capture",
        order_number=online_order.number,
        amount_capturable=2900,
    )

    assert deliver(event).status_code == 200

    payment = Payment.objects.get(order=online_order)
    assert payment.provider_reference == auth.reference
    assert state(payment)[0] == PaymentStatus.AUTHORISED


def test_unknown_types_and_unknown_intents_are_acknowledged_and_ignored(payment, snapshot):
    before = snapshot()

    unknown_type = deliver(stripe_event("customer.created", {"id": "cus_1"}, None))
    unknown_intent = deliver(
        intent_event(
            "payment_intent.succeeded",
            pi="pi_someone_else",
            status="succeeded",
            order_number="CC-NOTOURS1",
            amount_received=100,
        )
    )

    assert (unknown_type.status_code, unknown_intent.status_code) == (200, 200)
    assert snapshot() == before
    assert state(payment)[0] == PaymentStatus.UNPAID


@pytest.mark.parametrize("how", ["tampered", "wrong_secret", "missing", "garbage", "stale"])
def test_bad_signature_is_400_and_writes_nothing(payment, snapshot, how):
    event = intent_event(
        "payment_intent.succeeded",
        status="succeeded",
        order_number=payment.order.number,
        amount_received=2900,
    )
    payload = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    kwargs = {
        "tampered": {"body": payload.replace("2900", "1"), "signature": signature},
        "wrong_secret": {"secret": "whsec_someone_else"},
        "missing": {"signature": False},
        "garbage": {"signature": "t=1,v1=deadbeef"},
        "stale": {
            "signature": stripe.WebhookSignature.generate_signature_header(
                payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600
            ),
            "body": payload,
        },
    }[how]
    before = snapshot()

    response = deliver(event, **kwargs)

    assert response.status_code == 400
    assert snapshot() == before
    assert StripeEvent.objects.count() == 0
    assert state(payment)[0] == PaymentStatus.UNPAID


def test_no_webhook_secret_configured_refuses_everything(payment, settings):
    event = intent_event(
        "payment_intent.succeeded", status="succeeded", order_number=payment.order.number
    )
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = deliver(event, signature="t=1,v1=x")

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_only_post(db):
    assert Client().get(URL).status_code == 405


# --- localstripe's own deliveries ------------------------------------------------------------


@pytest.fixture(scope="module")
def live():
    """A live server on loopback with plain-http settings (see
    tests/e2e/test_shop_and_tablet.py)."""
    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        ALLOWED_HOSTS=["127.0.0.1"],
    )
    with plain_http:
        server = LiveServer("127.0.0.1:0")
        try:
            yield server.url
        finally:
            server.stop()


@pytest.mark.real_clock  # localstripe signs with the real time, checked against ours
def test_localstripe_signed_delivery_is_verified_and_applied(
    live, transactional_db, online_order, stripe_provider, localstripe, settings
):
    # localstripe sends payment_intent.succeeded itself, signed with the secret we register.
    registered = requests.post(
        f"{localstripe}/_config/webhooks/omnicollect",
        data={"url": f"{live}{URL}", "secret": settings.STRIPE_WEBHOOK_SECRET},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=5,
    )
    assert registered.status_code == 200
    payment, _ = authorise_payment(
        order=online_order, payment_method="pm_card_visa", provider=stripe_provider
    )

    capture_payment(payment=payment, amount=Decimal("29.00"), provider=stripe_provider)

    # Events scheduled by earlier tests may still arrive (localstripe sends them a second
    # late to every webhook registered by then): they are about intents we do not know.
    ours = StripeEvent.objects.filter(type="payment_intent.succeeded", payment=payment)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ours.exists():
        time.sleep(0.05)
    assert ours.count() == 1
    assert state(payment)[:3] == (PaymentStatus.PAID, Decimal("29.00"), Decimal("29.00"))
    assert StripeEvent.objects.exclude(payment=payment).filter(changed=True).count() == 0
