"""Refunds of collected orders: on the card through Stripe (a real localstripe on loopback) or
at the till, per line or in full, from the tablet and the admin; never more than was
collected, never twice, and nothing written when refused."""

from decimal import Decimal

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from customers.models import Touchpoint
from orders.errors import OrderError
from orders.models import Order, OrderLine, OrderStatus, Payment, PaymentStatus
from orders.payments import StripeProvider
from orders.services import handle_stripe_event, refund_order
from stores.models import StaffMembership
from tests.support.api_helpers import ready
from tests.support.factories import StaffMembershipFactory, UserFactory
from tests.support.threads import race
from tests.support.web_helpers import collect_in_full, hand_over, place_at, stock_of, text, written

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]


# --- Helpers -------------------------------------------------------------------------------


def state() -> dict:
    """Everything a refund could write, refund columns included."""
    return {
        **written(),
        "refunded_lines": sorted(OrderLine.objects.values_list("pk", "refunded_quantity")),
        "payment_rows": sorted(
            Payment.objects.values_list(
                "pk", "status", "amount_captured", "amount_refunded", "pending_operation"
            )
        ),
    }


def original(order) -> Payment:
    return Payment.objects.get(order=order, refund_of__isnull=True, status__in=["paid", "refunded"])


def refunds_of(order) -> list[tuple]:
    return list(
        Payment.objects.filter(order=order, refund_of__isnull=False)
        .order_by("pk")
        .values_list("amount_refunded", "provider", "method", "reference", "note", "user_id")
    )


def refunded_units(order) -> dict[str, int]:
    return dict(order.lines.values_list("sku", "refunded_quantity"))


def stripe_refund_total(payment) -> int:
    """What localstripe refunded on this PaymentIntent, in cents (its refunds, not the
    charge's amount_refunded, which also counts an uncaptured rest)."""
    client = StripeProvider().client
    return sum(
        r.amount
        for r in client.v1.refunds.list().data
        if r.payment_intent == payment.provider_reference
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def refund_url(order) -> str:
    return f"/store/{order.store.code}/orders/{order.number}/refund/"


def order_url(order) -> str:
    return f"/store/{order.store.code}/orders/{order.number}/"


def unreachable_stripe() -> StripeProvider:
    return StripeProvider(
        stripe.StripeClient(
            "sk_test_x", base_addresses={"api": "http://127.0.0.1:9"}, max_network_retries=0
        )
    )


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture
def card_order(shop, clerk, online):
    """The shopper's online order (2 lamps at 12.50, 1 mug at 4.00: 29.00 EUR), paid by card
    and collected in full: 29.00 captured on localstripe."""
    ready(online, clerk)
    hand_over(online, clerk)
    online.refresh_from_db()
    assert (online.status, online.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.PAID)
    assert original(online).amount_captured == Decimal("29.00")
    return online


@pytest.fixture
def till_order(shop, clerk):
    """An order paid cash at the counter: 2 lamps and 1 mug (29.00 EUR), collected in full."""
    order = place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))
    ready(order, clerk)
    collect_in_full(order, clerk)
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    return order


# --- Card orders (Stripe) ------------------------------------------------------------------


def test_full_refund_of_a_card_order_goes_back_to_the_card(shop, clerk, card_order):
    refund = refund_order(order=card_order, user=clerk, quantities=None, reason="Faulty lamp")

    payment = original(card_order)
    order = Order.objects.get(pk=card_order.pk)
    assert refund.refund_of_id == payment.pk
    assert (refund.amount_refunded, refund.amount_captured, refund.amount_authorised) == (
        Decimal("29.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert (refund.provider, refund.method, refund.status) == (
        Payment.Provider.STRIPE,
        Payment.Method.CARD,
        PaymentStatus.REFUNDED,
    )
    assert refund.provider_reference.startswith("re_")
    assert (refund.user_id, refund.note) == (clerk.pk, "Faulty lamp")
    assert (payment.status, payment.amount_refunded, payment.pending_operation) == (
        PaymentStatus.REFUNDED,
        Decimal("29.00"),
        "",
    )
    assert (order.status, order.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.REFUNDED)
    assert refunded_units(order) == {"LAMP-01": 2, "MUG-01": 1}
    # Stripe shows the same refund.
    stripe_refund = StripeProvider().client.v1.refunds.retrieve(refund.provider_reference)
    assert (stripe_refund.amount, stripe_refund.payment_intent) == (
        2900,
        payment.provider_reference,
    )
    charge = StripeProvider().retrieve(payment.provider_reference)["latest_charge"]
    assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (2900, 2900, True)
    # Not put back on sale unless asked.
    assert stock_of(shop.store, shop.lamp) == (8, 0)
    touchpoint = Touchpoint.objects.filter(kind="payment_refunded").get()
    assert (touchpoint.customer_id, touchpoint.channel) == (order.customer_id, "store")
    assert touchpoint.payload == {
        "order": order.number,
        "amount": "29.00",
        "currency": "EUR",
        "lines": {"LAMP-01": 2, "MUG-01": 1},
    }


def test_partial_refunds_per_line_then_the_ceiling_holds(shop, clerk, card_order):
    first = refund_order(
        order=card_order, user=clerk, quantities={"LAMP-01": 1}, reason="Scratched"
    )
    payment = original(card_order)
    assert first.amount_refunded == Decimal("12.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.PAID, Decimal("12.50"))
    assert Order.objects.get(pk=card_order.pk).payment_status == PaymentStatus.PAID
    assert refunded_units(card_order) == {"LAMP-01": 1, "MUG-01": 0}

    second = refund_order(
        order=card_order,
        user=clerk,
        quantities={"LAMP-01": 1, "MUG-01": 1},
        reason="Changed mind",
        restock=True,
    )
    payment.refresh_from_db()
    assert second.amount_refunded == Decimal("16.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    assert refunded_units(card_order) == {"LAMP-01": 2, "MUG-01": 1}
    assert stock_of(shop.store, shop.lamp) == (9, 0)
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert stripe_refund_total(payment) == 2900
    assert refunds_of(card_order) == [
        (Decimal("12.50"), "stripe", "card", "", "Scratched", clerk.pk),
        (Decimal("16.50"), "stripe", "card", "", "Changed mind", clerk.pk),
    ]

    before = state()
    with pytest.raises(OrderError) as exc:
        refund_order(order=card_order, user=clerk, quantities=None, reason="Again")
    assert (exc.value.code, exc.value.status) == ("already_refunded", 409)
    assert state() == before
    assert stripe_refund_total(payment) == 2900


def test_refunding_more_than_is_left_is_refused_and_writes_nothing(clerk, card_order):
    refund_order(order=card_order, user=clerk, quantities={"LAMP-01": 1}, reason="Scratched")
    before = state()

    for quantities, code in [
        ({"LAMP-01": 2}, "bad_quantity"),
        ({"MUG-01": 2}, "bad_quantity"),
        ({"LAMP-01": -1}, "bad_quantity"),
        ({"LAMP-01": 0, "MUG-01": 0}, "nothing_to_refund"),
        ({}, "nothing_to_refund"),
        ({"SOCK-99": 1}, "unknown_line"),
    ]:
        with pytest.raises(OrderError) as exc:
            refund_order(order=card_order, user=clerk, quantities=quantities, reason="More")
        assert (exc.value.code, exc.value.status) == (code, 400), quantities

    assert state() == before
    assert stripe_refund_total(original(card_order)) == 1250


def test_a_reason_is_required(clerk, card_order):
    before = state()

    for reason, code in [
        ("", "reason_required"),
        ("   ", "reason_required"),
        ("x" * 256, "reason_too_long"),
    ]:
        with pytest.raises(OrderError) as exc:
            refund_order(order=card_order, user=clerk, quantities=None, reason=reason)
        assert exc.value.code == code

    assert state() == before


def test_stripe_refusing_writes_nothing(clerk, card_order):
    before = state()

    with pytest.raises(OrderError) as exc:
        refund_order(
            order=card_order,
            user=clerk,
            quantities=None,
            reason="Faulty",
            provider=unreachable_stripe(),
        )

    assert exc.value.code == "payment_provider_unavailable"
    assert state() == before
    assert original(card_order).pending_operation == ""
    assert stripe_refund_total(original(card_order)) == 0
    assert Touchpoint.objects.filter(kind="payment_refunded").count() == 0


def test_a_refund_webhook_after_our_refund_does_not_count_twice(clerk, card_order):
    refund_order(order=card_order, user=clerk, quantities={"LAMP-01": 1}, reason="Scratched")
    payment = original(card_order)
    charge = {
        "id": "ch_x",
        "object": "charge",
        "payment_intent": payment.provider_reference,
        "amount": 2900,
        "amount_refunded": 1250,
        "currency": "eur",
    }

    assert handle_stripe_event(
        event={"id": "evt_r1", "type": "charge.refunded", "data": {"object": charge}}
    )

    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.PAID, Decimal("12.50"))

    # Our next refund counts on from there; its own late webhook changes nothing either.
    refund_order(order=card_order, user=clerk, quantities=None, reason="Rest")
    late = {**charge, "amount_refunded": 2900}
    handle_stripe_event(event={"id": "evt_r2", "type": "charge.refunded", "data": {"object": late}})
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    assert stripe_refund_total(payment) == 2900


def test_only_collected_orders_can_be_refunded(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    ready(order, clerk)
    before = state()

    with pytest.raises(OrderError) as exc:
        refund_order(order=order, user=clerk, quantities=None, reason="x", method="cash")

    assert (exc.value.code, exc.value.status) == ("not_collected", 409)
    assert state() == before


class CountingStripe(StripeProvider):
    """The real Stripe provider (localstripe), keeping the amount of every refund it asks for."""

    def __init__(self):
        super().__init__()
        self.refunds: list[Decimal] = []

    def refund(self, payment, amount, *, key):
        self.refunds.append(amount)
        return super().refund(payment, amount, key=key)


@pytest.fixture
def partly_card_order(shop, clerk, online):
    """The shopper's online order (2 lamps, 1 mug), paid by card: the mug was refused at the
    counter, so only the lamps (25.00) were captured."""
    ready(online, clerk)
    hand_over(online, clerk, quantities={"MUG-01": 0})
    online.refresh_from_db()
    assert (online.status, online.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.PAID)
    assert original(online).amount_captured == Decimal("25.00")
    assert dict(online.lines.values_list("sku", "collected_quantity")) == {
        "LAMP-01": 2,
        "MUG-01": 0,
    }
    return online


@pytest.fixture
def partly_till_order(shop, clerk):
    """An order paid cash at the counter (2 lamps, 1 mug) whose mug was refused: 25.00 taken."""
    order = place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))
    ready(order, clerk)
    hand_over(order, clerk, quantities={"MUG-01": 0}, method="cash")
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert original(order).amount_captured == Decimal("25.00")
    return order


def test_units_refused_at_the_counter_are_not_refunded_to_the_card(clerk, partly_card_order):
    stripe = CountingStripe()
    before = state()

    for quantities in [{"MUG-01": 1}, {"LAMP-01": 1, "MUG-01": 1}, {"LAMP-01": 2, "MUG-01": 1}]:
        with pytest.raises(OrderError) as exc:
            refund_order(
                order=partly_card_order,
                user=clerk,
                quantities=quantities,
                reason="Never taken",
                provider=stripe,
            )
        assert (exc.value.code, exc.value.status) == ("bad_quantity", 400), quantities

    payment = original(partly_card_order)
    assert state() == before
    assert (payment.amount_captured, payment.amount_refunded, payment.pending_operation) == (
        Decimal("25.00"),
        Decimal("0.00"),
        "",
    )
    assert stripe.refunds == []
    assert stripe_refund_total(payment) == 0

    # Everything left is the lamps handed over, and only they go back to the card.
    refund = refund_order(
        order=partly_card_order, user=clerk, quantities=None, reason="Recall", provider=stripe
    )

    payment.refresh_from_db()
    assert refund.amount_refunded == Decimal("25.00")
    assert stripe.refunds == [Decimal("25.00")]
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("25.00"))
    assert refunded_units(partly_card_order) == {"LAMP-01": 2, "MUG-01": 0}
    assert stripe_refund_total(payment) == 2500


def test_units_refused_at_the_counter_are_not_refunded_at_the_till(clerk, partly_till_order):
    before = state()

    for quantities in [{"MUG-01": 1}, {"LAMP-01": 1, "MUG-01": 1}, {"LAMP-01": 2, "MUG-01": 1}]:
        with pytest.raises(OrderError) as exc:
            refund_order(
                order=partly_till_order,
                user=clerk,
                quantities=quantities,
                reason="Never taken",
                method="cash",
            )
        assert (exc.value.code, exc.value.status) == ("bad_quantity", 400), quantities

    assert state() == before

    refund = refund_order(
        order=partly_till_order, user=clerk, quantities=None, reason="Recall", method="cash"
    )

    payment = original(partly_till_order)
    assert refund.amount_refunded == Decimal("25.00")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("25.00"))
    assert refunded_units(partly_till_order) == {"LAMP-01": 2, "MUG-01": 0}


# --- The money ceiling through the order refund ----------------------------------------------


def _refund(order, clerk, quantities, stripe):
    """refund_order as the tablet calls it: to the card online, in cash at the till."""
    till = original(order).provider == Payment.Provider.IN_STORE
    return refund_order(
        order=order,
        user=clerk,
        quantities=quantities,
        reason="Returned",
        method="cash" if till else "",
        provider=None if till else stripe,
    )


@pytest.mark.parametrize("paid", ["card_order", "till_order"])
def test_one_more_unit_after_a_full_refund_is_refused(request, clerk, paid):
    order = request.getfixturevalue(paid)
    stripe = CountingStripe()
    _refund(order, clerk, None, stripe)
    before = state()

    with pytest.raises(OrderError) as exc:
        _refund(order, clerk, {"MUG-01": 1}, stripe)

    assert (exc.value.code, exc.value.status) == ("already_refunded", 409)
    assert state() == before
    payment = original(order)
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    assert stripe.refunds == ([Decimal("29.00")] if paid == "card_order" else [])


@pytest.mark.parametrize("paid", ["card_order", "till_order"])
def test_two_partial_refunds_cannot_add_up_to_more_than_was_taken(request, clerk, paid):
    order = request.getfixturevalue(paid)
    stripe = CountingStripe()
    _refund(order, clerk, {"LAMP-01": 1}, stripe)
    before = state()

    # 12.50 + 25.00 and 12.50 + 29.00 are more than the 29.00 taken
    for quantities in [{"LAMP-01": 2}, {"LAMP-01": 2, "MUG-01": 1}]:
        with pytest.raises(OrderError) as exc:
            _refund(order, clerk, quantities, stripe)
        assert (exc.value.code, exc.value.status) == ("bad_quantity", 400), quantities

    assert state() == before
    assert original(order).amount_refunded == Decimal("12.50")

    # exactly what is left (16.50) goes back
    rest = _refund(order, clerk, {"LAMP-01": 1, "MUG-01": 1}, stripe)

    payment = original(order)
    assert rest.amount_refunded == Decimal("16.50")
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    if paid == "card_order":
        assert stripe.refunds == [Decimal("12.50"), Decimal("16.50")]
        assert stripe_refund_total(payment) == 2900


def test_a_refund_made_in_stripe_counts_against_the_order_refund(clerk, card_order):
    # given 16.50 given back in Stripe's dashboard, and Stripe's charge.refunded about it
    payment = original(card_order)
    StripeProvider().client.v1.refunds.create(
        params={"payment_intent": payment.provider_reference, "amount": 1650}
    )
    charge = StripeProvider().retrieve(payment.provider_reference)["latest_charge"]
    assert charge["amount_refunded"] == 1650
    handle_stripe_event(
        event={"id": "evt_dashboard", "type": "charge.refunded", "data": {"object": charge}}
    )
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.refundable) == (Decimal("16.50"), Decimal("12.50"))
    assert refunded_units(card_order) == {"LAMP-01": 0, "MUG-01": 0}
    stripe = CountingStripe()
    before = state()

    # when the clerk refunds units worth more than the 12.50 left
    for quantities in [{"LAMP-01": 2}, {"LAMP-01": 1, "MUG-01": 1}, None]:
        with pytest.raises(OrderError) as exc:
            refund_order(
                order=card_order,
                user=clerk,
                quantities=quantities,
                reason="Returned",
                provider=stripe,
            )
        assert (exc.value.code, exc.value.status) == ("refund_too_large", 400), quantities

    # then nothing is written and Stripe is not asked
    assert state() == before
    assert stripe.refunds == []
    assert stripe_refund_total(payment) == 1650

    # and exactly what is left is given back
    refund = refund_order(
        order=card_order, user=clerk, quantities={"LAMP-01": 1}, reason="Returned", provider=stripe
    )

    payment.refresh_from_db()
    assert refund.amount_refunded == Decimal("12.50")
    assert stripe.refunds == [Decimal("12.50")]
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, Decimal("29.00"))
    assert stripe_refund_total(payment) == 2900

    # after which not one more unit goes back, though a mug was never refunded by the line
    before = state()
    with pytest.raises(OrderError) as exc:
        refund_order(
            order=card_order,
            user=clerk,
            quantities={"MUG-01": 1},
            reason="Returned",
            provider=stripe,
        )
    assert exc.value.code == "illegal_payment_operation"
    assert state() == before
    assert stripe.refunds == [Decimal("12.50")]


# --- Orders paid at the counter --------------------------------------------------------------


def test_cash_refund_at_the_till_with_restock(shop, clerk, till_order):
    refund = refund_order(
        order=till_order,
        user=clerk,
        quantities={"MUG-01": 1},
        reason="Chipped",
        method="cash",
        restock=True,
    )

    payment = original(till_order)
    assert (refund.provider, refund.method, refund.provider_reference) == ("in_store", "cash", "")
    assert (refund.amount_refunded, refund.user_id, refund.note) == (
        Decimal("4.00"),
        clerk.pk,
        "Chipped",
    )
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.PAID, Decimal("4.00"))
    assert refunded_units(till_order) == {"LAMP-01": 0, "MUG-01": 1}
    assert stock_of(shop.store, shop.mug) == (3, 0)
    assert stock_of(shop.store, shop.lamp) == (8, 0)
    assert Touchpoint.objects.get(kind="payment_refunded").payload == {
        "order": till_order.number,
        "amount": "4.00",
        "currency": "EUR",
        "lines": {"MUG-01": 1},
    }


def test_card_refund_at_the_till_needs_the_terminal_reference(clerk, till_order):
    before = state()
    for method, reference, code in [
        ("card", "", "reference_required"),
        ("", "", "bad_payment"),
        ("cheque", "1", "bad_payment"),
    ]:
        with pytest.raises(OrderError) as exc:
            refund_order(
                order=till_order,
                user=clerk,
                quantities=None,
                reason="Faulty",
                method=method,
                reference=reference,
            )
        assert (exc.value.code, exc.value.status) == (code, 400)
    assert state() == before

    refund = refund_order(
        order=till_order,
        user=clerk,
        quantities=None,
        reason="Faulty",
        method="card",
        reference="TRM-4711",
    )

    order = Order.objects.get(pk=till_order.pk)
    assert (refund.method, refund.reference, refund.amount_refunded) == (
        "card",
        "TRM-4711",
        Decimal("29.00"),
    )
    assert original(order).status == PaymentStatus.REFUNDED
    assert order.payment_status == PaymentStatus.REFUNDED


def test_an_online_order_paid_at_the_counter_is_refunded_at_the_till(shop, clerk, till_order):
    # given an online order whose card hold was gone, so the counter took the money
    Order.objects.filter(pk=till_order.pk).update(payment_method="online")
    till_order.refresh_from_db()

    refund = refund_order(
        order=till_order, user=clerk, quantities={"LAMP-01": 1}, reason="Dented", method="cash"
    )

    assert (refund.provider, refund.method, refund.amount_refunded) == (
        "in_store",
        "cash",
        Decimal("12.50"),
    )
    assert original(till_order).amount_refunded == Decimal("12.50")
    page = logged_in(clerk).get(order_url(till_order))
    assert 'name="payment_method"' in text(page)


# --- Two clerks at once ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_clerks_refunding_the_same_line_at_the_till_refund_it_once(shop, clerk, till_order):
    def attempt():
        return refund_order(
            order=till_order, user=clerk, quantities={"LAMP-01": 2}, reason="Both", method="cash"
        )

    results = race([attempt, attempt])

    refunds = [r for r in results if isinstance(r, Payment)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(refunds) == 1, results
    assert [(type(e), e.code) for e in errors] == [(OrderError, "bad_quantity")]
    assert refunds_of(till_order) == [(Decimal("25.00"), "in_store", "cash", "", "Both", clerk.pk)]
    assert original(till_order).amount_refunded == Decimal("25.00")
    assert refunded_units(till_order) == {"LAMP-01": 2, "MUG-01": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_clerks_refunding_the_same_card_line_refund_it_once_on_stripe(shop, clerk, card_order):
    def attempt():
        return refund_order(order=card_order, user=clerk, quantities={"LAMP-01": 2}, reason="Both")

    results = race([attempt, attempt])

    refunds = [r for r in results if isinstance(r, Payment)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(refunds) == 1, results
    assert len(errors) == 1 and isinstance(errors[0], OrderError), results
    assert errors[0].code in {"payment_busy", "bad_quantity"}
    payment = original(card_order)
    assert (payment.amount_refunded, payment.pending_operation) == (Decimal("25.00"), "")
    assert refunded_units(card_order) == {"LAMP-01": 2, "MUG-01": 0}
    assert stripe_refund_total(payment) == 2500
    assert len(refunds_of(card_order)) == 1


# --- The tablet ------------------------------------------------------------------------------


def test_the_tablet_shows_the_refund_form_on_a_collected_order(clerk, till_order):
    response = logged_in(clerk).get(order_url(till_order))

    assert response.status_code == 200
    html = text(response)
    assert f'action="{refund_url(till_order)}"' in html
    assert 'name="refund_LAMP-01"' in html and 'max="2"' in html
    assert 'name="refund_MUG-01"' in html and 'max="1"' in html
    assert 'name="everything"' in html
    assert 'name="payment_method"' in html
    assert "Still refundable: €29.00" in html
    assert "Nothing refunded yet." in html


def test_the_tablet_has_no_refund_form_before_collection(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))

    response = logged_in(clerk).get(order_url(order))

    assert response.status_code == 200
    assert refund_url(order) not in text(response)


def test_a_refund_from_the_tablet_without_javascript(shop, clerk, till_order):
    tablet = logged_in(clerk)

    response = tablet.post(
        refund_url(till_order),
        {
            "refund_LAMP-01": "1",
            "refund_MUG-01": "0",
            "reason": "Dented",
            "payment_method": "cash",
            "restock": "on",
            "confirm": "1",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == order_url(till_order)
    assert refunds_of(till_order) == [
        (Decimal("12.50"), "in_store", "cash", "", "Dented", clerk.pk)
    ]
    assert stock_of(shop.store, shop.lamp) == (9, 0)
    page = tablet.get(response["Location"])
    html = text(page)
    assert "€12.50 refunded." in html
    assert "Still refundable: €16.50" in html
    assert "Dented" in html and clerk.email in html
    assert 'max="1"' in html


def test_refund_everything_from_the_tablet_with_htmx(clerk, card_order):
    response = logged_in(clerk).post(
        refund_url(card_order),
        {"everything": "1", "reason": "Wrong colour", "confirm": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<section id="refund"')
    assert "€29.00 refunded." in html
    assert "Still refundable: €0.00" in html
    assert "<form" not in html
    assert refunds_of(card_order) == [
        (Decimal("29.00"), "stripe", "card", "", "Wrong colour", clerk.pk)
    ]
    assert stripe_refund_total(original(card_order)) == 2900


def test_tablet_errors_are_shown_and_change_nothing(clerk, till_order):
    tablet = logged_in(clerk)
    before = state()

    no_reason = tablet.post(
        refund_url(till_order), {"refund_LAMP-01": "1", "payment_method": "cash"}
    )
    too_many = tablet.post(
        refund_url(till_order), {"refund_LAMP-01": "3", "reason": "x", "payment_method": "cash"}
    )
    no_reference = tablet.post(
        refund_url(till_order),
        {"refund_LAMP-01": "1", "reason": "x", "payment_method": "card"},
        HTTP_HX_REQUEST="true",
    )
    nothing = tablet.post(refund_url(till_order), {"reason": "x", "payment_method": "cash"})

    assert no_reason.status_code == 400
    assert 'id="refund-errors"' in text(no_reason)
    assert too_many.status_code == 400
    assert "Ensure this value is less than or equal to 2." in text(too_many)
    assert no_reference.status_code == 400
    assert 'id="refund-errors"' in text(no_reference)
    assert "Enter the card terminal receipt number." in text(no_reference)
    assert nothing.status_code == 400
    assert "Choose at least one item to refund." in text(nothing)
    assert state() == before


def test_refunding_a_not_collected_order_from_the_tablet_is_refused(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    before = state()

    response = logged_in(clerk).post(
        refund_url(order), {"everything": "1", "reason": "x", "payment_method": "cash"}
    )

    assert response.status_code == 409
    assert "only a collected order can be refunded" in text(response)
    assert state() == before


def test_only_staff_of_the_store_may_refund(shop, till_order):
    stranger_clerk = UserFactory()
    StaffMembershipFactory(user=stranger_clerk, store=shop.other, role=StaffMembership.Role.MANAGER)
    data = {"everything": "1", "reason": "x", "payment_method": "cash"}
    before = state()

    anonymous = Client().post(refund_url(till_order), data)
    other = logged_in(stranger_clerk)
    theirs = other.post(refund_url(till_order), data)
    via_own_store = other.post(f"/store/{shop.other.code}/orders/{till_order.number}/refund/", data)

    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/account/login/?next={refund_url(till_order)}"
    assert theirs.status_code == 404
    assert via_own_store.status_code == 404
    assert logged_in(stranger_clerk).get(refund_url(till_order)).status_code == 404
    assert state() == before


def test_the_refund_endpoint_takes_posts_only(clerk, till_order):
    assert logged_in(clerk).get(refund_url(till_order)).status_code == 405


# --- The admin -------------------------------------------------------------------------------


def admin_refund_url(order) -> str:
    return reverse("admin:orders_order_refund", args=[order.pk])


def test_a_superuser_refunds_one_line_in_the_admin(admin_client, admin_user, till_order):
    change = admin_client.get(reverse("admin:orders_order_change", args=[till_order.pk]))
    assert change.status_code == 200
    assert admin_refund_url(till_order) in text(change)
    form = admin_client.get(admin_refund_url(till_order))
    assert form.status_code == 200
    assert 'name="refund_LAMP-01"' in text(form)

    response = admin_client.post(
        admin_refund_url(till_order),
        {
            "refund_LAMP-01": "0",
            "refund_MUG-01": "1",
            "reason": "Chipped",
            "payment_method": "cash",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_order_change", args=[till_order.pk])
    assert refunds_of(till_order) == [
        (Decimal("4.00"), "in_store", "cash", "", "Chipped", admin_user.pk)
    ]
    touchpoint = Touchpoint.objects.get(kind="payment_refunded")
    assert touchpoint.channel == "web"
    change = admin_client.get(response["Location"])
    assert "Chipped" in text(change)


def test_the_admin_lists_refunds_like_the_tablet_and_offers_none_once_all_is_back(
    admin_client, admin_user, till_order
):
    change_url = reverse("admin:orders_order_change", args=[till_order.pk])
    admin_client.post(
        admin_refund_url(till_order),
        {"refund_MUG-01": "1", "reason": "Chipped", "payment_method": "cash"},
    )

    page = text(admin_client.get(admin_refund_url(till_order)))

    assert page.count('<tr class="refund-row">') == 1
    assert "Cash" in page and "Chipped" in page and admin_user.email in page
    assert admin_refund_url(till_order) in text(admin_client.get(change_url))

    admin_client.post(
        admin_refund_url(till_order),
        {"everything": "1", "reason": "Recall", "payment_method": "cash"},
    )

    assert (
        text(admin_client.get(admin_refund_url(till_order))).count('<tr class="refund-row">') == 2
    )
    assert admin_refund_url(till_order) not in text(admin_client.get(change_url))


def test_a_store_manager_refunds_everything_in_the_admin(shop, card_order):
    from django.contrib.auth.models import Permission

    manager = UserFactory(is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="view_order"))
    StaffMembershipFactory(user=manager, store=shop.store, role=StaffMembership.Role.MANAGER)
    client = logged_in(manager)

    response = client.post(admin_refund_url(card_order), {"everything": "1", "reason": "Recall"})

    assert response.status_code == 302
    assert refunds_of(card_order) == [
        (Decimal("29.00"), "stripe", "card", "", "Recall", manager.pk)
    ]
    assert stripe_refund_total(original(card_order)) == 2900


def test_admin_refund_is_refused_to_a_clerk_and_errors_write_nothing(
    shop, clerk, admin_client, till_order
):
    from django.contrib.auth.models import Permission

    clerk.is_staff = True
    clerk.save(update_fields=["is_staff"])
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    before = state()

    refused = logged_in(clerk).post(
        admin_refund_url(till_order), {"everything": "1", "reason": "x", "payment_method": "cash"}
    )
    too_many = admin_client.post(
        admin_refund_url(till_order),
        {"refund_LAMP-01": "3", "reason": "x", "payment_method": "cash"},
    )
    no_method = admin_client.post(admin_refund_url(till_order), {"everything": "1", "reason": "x"})

    assert refused.status_code == 403
    assert too_many.status_code == 400
    assert no_method.status_code == 400
    assert "Choose card or cash." in text(no_method)
    assert state() == before


def test_the_customer_sees_the_refund_on_the_order_page(clerk, card_order):
    refund_order(order=card_order, user=clerk, quantities={"MUG-01": 1}, reason="Chipped")
    web = Client()
    web.force_login(card_order.customer.user)

    page = text(web.get(f"/orders/{card_order.number}/"))

    assert "€4.00 given back on" in page
