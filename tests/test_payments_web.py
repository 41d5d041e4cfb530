"""Paying online on the web shop, against a real localstripe: checkout → card page (Stripe.js
makes the pm_… in the browser; here the test posts the id it would have made) → placed with
the card authorised. Declines keep the order waiting, "pay at the counter instead" places it.
"""

import pytest
from django.test import Client

from orders.models import Order, OrderStatus, Payment, PaymentMethod, PaymentStatus
from orders.payments import StripeProvider
from tests.factories import CustomerFactory, UserFactory
from tests.payment_helpers import three_d_secure_card
from tests.web_helpers import (
    add_to_cart,
    checkout,
    checkout_page,
    slot_bookings,
    stock_of,
    tags,
    text,
)

pytest_plugins = ["tests.web_fixtures", "tests.payments_fixtures"]

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
    assert 'data-setup-secret="seti_' in html
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
    assert 'data-setup-secret="seti_' in declined.content.decode()
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

    # Checked before the customer passed the challenge: still waiting.
    early = shopper_client.post(pay_url, {"check": "1"})
    assert early.status_code == 402
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
    assert StripeProvider().client.v1.setup_intents.list().data == []
