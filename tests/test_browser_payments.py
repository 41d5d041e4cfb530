"""Paying online in a real browser: Stripe.js (localstripe's fake, served by a real localstripe
on loopback) turns the typed card into a pm_… in the page; our server only ever sees that id.
"""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus, PaymentStatus
from orders.payments import StripeProvider
from tests.factories import ProductFactory, StockLevelFactory, StoreFactory, VariantFactory

pytest_plugins = ["tests.browser_fixtures", "tests.payments_fixtures"]


@pytest.fixture
def card_shop(transactional_db, localstripe, settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_omnicollect_browser"
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    store = StoreFactory(code="MAD-01", name="Madrid Centro")
    product = ProductFactory(name="Lámpara de latón", slug="lampara")
    lamp = VariantFactory(product=product, sku="LAMP-1", title="Latón")
    StockLevelFactory(store=store, variant=lamp, on_hand=4)
    return {"store": store, "lamp": lamp}


def order_online(page, live, email):
    """Cart → checkout with "pay online": lands on the card page."""
    page.goto(f"{live}/")
    page.get_by_role("link", name=re.compile("Lámpara")).click()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")
    page.goto(f"{live}/checkout/")
    page.locator("input[name=slot]:not([disabled])").first.check()
    page.fill("#id_name", "Carla Tarjeta")
    page.fill("#id_email", email)
    page.locator("input[name=payment][value=online]").check()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("h1")).to_contain_text("Pay for order CC-")
    expect(page.locator(".test-mode")).to_contain_text("no card is charged")


def type_card(page, number):
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(number)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("30")
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("28001")


def test_a_card_typed_in_the_page_authorises_the_order(browser, live, card_shop, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)
    posted = []
    page.on(
        "request",
        lambda r: posted.append(r.post_data or "") if r.url.startswith(live) else None,
    )
    order_online(page, live, "carla@example.test")

    type_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("Authorise")).click()

    expect(page.get_by_role("status")).to_contain_text("Your card is authorised")
    expect(page.locator(".status")).to_have_text("Placed")
    order = Order.objects.get(contact_email="carla@example.test")
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    payment = order.payments.get()
    intent = StripeProvider().retrieve(payment.provider_reference)
    assert (intent["status"], intent["amount"]) == ("requires_capture", int(order.total * 100))
    # What reached our server: the pm_… id, never the card number or its code.
    assert any("payment_method=pm_" in body for body in posted)
    assert not any("4242424242424242" in body or "cvc" in body for body in posted)
    assert console.problems == []


def test_a_card_asking_for_3d_secure_is_authenticated_in_the_page(browser, live, card_shop, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)
    order_online(page, live, "sara@example.test")

    type_card(page, "4000002500003155")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    # The bank asks twice: when the card is set up in the page, and for the payment itself
    # (the page comes back from our server with the challenge, runs it, then has it checked).
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.locator("#pay-form[data-action-secret^=pi_]")).to_have_count(1)
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("status")).to_contain_text("Your card is authorised")
    order = Order.objects.get(contact_email="sara@example.test")
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    assert console.problems == []


def test_a_declined_card_says_so_and_another_card_works(browser, live, card_shop, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    # The page that says the card was declined comes with a 402.
    watch(page).allow(r"status of 402 \(Payment Required\) \(http://[^ ]+/orders/CC-\w+/pay/\)")
    order_online(page, live, "dani@example.test")

    type_card(page, "4000000000000341")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    expect(page.locator(".message.error")).to_contain_text("The card was declined")
    order = Order.objects.get(contact_email="dani@example.test")
    assert order.status == OrderStatus.PENDING_PAYMENT

    type_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    expect(page.get_by_role("status")).to_contain_text("Your card is authorised")
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
