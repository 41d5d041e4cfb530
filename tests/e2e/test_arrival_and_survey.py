"""In a real browser: the shopper presses "I'm here" on their order page and the clerk's open
tablet queue cues the arrival by itself (banner, flashing ticket, chime) within the Content
Security Policy; the NPS survey page on a phone."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from customers.models import Notification, NpsAnswer
from orders.services import mark_preparing, mark_ready
from tests.support.factories import (
    PASSWORD,
    CustomerFactory,
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
)
from tests.support.web_helpers import collect_in_full, place_at

pytest_plugins = ["tests.support.browser_fixtures"]


@pytest.fixture
def counter(transactional_db):
    store = StoreFactory(code="MAD-01", name="Madrid Centro")
    lamp = VariantFactory(product=ProductFactory(name="Brass Desk Lamp"), sku="LAMP-01")
    StockLevelFactory(store=store, variant=lamp, on_hand=5)
    clerk = UserFactory(email="clerk@example.test")
    StaffMembershipFactory(user=clerk, store=store)
    user = UserFactory(email="ana@example.test")
    shopper = CustomerFactory(user=user, email=user.email, name="Ana Arrives", language="en")
    order = place_at(store, (lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    return {"store": store, "clerk": clerk, "shopper": shopper, "order": order}


def log_in(page, live, email, next_path):
    page.goto(f"{live}/account/login/?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_tablet_cues_a_customer_who_says_they_are_here(browser, live, counter, watch, tmp_path):
    store, order = counter["store"], counter["order"]
    tablet_context = browser.new_context(viewport={"width": 1280, "height": 800})
    tablet = tablet_context.new_page()
    tablet_console = watch(tablet)
    log_in(tablet, live, counter["clerk"].email, f"/store/{store.code}/")
    expect(tablet.locator(".column-ready")).to_contain_text(order.number)
    tablet.get_by_role("button", name="Sound off").click()
    expect(tablet.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    expect(tablet.locator("#sound-toggle")).to_have_text("Sound on")
    expect(tablet.locator("#scan")).to_be_focused()
    assert tablet.evaluate("document.body.dataset.arrivalCues") == "0"
    assert tablet.locator("#arrival-banner").is_hidden()

    phone_context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = phone_context.new_page()
    phone_console = watch(phone)
    log_in(phone, live, counter["shopper"].email, f"/orders/{order.number}/")
    phone.screenshot(path=tmp_path / "order-phone.png", full_page=True)
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.get_by_role("status")).to_contain_text("the store knows you are here")
    expect(phone.locator("#arrived-note")).to_contain_text("You told the store you are here at")

    # Within a couple of polls the tablet cues it: banner, flashing ticket, one chime more.
    expect(tablet.locator("#arrival-banner")).to_contain_text(
        f"Customer arrived: {order.number}", timeout=10_000
    )
    assert tablet.evaluate("document.body.dataset.arrivalCues") == "1"
    ticket = tablet.locator(f"[data-arrived-number='{order.number}']")
    expect(ticket).to_have_class("ticket ticket-arrived ticket-flash")
    # One chime when the sound was switched on, one for the arrival.
    assert tablet.evaluate("document.body.dataset.arrivalChimes") == "2"
    tablet.screenshot(path=tmp_path / "tablet-arrival.png")

    # Later polls do not cue the same customer again; the clerk dismisses the banner.
    tablet.wait_for_timeout(5_500)
    assert tablet.evaluate("document.body.dataset.arrivalCues") == "1"
    tablet.get_by_role("button", name="OK").click()
    expect(tablet.locator("#arrival-banner")).to_be_hidden()
    expect(ticket).to_have_class("ticket ticket-arrived")

    # Pressing again (the page reloaded, say) only says when the store was told.
    phone.goto(f"{live}/orders/{order.number}/")
    assert phone.get_by_role("button", name="I'm here").count() == 0

    # The sound choice is remembered on the tablet; coming back does not cue it again.
    tablet.reload()
    expect(tablet.locator("#sound-toggle")).to_have_text("Sound on")
    tablet.wait_for_timeout(500)
    assert tablet.evaluate("document.body.dataset.arrivalCues") == "0"
    assert tablet.locator("#arrival-banner").is_hidden()

    assert tablet_console.problems == []
    assert phone_console.problems == []
    tablet_context.close()
    phone_context.close()


def test_the_survey_on_a_phone(browser, live, counter, watch, tmp_path):
    order, clerk = counter["order"], counter["clerk"]
    collect_in_full(order, clerk)
    note = Notification.objects.get(order_number=order.number, kind="nps_survey")
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    console = watch(page)

    page.goto(f"{live}{urlsplit(note.context['survey_url']).path}")
    expect(page.get_by_role("group")).to_contain_text(
        "How likely are you to recommend us to a friend?"
    )
    page.locator("label.nps-choice", has_text="9").click()
    page.fill("#id_comment", "Quick and friendly.")
    page.screenshot(path=tmp_path / "survey-phone.png", full_page=True)
    # Each score is a big tap target, and all eleven fit the phone's width.
    boxes = [page.locator("label.nps-choice").nth(n).bounding_box() for n in range(11)]
    assert all(box["width"] >= 44 and box["height"] >= 44 for box in boxes)
    assert max(box["x"] + box["width"] for box in boxes) <= 390
    page.get_by_role("button", name="Send my answer").click()

    expect(page.locator("#survey-thanks")).to_be_visible()
    page.screenshot(path=tmp_path / "survey-thanks.png", full_page=True)
    answer = NpsAnswer.objects.get()
    assert (answer.order_number, answer.score, answer.comment) == (
        order.number,
        9,
        "Quick and friendly.",
    )
    assert console.problems == []
    context.close()
