"""One order, one card hold: concurrent payment attempts for the same order reach Stripe once
(real threads on their own PostgreSQL connections, a real localstripe), and a second hold that
got through anyway is listed in the reconciliation and released by the hold-release job."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from orders.errors import OrderError
from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.selectors import payment_mismatches
from orders.services import authorise_payment, confirm_online_order
from orders.tasks import expire_unpaid_orders, settle_card_payments
from tests.support.api_client import Api, token_for
from tests.support.api_helpers import CHECKOUT
from tests.support.web_helpers import text

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

RACERS = 50
KEY = "one-checkout-50-taps"


def _race(make_request, n):
    """Run ``make_request(i)`` in n threads released together; what each returned."""
    barrier = threading.Barrier(n)

    def run(i):
        try:
            connection.ensure_connection()
            request = make_request(i)  # builds its own client; returns the call to make
            barrier.wait(timeout=30)
            return request()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def intents_for(order) -> list[dict]:
    """Every PaymentIntent localstripe holds for ``order``."""
    listed = StripeProvider().client.v1.payment_intents.list(params={"limit": 100}).data
    return [
        intent.to_dict()
        for intent in listed
        if intent.metadata.to_dict().get("order_number") == order.number
    ]


def _until_answered(call, response, attempts=40):
    """A client that got 409 payment_in_progress retries after Retry-After, as told."""
    while (
        response.status_code == 409
        and response["Content-Type"] == "application/json"
        and response.json()["code"] == "payment_in_progress"
        and attempts
    ):
        assert int(response["Retry-After"]) >= 1
        time.sleep(0.2)
        response = call()
        attempts -= 1
    return response


def test_fifty_simultaneous_checkouts_with_one_key_make_one_order_and_one_hold(
    localstripe, settings, shopper, filled_cart, checkout_body
):
    # given the checkout rate limit out of the way, and one token on 50 clients
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "checkout": (1000, 60)}
    body = {**checkout_body, "payment": "online", "payment_method": "pm_card_visa"}
    token = token_for(shopper.user)

    def attempt(i):
        api = Api(token=token)
        return lambda: api.post(CHECKOUT, body, key=KEY)

    # when the same checkout is sent 50 times at once
    first = _race(attempt, RACERS)
    api = Api(token=token)
    answers = [_until_answered(lambda: api.post(CHECKOUT, body, key=KEY), r) for r in first]

    # then one order, one PaymentIntent, one open hold, and every caller gets that order
    statuses = Counter((r.status_code, r.json().get("code", "order")) for r in first)
    order = Order.objects.get()
    intents = intents_for(order)
    holds = [i for i in intents if i["status"] == "requires_capture"]
    print(f"\nholds per order under the {RACERS}-way race: {len(holds)}")
    print(f"first answers: {dict(statuses)}, intents created: {len(intents)}")
    assert set(statuses) <= {(201, "order"), (409, "payment_in_progress")}
    assert [r.status_code for r in answers] == [201] * RACERS
    assert {r.json()["number"] for r in answers} == {order.number}
    # the request that placed the order answers it, unless another got its card claimed
    # first: then it was told to retry too, and got the order as a replay
    assert sum(r.get("Idempotent-Replayed") != "true" for r in answers) <= 1
    assert len(intents) == 1
    assert len(holds) == 1
    payment = Payment.objects.get(order=order)
    assert (payment.provider_reference, payment.status) == (intents[0]["id"], "authorised")
    assert payment.pending_operation == ""
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, "authorised")


def test_the_card_sent_from_ten_tabs_at_once_is_held_once(localstripe, settings, online_order):
    # given an online order waiting for its card, and its customer's card page open in 10 tabs
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_omnicollect_0123456789"
    shopper = online_order.customer
    pay_url = f"/orders/{online_order.number}/pay/"
    client = Client()
    client.force_login(shopper.user)
    assert client.get(pay_url).status_code == 200

    def attempt(i):
        tab = Client()
        tab.force_login(shopper.user)
        return lambda: tab.post(pay_url, {"payment_method": "pm_card_visa"})

    # when ten tabs send the card at the same moment
    answers = _race(attempt, 10)

    # then one PaymentIntent and one hold; the tabs that lost are told it is under way
    order = Order.objects.get()
    intents = intents_for(order)
    print(f"\nweb: holds per order when 10 tabs pay at once: {len(intents)}")
    assert len(intents) == 1
    assert intents[0]["status"] == "requires_capture"
    assert {r.status_code for r in answers} <= {302, 409}
    assert any(r.status_code == 302 for r in answers)
    for busy in (r for r in answers if r.status_code == 409):
        assert "already being authorised" in text(busy)
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORISED
    assert client.get(pay_url)["Location"] == f"/orders/{order.number}/"


# --- A second hold that got through anyway -------------------------------------------------------


@pytest.fixture
def double_hold(online_order, localstripe):
    """The state the race used to leave: two PaymentIntents authorised at localstripe for one
    placed order, both recorded as authorised payments (oldest first)."""
    provider = StripeProvider()
    payments = []
    for _ in range(2):
        auth = provider.authorise(online_order, "pm_card_visa")
        assert auth.status == PaymentStatus.AUTHORISED
        payments.append(
            Payment.objects.create(
                order=online_order,
                provider=Payment.Provider.STRIPE,
                provider_reference=auth.reference,
                method=Payment.Method.CARD,
                currency="EUR",
                status=PaymentStatus.AUTHORISED,
                amount_authorised=auth.amount,
            )
        )
    Order.objects.filter(pk=online_order.pk).update(payment_status=PaymentStatus.AUTHORISED)
    confirm_online_order(order=online_order)
    return payments


def intent_status(payment) -> str:
    return StripeProvider().retrieve(payment.provider_reference)["status"]


def test_an_order_holding_two_authorisations_is_listed_in_the_reconciliation(
    double_hold, store, manager
):
    order = double_hold[0].order

    found = [(m.order.number, m.code, m.detail) for m in payment_mismatches(stores=[store])]
    client = Client()
    client.force_login(manager)
    page = client.get("/manage/reconciliation/")

    detail = "1 card hold is open besides the one the order uses."
    assert found == [(order.number, "extra_hold", detail)]
    assert page.status_code == 200
    html = text(page)
    assert f'href="/store/{store.code}/orders/{order.number}/"' in html
    assert detail in html
    assert [m.code for m in page.context["mismatches"]] == ["extra_hold"]


def test_the_hold_release_job_voids_the_extra_hold_and_keeps_the_used_one(double_hold, store):
    extra, used = double_hold
    assert [intent_status(extra), intent_status(used)] == ["requires_capture"] * 2

    expire_unpaid_orders()  # the beat task that releases leftover holds
    expire_unpaid_orders()  # safe to run again

    extra.refresh_from_db()
    used.refresh_from_db()
    order = Order.objects.get(pk=used.order_id)
    assert (extra.status, intent_status(extra)) == (PaymentStatus.VOIDED, "canceled")
    assert (used.status, intent_status(used)) == (PaymentStatus.AUTHORISED, "requires_capture")
    assert (extra.pending_operation, used.pending_operation) == ("", "")
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    assert payment_mismatches(stores=[store]) == []


def test_a_hold_left_open_next_to_a_captured_one_is_released(double_hold, store):
    # given the order's payment captured at collection, the older hold still open
    extra, used = double_hold
    Payment.objects.filter(pk=used.pk).update(
        status=PaymentStatus.PAID, amount_captured=Decimal("29.00")
    )
    StripeProvider().client.v1.payment_intents.capture(used.provider_reference)
    Order.objects.filter(pk=used.order_id).update(payment_status=PaymentStatus.PAID)
    assert [m.code for m in payment_mismatches(stores=[store])] == ["extra_hold"]

    expire_unpaid_orders()

    extra.refresh_from_db()
    used.refresh_from_db()
    assert (extra.status, intent_status(extra)) == (PaymentStatus.VOIDED, "canceled")
    assert (used.status, intent_status(used)) == (PaymentStatus.PAID, "succeeded")
    assert payment_mismatches(stores=[store]) == []


def test_an_attempt_whose_answer_was_lost_is_given_up_so_the_card_can_be_sent_again(
    online_order, localstripe, settings
):
    # given a card attempt claimed 20 minutes ago whose process died before Stripe answered
    Payment.objects.create(
        order=online_order,
        provider=Payment.Provider.STRIPE,
        method=Payment.Method.CARD,
        currency="EUR",
        status=PaymentStatus.UNPAID,
        pending_operation="authorise",
        pending_since=timezone.now() - timedelta(minutes=20),
    )
    with pytest.raises(OrderError) as busy:
        authorise_payment(order=online_order, payment_method="pm_card_visa")
    assert (busy.value.code, busy.value.status) == ("payment_in_progress", 409)
    listed = {m.code: m.detail for m in payment_mismatches(stores=[online_order.store])}
    assert listed["operation_in_flight"] == "A provider call (authorise) is in flight or stuck."

    # when the payment sweep runs
    assert settle_card_payments()["settled"] == 1

    # then the claim is gone, and the card goes through as the order's one attempt
    assert not Payment.objects.exists()
    payment, auth = authorise_payment(order=online_order, payment_method="pm_card_visa")
    assert (auth.status, payment.status) == ("authorised", PaymentStatus.AUTHORISED)
    assert len(intents_for(online_order)) == 1
    assert Payment.objects.get() == payment
