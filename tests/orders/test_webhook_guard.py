"""The Stripe webhook accepts only what the shop started: a signed event about a PaymentIntent
that is not one of an order's own is adopted only if Stripe itself says it was made for that
order, for its amount and currency; anything else changes nothing and is listed in the
reconciliation. Bodies that are not events and signatures from the future are refused.

Real signatures on the real endpoint, real PaymentIntents on a real localstripe.
"""

import json
import logging
import time
from decimal import Decimal

import pytest
from django.test import Client

from orders.models import Order, OrderStatus, Payment, PaymentAnomaly, PaymentMethod, StripeEvent
from orders.payments import StripeProvider
from orders.selectors import payment_anomalies
from tests.support.factories import UserFactory
from tests.support.localstripe_server import free_port
from tests.support.payments_helpers import deliver, stripe_event
from tests.support.web_helpers import text

pytest_plugins = ["tests.support.payments_fixtures"]

RECONCILIATION = "/manage/reconciliation/"


@pytest.fixture
def order(place, variant, stock):
    """A real online order of 24.95 EUR waiting for its card."""
    variant.price = Decimal("24.95")
    variant.save(update_fields=["price"])
    order = place((variant, 1))
    Order.objects.filter(pk=order.pk).update(
        payment_method=PaymentMethod.ONLINE, status=OrderStatus.PENDING_PAYMENT
    )
    order.refresh_from_db()
    assert order.total == Decimal("24.95")
    return order


def make_intent(*, amount, currency="eur", order_number, capture_method="automatic") -> dict:
    """A PaymentIntent made at localstripe by someone other than the shop's checkout."""
    return (
        StripeProvider()
        .client.v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": currency,
                "payment_method": "pm_card_visa",
                "payment_method_types": ["card"],
                "capture_method": capture_method,
                "confirm": True,
                "metadata": {"order_number": order_number},
            }
        )
        .to_dict()
    )


def unchanged(order) -> bool:
    order.refresh_from_db()
    return (
        order.status == OrderStatus.PENDING_PAYMENT
        and order.payment_status == "unpaid"
        and not order.payments.exists()
    )


def anomalies() -> list[tuple]:
    return list(
        PaymentAnomaly.objects.values_list(
            "order__number", "provider_reference", "kind", "amount", "currency"
        )
    )


def test_a_foreign_intent_does_not_pay_a_real_order_and_is_listed(
    localstripe, order, store, manager, caplog
):
    # given a 1.00 EUR intent someone made naming our 24.95 EUR order
    foreign = make_intent(amount=100, order_number=order.number)
    assert foreign["status"] == "succeeded"
    event = stripe_event("payment_intent.succeeded", foreign)

    # when Stripe signs and sends its payment_intent.succeeded
    with caplog.at_level(logging.WARNING, logger="orders.services"):
        response = deliver(event)

    # then it is acknowledged, nothing is paid, and the reconciliation lists it
    assert response.status_code == 200
    assert unchanged(order)
    assert anomalies() == [(order.number, foreign["id"], "amount_mismatch", Decimal("1.00"), "EUR")]
    assert foreign["id"] in caplog.text
    assert StripeEvent.objects.get().changed is False
    client = Client()
    client.force_login(manager)
    page = client.get(RECONCILIATION)
    html = text(page)
    assert page.status_code == 200
    assert foreign["id"] in html
    assert "€1.00 for an order of €24.95" in html
    assert f'href="/store/{store.code}/orders/{order.number}/"' in html
    # and the same event delivered again records nothing more
    assert deliver(event).status_code == 200
    assert len(anomalies()) == 1
    assert unchanged(order)


def test_the_event_body_cannot_vouch_for_the_amount(localstripe, order):
    # given the same 1.00 intent, its event body rewritten to say 24.95 (a valid signature)
    foreign = make_intent(amount=100, order_number=order.number)
    claimed = {**foreign, "amount": 2495, "amount_received": 2495}

    response = deliver(stripe_event("payment_intent.succeeded", claimed))

    assert response.status_code == 200
    assert unchanged(order)
    assert anomalies() == [(order.number, foreign["id"], "amount_mismatch", Decimal("1.00"), "EUR")]


@pytest.mark.parametrize(
    ("intent", "kind"),
    [
        ({"amount": 2495, "currency": "usd"}, "currency_mismatch"),
        ({"amount": 2495, "order_number": "CC-ANOTHER1"}, "order_mismatch"),
    ],
    ids=["currency", "order"],
)
def test_an_intent_for_another_currency_or_order_is_refused(localstripe, order, intent, kind):
    made = make_intent(
        amount=intent["amount"],
        currency=intent.get("currency", "eur"),
        order_number=intent.get("order_number", order.number),
        capture_method="manual",
    )
    # the event names our order whatever Stripe has on the intent
    body = {**made, "metadata": {"order_number": order.number}}

    response = deliver(stripe_event("payment_intent.amount_capturable_updated", body))

    assert response.status_code == 200
    assert unchanged(order)
    assert [(a[0], a[2]) for a in anomalies()] == [(order.number, kind)]


def test_an_intent_stripe_never_made_is_refused(localstripe, order):
    invented = {
        "id": "pi_never_made_by_anyone",
        "object": "payment_intent",
        "amount": 2495,
        "currency": "eur",
        "status": "succeeded",
        "amount_received": 2495,
        "metadata": {"order_number": order.number},
    }

    response = deliver(stripe_event("payment_intent.succeeded", invented))

    assert response.status_code == 200
    assert unchanged(order)
    assert anomalies() == [
        (order.number, "pi_never_made_by_anyone", "unknown_intent", Decimal("24.95"), "EUR")
    ]


def test_an_intent_naming_no_order_of_ours_is_listed_for_superusers_only(
    localstripe, order, store, manager
):
    foreign = make_intent(amount=100, order_number="CC-NOTOURS1")
    superuser = UserFactory(is_superuser=True, is_staff=True)

    response = deliver(stripe_event("payment_intent.succeeded", foreign))

    assert response.status_code == 200
    assert anomalies() == [(None, foreign["id"], "unknown_order", Decimal("1.00"), "EUR")]
    assert unchanged(order)
    assert payment_anomalies(stores=[store]) == []
    assert [a.provider_reference for a in payment_anomalies(stores=[store], unattributed=True)] == [
        foreign["id"]
    ]
    for user, shown in ((manager, False), (superuser, True)):
        client = Client()
        client.force_login(user)
        assert (foreign["id"] in text(client.get(RECONCILIATION))) is shown


def test_the_shops_own_intent_whose_answer_was_lost_is_adopted(localstripe, order):
    # given our authorisation went through at Stripe but its answer never came back
    auth = StripeProvider().authorise(order, "pm_card_visa")
    intent = StripeProvider().retrieve(auth.reference)

    response = deliver(stripe_event("payment_intent.amount_capturable_updated", intent))

    assert response.status_code == 200
    payment = Payment.objects.get(order=order)
    order.refresh_from_db()
    assert (payment.provider_reference, payment.status, payment.amount_authorised) == (
        auth.reference,
        "authorised",
        Decimal("24.95"),
    )
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, "authorised")
    assert not PaymentAnomaly.objects.exists()


def test_an_unknown_intent_while_stripe_cannot_be_asked_is_left_for_a_retry(
    localstripe, order, settings
):
    foreign = make_intent(amount=100, order_number=order.number)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens there

    response = deliver(stripe_event("payment_intent.succeeded", foreign))

    # 503: Stripe delivers it again later, when it can be checked
    assert response.status_code == 503
    assert response.json()["code"] == "payment_provider_unavailable"
    assert unchanged(order)
    assert not StripeEvent.objects.exists()
    assert not PaymentAnomaly.objects.exists()


# --- What is not an event ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '"x"',
        "1",
        "null",
        "{}",
        '{"id": "evt_1"}',
        '{"id": "evt_1", "type": "payment_intent.succeeded"}',
        '{"id": "evt_1", "type": "payment_intent.succeeded", "data": {}}',
        '{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": []}}',
        '{"id": "evt_1", "type": 5, "data": {"object": {}}}',
        '{"type": "payment_intent.succeeded", "data": {"object": {}}}',
        "not json",
    ],
)
def test_a_signed_body_that_is_not_an_event_is_400(localstripe, order, snapshot, body):
    before = snapshot()

    response = deliver(None, body=body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_an_event"
    assert response.json()["detail"]
    assert snapshot() == before
    assert not StripeEvent.objects.exists()
    assert not PaymentAnomaly.objects.exists()


# --- When it was signed ----------------------------------------------------------------------


@pytest.fixture
def awaited(localstripe, order):
    """Our own authorised intent for the order, whose answer we have not recorded yet: its
    event places the order."""
    auth = StripeProvider().authorise(order, "pm_card_visa")
    return stripe_event(
        "payment_intent.amount_capturable_updated", StripeProvider().retrieve(auth.reference)
    )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (+60 * 60, False),
        (+6 * 60, False),
        (+4 * 60, True),
        (-4 * 60, True),
        (-6 * 60, False),
        (-60 * 60, False),
    ],
    ids=["60-min-ahead", "6-min-ahead", "4-min-ahead", "4-min-old", "6-min-old", "60-min-old"],
)
def test_signatures_are_accepted_within_five_minutes_either_way(
    awaited, order, snapshot, offset, accepted
):
    before = snapshot()

    response = deliver(awaited, timestamp=int(time.time()) + offset)

    order.refresh_from_db()
    if accepted:
        assert response.status_code == 200
        assert order.status == OrderStatus.PLACED
        assert StripeEvent.objects.count() == 1
    else:
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "bad_signature"
        assert response.json()["detail"]
        assert snapshot() == before
        assert (order.status, order.payment_status) == (OrderStatus.PENDING_PAYMENT, "unpaid")
        assert not StripeEvent.objects.exists()
        assert not PaymentAnomaly.objects.exists()


def test_a_bad_signature_is_a_json_400(localstripe, order):
    event = stripe_event("payment_intent.succeeded", {"id": "pi_x"})

    wrong = deliver(event, secret="whsec_someone_else")
    missing = deliver(event, signature=False)

    assert [(r.status_code, r.json()["code"]) for r in (wrong, missing)] == [
        (400, "bad_signature"),
        (400, "signature_missing"),
    ]
    assert json.loads(wrong.content)["detail"]
