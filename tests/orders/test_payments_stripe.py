"""Online payments against a real localstripe server on loopback
(tests/support/localstripe_server.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import stripe

from orders.errors import OrderError
from orders.models import Order, OrderLine, OrderStatus, Payment, PaymentStatus
from orders.payments import (
    InStoreProvider,
    StripeProvider,
    from_minor_units,
    online_provider,
    provider_for,
    to_minor_units,
)
from orders.services import (
    authorise_payment,
    cancel_payment,
    capture_payment,
    collect_order,
    confirm_online_order,
    mark_preparing,
    mark_ready,
    refresh_payment,
    refund_order,
)
from tests.conftest import NOW
from tests.support.localstripe_server import free_port
from tests.support.payments_helpers import three_d_secure_card

pytest_plugins = ["tests.support.payments_fixtures"]


def test_localstripe_answers_on_loopback_and_starts_empty(localstripe, settings):
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )

    intents = client.v1.payment_intents.list()

    assert localstripe.startswith("http://127.0.0.1:")
    assert localstripe == settings.STRIPE_API_BASE
    assert intents.data == []


# --- Authorise -------------------------------------------------------------------------------


def test_authorise_leaves_a_capturable_intent_and_records_the_amount(online_order, stripe_provider):
    payment, auth = authorise_payment(
        order=online_order, payment_method="pm_card_visa", provider=stripe_provider
    )

    assert auth.status == PaymentStatus.AUTHORISED
    assert auth.client_secret == ""
    payment.refresh_from_db()
    assert payment.provider == Payment.Provider.STRIPE
    assert payment.provider_reference == auth.reference
    assert payment.provider_reference.startswith("pi_")
    assert payment.status == PaymentStatus.AUTHORISED
    assert payment.amount_authorised == Decimal("29.00")
    assert payment.amount_captured == Decimal("0.00")
    assert payment.currency == "EUR"
    online_order.refresh_from_db()
    assert online_order.payment_status == PaymentStatus.AUTHORISED
    intent = stripe_provider.retrieve(payment.provider_reference)
    assert intent["status"] == "requires_capture"
    assert intent["amount"] == 2900
    assert intent["currency"] == "eur"
    assert intent["capture_method"] == "manual"
    assert intent["metadata"] == {"order_number": online_order.number}


def test_authorise_twice_with_the_same_card_is_one_payment(online_order, stripe_provider):
    first, _ = authorise_payment(
        order=online_order, payment_method="pm_card_visa", provider=stripe_provider
    )

    with pytest.raises(OrderError) as exc:
        authorise_payment(
            order=online_order, payment_method="pm_card_visa", provider=stripe_provider
        )

    assert exc.value.code == "already_authorised"
    assert Payment.objects.filter(order=online_order).count() == 1


def test_declined_card_is_card_declined_and_writes_nothing(online_order, stripe_provider, snapshot):
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        authorise_payment(
            order=online_order,
            payment_method="pm_card_chargeCustomerFail",
            provider=stripe_provider,
        )

    assert exc.value.code == "card_declined"
    assert exc.value.status == 402
    assert snapshot() == before


def test_card_data_is_refused_before_any_call(online_order, stripe_provider, stripe_http):
    with pytest.raises(OrderError) as exc:
        authorise_payment(
            order=online_order, payment_method="4242424242424242", provider=stripe_provider
        )

    assert exc.value.code == "bad_payment_method"
    assert stripe_http.sent == []


def test_an_in_store_order_is_not_authorised_online(place, variant, stock, stripe_provider):
    order = place((variant, 1))

    with pytest.raises(OrderError) as exc:
        authorise_payment(order=order, payment_method="pm_card_visa", provider=stripe_provider)

    assert exc.value.code == "not_online"
    assert not Payment.objects.filter(order=order).exists()


def test_unreachable_provider_is_a_502_not_a_crash(online_order, snapshot, settings):
    closed = free_port()
    provider = StripeProvider(
        stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": f"http://127.0.0.1:{closed}"},
            max_network_retries=0,
        )
    )
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        authorise_payment(order=online_order, payment_method="pm_card_visa", provider=provider)

    assert exc.value.code == "payment_provider_unavailable"
    assert exc.value.status == 502
    assert snapshot() == before


def test_card_needing_authentication_hands_back_the_client_secret_and_stays_unpaid(
    online_order, stripe_provider
):
    # A 3-D Secure card, tokenised the way Stripe.js would (card data goes to Stripe only).
    token = stripe_provider.client.v1.tokens.create(
        params={
            "card": {
                "number": "4000002500003155",
                "exp_month": "12",
                "exp_year": "2030",
                "cvc": "123",
            }
        }
    )

    payment, auth = authorise_payment(
        order=online_order, payment_method=token.card.id, provider=stripe_provider
    )

    assert auth.status == "action_required"
    assert auth.client_secret.startswith(f"{auth.reference}_secret_")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_authorised) == (PaymentStatus.UNPAID, Decimal("0"))
    assert auth.client_secret not in str(list(Payment.objects.values()))
    assert Order.objects.get(pk=online_order.pk).payment_status == PaymentStatus.UNPAID
    # Abandoned: the intent can still be cancelled.
    assert cancel_payment(payment=payment, provider=stripe_provider).status == (
        PaymentStatus.VOIDED
    )


def test_a_card_sent_again_while_authentication_is_pending_is_the_same_intent(
    online_order, stripe_provider
):
    """One PaymentIntent per attempt: localstripe ignores idempotency keys, so this is our
    own rule, and it holds for another card sent from a stale page too."""
    card = three_d_secure_card()
    first, first_auth = authorise_payment(
        order=online_order, payment_method=card, provider=stripe_provider
    )

    again, again_auth = authorise_payment(
        order=online_order, payment_method=card, provider=stripe_provider
    )
    other, other_auth = authorise_payment(
        order=online_order, payment_method="pm_card_visa", provider=stripe_provider
    )

    assert (again.pk, other.pk) == (first.pk, first.pk)
    assert again_auth == other_auth == first_auth
    assert first_auth.status == "action_required"
    intents = stripe_provider.client.v1.payment_intents.list().data
    assert [i.id for i in intents] == [first.provider_reference]
    assert Payment.objects.filter(order=online_order).count() == 1


# --- Capture and cancel ----------------------------------------------------------------------


@pytest.fixture
def authorised(online_order, stripe_provider):
    payment, _ = authorise_payment(
        order=online_order, payment_method="pm_card_visa", provider=stripe_provider
    )
    return payment


def test_capture_in_full(authorised, stripe_provider):
    payment = capture_payment(payment=authorised, amount=Decimal("29.00"), provider=stripe_provider)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    assert payment.amount_captured == Decimal("29.00")
    assert payment.pending_operation == ""
    assert payment.order.payment_status == PaymentStatus.PAID
    assert Order.objects.get(pk=payment.order_id).payment_status == PaymentStatus.PAID
    intent = stripe_provider.retrieve(payment.provider_reference)
    assert intent["status"] == "succeeded"


def test_partial_capture_takes_only_what_was_handed_over(authorised, stripe_provider):
    payment = capture_payment(payment=authorised, amount=Decimal("14.50"), provider=stripe_provider)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    assert payment.amount_authorised == Decimal("29.00")
    assert payment.amount_captured == Decimal("14.50")
    intent = stripe_provider.retrieve(payment.provider_reference)
    charge = intent["latest_charge"]
    # localstripe shows the released rest as refunded on the charge.
    assert (charge["amount"], charge["amount_refunded"]) == (2900, 1450)


def test_capture_more_than_authorised_is_refused_before_any_call(
    authorised, stripe_provider, stripe_http, snapshot
):
    before, calls = snapshot(), len(stripe_http.sent)

    with pytest.raises(OrderError) as exc:
        capture_payment(payment=authorised, amount=Decimal("29.01"), provider=stripe_provider)

    assert exc.value.code == "capture_too_large"
    assert snapshot() == before
    assert len(stripe_http.sent) == calls


def test_cancel_releases_the_authorisation(authorised, stripe_provider):
    payment = cancel_payment(payment=authorised, provider=stripe_provider)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.VOIDED
    assert payment.amount_captured == Decimal("0.00")
    assert Order.objects.get(pk=payment.order_id).payment_status == PaymentStatus.VOIDED
    assert stripe_provider.retrieve(payment.provider_reference)["status"] == "canceled"


def test_capture_after_cancel_is_refused_by_us(authorised, stripe_provider, stripe_http):
    # localstripe would let it through; the application does not.
    payment = cancel_payment(payment=authorised, provider=stripe_provider)
    calls = len(stripe_http.sent)

    with pytest.raises(OrderError) as exc:
        capture_payment(payment=payment, amount=Decimal("29.00"), provider=stripe_provider)

    assert exc.value.code == "illegal_payment_operation"
    assert len(stripe_http.sent) == calls
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.VOIDED


def test_a_refused_capture_leaves_the_payment_as_it_was(authorised, stripe_provider, snapshot):
    # Captured behind our back (e.g. from the dashboard): Stripe refuses a second capture.
    stripe_provider.client.v1.payment_intents.capture(authorised.provider_reference)
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        capture_payment(payment=authorised, amount=Decimal("29.00"), provider=stripe_provider)

    assert exc.value.code == "payment_failed"
    assert snapshot() == before
    authorised.refresh_from_db()
    assert (authorised.status, authorised.pending_operation) == (PaymentStatus.AUTHORISED, "")


# --- Refund ----------------------------------------------------------------------------------
#
# Money goes back through ``refund_order`` only: per collected unit, on an order collected at
# the counter, whose collection captured the collected total on localstripe.


def ready(order, clerk) -> Order:
    """``order`` (authorised) confirmed and made ready for pickup."""
    confirm_online_order(order=order)
    mark_preparing(order=order, user=clerk)
    return mark_ready(order=order, user=clerk, now=NOW)


def collected(order, clerk, provider, **quantities) -> Order:
    """``order`` (authorised) confirmed, made ready and handed over at the counter: ``quantities``
    maps skus to the units handed over (default: everything), and the card is charged for
    them through ``provider``."""
    ready(order, clerk)
    collect_order(
        order=order,
        user=clerk,
        quantities=quantities,
        payment_method="",
        reference="",
        collector="customer",
        verified_by="qr",
        device="test",
        now=NOW + timedelta(hours=2),
        provider=provider,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    return order


def refund(order, clerk, provider, quantities) -> Payment:
    return refund_order(
        order=order, user=clerk, quantities=quantities, reason="Returned", provider=provider
    )


def refund_columns() -> dict:
    """What a refund writes beyond ``snapshot``: refunded units and the payments' totals."""
    return {
        "refunded": sorted(OrderLine.objects.values_list("pk", "refunded_quantity")),
        "payments": sorted(
            Payment.objects.values_list(
                "pk", "status", "amount_captured", "amount_refunded", "pending_operation"
            )
        ),
    }


def stripe_refunds(provider, payment) -> list[int]:
    """The amounts (in cents) of the refunds asked for on ``payment``'s PaymentIntent
    (localstripe also lists the released rest of a partial capture, on no PaymentIntent)."""
    return sorted(
        r.amount
        for r in provider.client.v1.refunds.list().data
        if r.payment_intent == payment.provider_reference
    )


def test_partial_refund_then_the_rest_then_no_more(
    authorised, clerk, variant, stripe_provider, snapshot
):
    order = collected(authorised.order, clerk, stripe_provider)
    payment = Payment.objects.get(pk=authorised.pk)
    assert (payment.status, payment.amount_captured) == (PaymentStatus.PAID, Decimal("29.00"))

    first = refund(order, clerk, stripe_provider, {variant.sku: 1})
    payment.refresh_from_db()
    assert first.amount_refunded == Decimal("14.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.PAID, Decimal("14.50"))
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.PAID

    rest = refund(order, clerk, stripe_provider, None)
    payment.refresh_from_db()
    assert rest.amount_refunded == Decimal("14.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.REFUNDED
    assert stripe_refunds(stripe_provider, payment) == [1450, 1450]

    before = snapshot(), refund_columns()
    for quantities in (None, {variant.sku: 1}):
        with pytest.raises(OrderError) as exc:
            refund(order, clerk, stripe_provider, quantities)
        assert exc.value.code == "already_refunded", quantities
    assert (snapshot(), refund_columns()) == before
    assert stripe_refunds(stripe_provider, payment) == [1450, 1450]


def test_refund_after_partial_capture_is_capped_at_what_was_captured(
    authorised, clerk, variant, stripe_provider, snapshot
):
    # One of the two units was refused at the counter: only 14.50 was captured.
    order = collected(authorised.order, clerk, stripe_provider, **{variant.sku: 1})
    payment = Payment.objects.get(pk=authorised.pk)
    assert (payment.amount_authorised, payment.amount_captured) == (
        Decimal("29.00"),
        Decimal("14.50"),
    )
    before = snapshot(), refund_columns()

    with pytest.raises(OrderError) as exc:
        refund(order, clerk, stripe_provider, {variant.sku: 2})

    assert (exc.value.code, exc.value.status) == ("bad_quantity", 400)
    assert (snapshot(), refund_columns()) == before
    assert stripe_refunds(stripe_provider, payment) == []

    # Everything left to refund is the unit handed over: what was captured, no more.
    everything = refund(order, clerk, stripe_provider, None)

    payment.refresh_from_db()
    assert everything.amount_refunded == Decimal("14.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("14.50"))
    assert stripe_refunds(stripe_provider, payment) == [1450]


def test_refund_before_capture_is_refused(
    authorised, clerk, stripe_provider, stripe_http, snapshot
):
    order = ready(authorised.order, clerk)
    before, calls = (snapshot(), refund_columns()), len(stripe_http.sent)

    with pytest.raises(OrderError) as exc:
        refund(order, clerk, stripe_provider, None)

    assert (exc.value.code, exc.value.status) == ("not_collected", 409)
    assert (snapshot(), refund_columns()) == before
    assert len(stripe_http.sent) == calls
    assert stripe_provider.retrieve(authorised.provider_reference)["status"] == "requires_capture"


def test_bad_amounts_are_refused(authorised, stripe_provider, stripe_http, snapshot):
    before, calls = snapshot(), len(stripe_http.sent)

    for amount in ("0", "-1", "1.001", "abc"):
        with pytest.raises(OrderError) as exc:
            capture_payment(payment=authorised, amount=amount, provider=stripe_provider)
        assert exc.value.code == "bad_amount", amount

    assert snapshot() == before
    assert len(stripe_http.sent) == calls


# --- Idempotency keys and provider lookup ----------------------------------------------------


def test_every_mutating_call_carries_an_idempotency_key(
    authorised, clerk, variant, stripe_provider, stripe_http
):
    order = collected(authorised.order, clerk, stripe_provider)
    refund(order, clerk, stripe_provider, {variant.sku: 1})
    refund(order, clerk, stripe_provider, {variant.sku: 1})
    stripe_provider.retrieve(authorised.provider_reference)

    posts = [(url, headers) for method, url, headers in stripe_http.sent if method == "POST"]
    keys = [headers.get("Idempotency-Key") for _, headers in posts]
    pi = authorised.provider_reference
    number = authorised.order.number
    # Two refunds of the same amount: the refunded total so far tells them apart.
    assert keys == [
        f"{number}:authorise:pm_card_visa",
        f"{pi}:capture:2900",
        f"{pi}:refund:0.00:14.50",
        f"{pi}:refund:14.50:14.50",
    ]
    gets = [headers for method, _, headers in stripe_http.sent if method == "GET"]
    assert gets
    assert all("Idempotency-Key" not in headers for headers in gets)


def test_provider_for_picks_by_payment(authorised):
    counter = Payment(provider=Payment.Provider.IN_STORE, currency="EUR")

    assert isinstance(provider_for(authorised), StripeProvider)
    assert isinstance(provider_for(counter), InStoreProvider)
    assert isinstance(online_provider(), StripeProvider)


def test_the_default_client_talks_to_stripe_api_base(authorised, settings, localstripe):
    payment = refresh_payment(payment=authorised)

    assert payment.status == PaymentStatus.AUTHORISED
    assert StripeProvider().retrieve(authorised.provider_reference)["id"] == (
        authorised.provider_reference
    )


def test_minor_units():
    assert to_minor_units(Decimal("12.50"), "EUR") == 1250
    assert to_minor_units(Decimal("1200"), "JPY") == 1200
    assert from_minor_units(1250, "eur") == Decimal("12.50")
    with pytest.raises(ValueError):
        to_minor_units(Decimal("0.001"), "EUR")
