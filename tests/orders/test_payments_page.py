"""Paying online on the web shop, against a real localstripe: checkout → card page (Stripe.js
makes the payment method id in the browser; here the test posts the id it would have made) →
one PaymentIntent, placed with the card authorised. Declines keep the order waiting, "pay at
the counter instead" places it.
"""

import pytest
from django.test import Client

from orders.models import Order, OrderStatus, Payment, PaymentMethod, PaymentStatus
from orders.payments import StripeProvider
from tests.support.factories import CustomerFactory, UserFactory
from tests.support.payments_helpers import three_d_secure_card
from tests.support.web_helpers import (
    add_to_cart,
    checkout,
    checkout_page,
    slot_bookings,
    stock_of,
    tags,
    text,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.payments_fixtures"]

PUBLISHABLE_KEY = "pk_test_omnicollect_0123456789"


@pytest.fixture
def stripe_web(localstripe, settings):
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    return localstripe


@pytest.fixture
def shopper_client(shopper):
    client = Client()
    client.force_login(shopper.user)
    return client


def inputs_in(html: str) -> list[dict]:
    return [tag.attrs for tag in tags(html) if tag.name == "input"]


def place_online(client, shop):
    """A lamp and a mug (16.50 EUR) ordered online at the shop's store: the pay page URL."""
    add_to_cart(client, shop.lamp)
    add_to_cart(client, shop.mug)
    response = checkout(client, shop.store, payment="online")
    assert response.status_code == 302, text(response)
    assert response["Location"].endswith("/pay/")
    return response["Location"]


def payment_intents() -> list:
    return StripeProvider().client.v1.payment_intents.list().data


def setup_intents() -> list:
    return StripeProvider().client.v1.setup_intents.list().data


def authenticate(intent, *, success: bool) -> None:
    """What Stripe.js does in the customer's browser when they pass (or fail) 3-D Secure."""
    StripeProvider().client.raw_request(
        "post",
        f"/v1/payment_intents/{intent.id}/_authenticate",
        success="true" if success else "false",
        client_secret=intent.client_secret,
    )


def test_checkout_offers_online_payment_only_when_stripe_is_configured(
    shop, shopper_client, settings, stripe_web
):
    add_to_cart(shopper_client, shop.lamp)
    offered, _key, _slots = checkout_page(shopper_client, shop.store)
    assert 'value="online"' in offered.content.decode()

    settings.STRIPE_PUBLISHABLE_KEY = ""
    page, key, slots = checkout_page(shopper_client, shop.store)
    assert 'value="online"' not in page.content.decode()
    refused = checkout(shopper_client, shop.store, payment="online")
    assert refused.status_code == 400
    assert Order.objects.count() == 0
    assert stock_of(shop.store, shop.lamp) == (10, 0)


def test_online_checkout_holds_the_stock_and_shows_the_card_page(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)

    order = Order.objects.get()
    assert (order.status, order.payment_method) == ("pending_payment", "online")
    assert stock_of(shop.store, shop.lamp) == (10, 1)
    assert slot_bookings(shop.store) == 1

    page = shopper_client.get(pay_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'src="{stripe_web}/js.stripe.com/v3/"' in html
    assert f'data-stripe-key="{PUBLISHABLE_KEY}"' in html
    assert '<div id="card-element" class="card-element"></div>' in html
    # Stripe.js makes the card's payment method itself: opening the page asks Stripe nothing.
    assert setup_intents() == []
    assert "Test payments" in html
    assert "Authorise €16.50" in html
    policy = page["Content-Security-Policy"]
    assert f"script-src 'self' {stripe_web}" in policy
    assert f"connect-src 'self' {stripe_web}" in policy
    # The order page sends the shopper to pay, not to the counter with a QR code.
    detail = shopper_client.get(f"/orders/{order.number}/")
    assert f"/orders/{order.number}/pay/" in detail.content.decode()
    assert "qr.svg" not in detail.content.decode()


def test_the_card_page_posts_no_card_field_of_its_own(shop, shopper_client, stripe_web):
    """The card inputs are Stripe.js's, mounted in #card-element; our form carries only the
    pm_… id it makes (and the CSRF token and 3-D Secure check flag)."""
    page = shopper_client.get(place_online(shopper_client, shop))

    pay_form = page.content.decode().split('id="pay-form"')[1].split("</form>")[0]
    assert sorted(attrs["name"] for attrs in inputs_in(pay_form)) == [
        "check",
        "csrfmiddlewaretoken",
        "payment_method",
    ]
    assert '<div id="card-element" class="card-element"></div>' in pay_form


def test_an_authorised_card_places_the_order(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)

    response = shopper_client.post(pay_url, {"payment_method": "pm_card_visa"})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    assert (order.status, order.payment_status) == ("placed", "authorised")
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount_authorised) == ("authorised", order.total)
    intent = StripeProvider().retrieve(payment.provider_reference)
    assert intent["status"] == "requires_capture"
    assert intent["metadata"]["order_number"] == order.number
    # Paid: the pay page now just leads to the order.
    assert shopper_client.get(pay_url)["Location"] == f"/orders/{order.number}/"


def test_a_declined_card_keeps_the_order_waiting_for_another_card(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)

    declined = shopper_client.post(pay_url, {"payment_method": "pm_card_chargeCustomerFail"})

    assert declined.status_code == 402
    assert "The card was declined" in text(declined)
    assert '<div id="card-element" class="card-element"></div>' in text(declined)
    order = Order.objects.get()
    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert stock_of(shop.store, shop.lamp) == (10, 1)
    assert not Payment.objects.exists()

    accepted = shopper_client.post(pay_url, {"payment_method": "pm_card_visa"})
    assert accepted.status_code == 302
    order.refresh_from_db()
    assert order.status == "placed"


@pytest.mark.parametrize(
    "data",
    [
        {"payment_method": "4242424242424242"},
        {"payment_method": "tok_visa"},
        {"payment_method": "pm_" + "x" * 200},
        {"payment_method": ""},
        {"payment_method": "pm_card_visa\n"},
        {},
    ],
)
def test_anything_but_a_payment_method_id_is_refused(shop, shopper_client, stripe_web, data):
    pay_url = place_online(shopper_client, shop)

    response = shopper_client.post(pay_url, data)

    assert response.status_code == 400
    assert not Payment.objects.exists()
    assert Order.objects.get().status == "pending_payment"
    assert StripeProvider().client.v1.payment_intents.list().data == []


def test_paying_at_the_counter_instead_places_the_order(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)

    response = shopper_client.post(pay_url + "counter/")

    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.number}/"
    assert (order.status, order.payment_method) == ("placed", PaymentMethod.IN_STORE)
    assert stock_of(shop.store, shop.lamp) == (10, 1)
    assert [e.note for e in order.events.order_by("pk")] == ["", "pay at the counter"]
    # Nothing left to pay online.
    assert shopper_client.get(pay_url)["Location"] == f"/orders/{order.number}/"
    again = shopper_client.post(pay_url + "counter/")
    assert again.status_code == 302
    assert order.events.count() == 2


def test_an_authorised_order_cannot_switch_to_the_counter(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)
    shopper_client.post(pay_url, {"payment_method": "pm_card_visa"})

    response = shopper_client.post(pay_url + "counter/")

    assert response.status_code == 409
    order = Order.objects.get()
    assert (order.status, order.payment_method) == ("placed", "online")


def test_a_card_needing_authentication_is_checked_after_the_challenge(
    shop, shopper_client, stripe_web
):
    pay_url = place_online(shopper_client, shop)
    challenge = shopper_client.post(pay_url, {"payment_method": three_d_secure_card()})

    assert challenge.status_code == 200
    payment = Payment.objects.get()
    assert f'data-action-secret="{payment.provider_reference}_secret_' in challenge.content.decode()
    assert Order.objects.get().status == "pending_payment"

    # Checked before the customer passed the challenge: still waiting for it, same intent.
    early = shopper_client.post(pay_url, {"check": "1"})
    assert early.status_code == 200
    assert f'data-action-secret="{payment.provider_reference}_secret_' in early.content.decode()
    assert Order.objects.get().status == "pending_payment"

    # Stripe.js runs the challenge in the browser, against Stripe (here localstripe).
    StripeProvider().client.raw_request(
        "post",
        f"/v1/payment_intents/{payment.provider_reference}/_authenticate",
        success="true",
        client_secret=StripeProvider().retrieve(payment.provider_reference)["client_secret"],
    )
    checked = shopper_client.post(pay_url, {"check": "1"})

    order = Order.objects.get()
    assert checked.status_code == 302
    assert (order.status, order.payment_status) == ("placed", "authorised")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_authorised) == (PaymentStatus.AUTHORISED, order.total)


def test_one_payment_intent_per_3d_secure_attempt_and_a_reopened_page_says_it_is_pending(
    shop, shopper_client, stripe_web
):
    pay_url = place_online(shopper_client, shop)
    card = three_d_secure_card()
    challenge = shopper_client.post(pay_url, {"payment_method": card})
    (intent,) = payment_intents()
    assert f'data-action-secret="{intent.client_secret}"' in text(challenge)

    # Reopened (a reload, another tab, back from the bank's app): the page says the bank is
    # waiting and offers to finish, instead of asking for the card again.
    reopened = shopper_client.get(pay_url)
    html = text(reopened)
    assert reopened.status_code == 200
    assert "Authentication pending" in html
    assert f'data-action-secret="{intent.client_secret}"' in html
    assert "Confirm with your bank" in html
    assert 'id="card-element"' not in html
    # The card sent again (a double submit, a stale tab) is the same attempt.
    again = shopper_client.post(pay_url, {"payment_method": card})
    assert again.status_code == 200
    assert f'data-action-secret="{intent.client_secret}"' in text(again)
    # Checked before the bank said yes: still pending, same intent.
    early = shopper_client.post(pay_url, {"check": "1"})
    assert early.status_code == 200
    assert "Authentication pending" in text(early)
    assert [i.id for i in payment_intents()] == [intent.id]

    authenticate(intent, success=True)
    checked = shopper_client.post(pay_url, {"check": "1"})

    order = Order.objects.get()
    assert checked.status_code == 302
    assert (order.status, order.payment_status) == ("placed", "authorised")
    assert [i.id for i in payment_intents()] == [intent.id]
    assert list(Payment.objects.values_list("provider_reference", "status")) == [
        (intent.id, PaymentStatus.AUTHORISED)
    ]


def test_authentication_finished_elsewhere_is_found_when_the_page_is_reopened(
    shop, shopper_client, stripe_web
):
    pay_url = place_online(shopper_client, shop)
    shopper_client.post(pay_url, {"payment_method": three_d_secure_card()})
    (intent,) = payment_intents()
    authenticate(intent, success=True)  # the page was closed before it posted the check

    reopened = shopper_client.get(pay_url)

    order = Order.objects.get()
    assert reopened["Location"] == f"/orders/{order.number}/"
    assert (order.status, order.payment_status) == ("placed", "authorised")
    assert len(payment_intents()) == 1


def test_a_failed_authentication_asks_for_a_card_again_as_a_new_attempt(
    shop, shopper_client, stripe_web
):
    pay_url = place_online(shopper_client, shop)
    shopper_client.post(pay_url, {"payment_method": three_d_secure_card()})
    (first,) = payment_intents()
    authenticate(first, success=False)

    checked = shopper_client.post(pay_url, {"check": "1"})

    assert checked.status_code == 402
    html = text(checked)
    assert (
        '<p class="message error" role="alert" data-code="card_not_authenticated">'
        "The card was not authenticated. Try again or use another card.</p>"
    ) in html
    assert '<div id="card-element" class="card-element"></div>' in html
    assert 'data-action-secret="pi_' not in html
    assert Order.objects.get().status == "pending_payment"
    # The next card is a new attempt: a new intent, and the order is placed with it.
    accepted = shopper_client.post(pay_url, {"payment_method": "pm_card_visa"})
    assert accepted.status_code == 302
    intents = {i.id: i.status for i in payment_intents()}
    assert len(intents) == 2
    assert intents[first.id] == "requires_payment_method"
    authorised = Payment.objects.get(status=PaymentStatus.AUTHORISED)
    assert intents[authorised.provider_reference] == "requires_capture"
    assert setup_intents() == []


def test_someone_elses_order_cannot_be_paid_or_switched(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)
    stranger = Client()
    user = UserFactory()
    CustomerFactory(user=user, email=user.email)
    stranger.force_login(user)

    assert stranger.get(pay_url).status_code == 404
    assert stranger.post(pay_url, {"payment_method": "pm_card_visa"}).status_code == 404
    assert stranger.post(pay_url + "counter/").status_code == 404
    assert Client().post(pay_url, {"payment_method": "pm_card_visa"}).status_code == 404
    order = Order.objects.get()
    assert (order.status, order.payment_method) == (OrderStatus.PENDING_PAYMENT, "online")
    assert not Payment.objects.exists()


def test_a_guest_pays_online_in_the_same_browser(shop, stripe_web):
    guest = Client()
    pay_url = place_online(guest, shop)

    response = guest.post(pay_url, {"payment_method": "pm_card_visa"})

    assert response.status_code == 302
    assert Order.objects.get().status == "placed"


def test_the_card_page_answers_only_get_head_and_post(shop, shopper_client, stripe_web):
    pay_url = place_online(shopper_client, shop)

    for method in ("put", "patch", "delete", "options"):
        assert getattr(shopper_client, method)(pay_url).status_code == 405
    assert payment_intents() == []
    assert Order.objects.get().status == OrderStatus.PENDING_PAYMENT
