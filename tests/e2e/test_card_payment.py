"""Paying online in a real browser: Stripe.js (localstripe's fake, served by a real localstripe
on loopback) turns the typed card into a payment method id in the page (with the fake, the
card's card_… id); our server only ever sees that id, and makes one PaymentIntent with it.
"""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus, PaymentStatus
from orders.payments import StripeProvider
from tests.support.factories import ProductFactory, StockLevelFactory, StoreFactory, VariantFactory

pytest_plugins = ["tests.support.browser_fixtures", "tests.support.payments_fixtures"]


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


def challenges_shown(page) -> list[str]:
    """Every 3-D Secure challenge the page shows, across page loads: localstripe's Stripe.js
    opens it as a box with a "Complete authentication" button (the bank's page, with real
    Stripe)."""
    shown: list[str] = []
    page.expose_function("challengeShown", lambda: shown.append(page.url))
    page.add_init_script(CHALLENGE_OBSERVER)
    return shown


CHALLENGE_OBSERVER = """
new MutationObserver(function (records) {
  records.forEach(function (record) {
    record.addedNodes.forEach(function (node) {
      var buttons = node.querySelectorAll ? node.querySelectorAll("button") : [];
      for (var i = 0; i < buttons.length; i++) {
        if (buttons[i].textContent === "Complete authentication") {
          window.challengeShown();
        }
      }
    });
  });
}).observe(document, { childList: true, subtree: true });
"""


def intents_of(order) -> list:
    """The PaymentIntents localstripe holds for the order."""
    intents = StripeProvider().client.v1.payment_intents.list(params={"limit": 100}).data
    return [i for i in intents if i.to_dict()["metadata"].get("order_number") == order.number]


def setup_intents() -> list:
    return StripeProvider().client.v1.setup_intents.list().data


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
    # What reached our server: the id Stripe.js made (with localstripe's Stripe.js, the
    # card's card_… id), never the card number or its code; no SetupIntent on the way.
    sent = [
        re.search(r"payment_method=(\w*)", body)[1] for body in posted if "payment_method=" in body
    ]
    assert sent == [intent["payment_method"]]
    assert sent[0].startswith("card_")
    assert not any("4242424242424242" in body or "cvc" in body for body in posted)
    assert setup_intents() == []
    assert console.problems == []


def test_a_3d_secure_card_is_authenticated_once_on_one_payment_intent(
    browser, live, card_shop, watch
):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)
    challenges = challenges_shown(page)
    order_online(page, live, "sara@example.test")

    type_card(page, "4000002500003155")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    challenge = page.get_by_role("button", name="Complete authentication")
    challenge.click()
    # Answered once: the page goes on to the order, or (wrongly) asks again.
    authorised = page.get_by_role("status").filter(has_text="Your card is authorised")
    expect(authorised.or_(challenge)).to_be_visible()

    assert len(challenges) == 1
    expect(authorised).to_be_visible()
    expect(page.locator(".status")).to_have_text("Placed")
    order = Order.objects.get(contact_email="sara@example.test")
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    (intent,) = intents_of(order)
    assert (intent.status, intent.amount) == ("requires_capture", int(order.total * 100))
    assert order.payments.get().provider_reference == intent.id
    assert setup_intents() == []
    assert len(challenges) == 1
    assert console.problems == []


def test_a_3d_secure_card_left_unanswered_is_finished_on_the_reopened_page(
    browser, live, card_shop, watch, tmp_path
):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)
    challenges = challenges_shown(page)
    order_online(page, live, "sara@example.test")
    pay_url = page.url

    type_card(page, "4000002500003155")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    expect(page.get_by_role("button", name="Complete authentication")).to_be_visible()
    assert len(challenges) == 1
    order = Order.objects.get(contact_email="sara@example.test")
    (intent,) = intents_of(order)
    assert intent.status == "requires_action"

    # The customer leaves the challenge and reopens the page: it says the bank is waiting and
    # finishes that same payment, instead of asking for the card again.
    page.goto(pay_url)
    expect(page.locator("#auth-pending h2")).to_have_text("Authentication pending")
    expect(page.locator("#card-element")).to_have_count(0)
    page.screenshot(path=tmp_path / "pay-authentication-pending-phone.png", full_page=True)
    page.get_by_role("button", name="Confirm with your bank").click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("status")).to_contain_text("Your card is authorised")
    assert len(challenges) == 2  # the one left unanswered, and the one finished
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    assert [i.id for i in intents_of(order)] == [intent.id]
    assert order.payments.get().provider_reference == intent.id
    assert setup_intents() == []
    assert console.problems == []


def test_a_failed_3d_secure_challenge_asks_for_a_card_again(browser, live, card_shop, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    # The page that says the card was not authenticated comes with a 402.
    watch(page).allow(r"status of 402 \(Payment Required\) \(http://[^ ]+/orders/CC-\w+/pay/\)")
    challenges = challenges_shown(page)
    order_online(page, live, "sara@example.test")

    type_card(page, "4000002500003155")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator(".message.error")).to_have_text(
        "The card was not authenticated. Try again or use another card."
    )
    expect(page.locator("#card-element input")).to_have_count(5)
    assert len(challenges) == 1
    order = Order.objects.get(contact_email="sara@example.test")
    assert order.status == OrderStatus.PENDING_PAYMENT
    # Another card is a new attempt, with its own PaymentIntent.
    type_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("Authorise")).click()
    expect(page.get_by_role("status")).to_contain_text("Your card is authorised")
    assert len(challenges) == 1
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.PLACED, PaymentStatus.AUTHORISED)
    assert sorted(i.status for i in intents_of(order)) == [
        "requires_capture",
        "requires_payment_method",
    ]
    assert setup_intents() == []


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
