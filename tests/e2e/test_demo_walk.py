"""The demo walked in a real browser, as a newcomer would: a shopper on a phone (390 × 844)
and the store staff on a tablet (1280 × 800), on the demo data (`seed_demo`).

On every page: no console error or warning, CSP violation, page error or failed request (the
browser fixtures fail the test on any), every control at least 24 × 24 px on the phone and
44 × 44 px on the tablet (tests/support/browser_checks.py), nothing wider than the screen, and a
screenshot under var/screenshots/ (look at them).

The clock is frozen (ticking) at a Wednesday morning, so the pickup times and the days the
pages show are always the same.
"""

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from customers.models import Customer, NpsAnswer, NpsFollowUp, User
from orders.models import Order, OrderStatus
from orders.services import mark_preparing, mark_ready, refund_order
from shop.models import Variant
from stores.models import StockLevel, Store
from tests.support.browser_checks import assert_touch_targets
from tests.support.web_helpers import hand_over, place_at

pytest_plugins = ["tests.support.browser_fixtures"]

PASSWORD = "omnicollect-demo"  # seed_demo's
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1280, "height": 800}
# Wednesday 15 January 2025, 10:30 in Madrid (03:30 in Mexico City).
WALK_AT = datetime(2025, 1, 15, 10, 30, tzinfo=ZoneInfo("Europe/Madrid"))
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"


@pytest.fixture
def demo(transactional_db, settings):
    # The server's clock is frozen in the past while the browser's is not: cookies without an
    # expiry date, so the browser keeps them.
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    with time_machine.travel(WALK_AT, tick=True):
        call_command("seed_demo", verbosity=0)
        yield


def look(page, name: str, *, minimum: int) -> None:
    """The checks every page of the walk passes, and its screenshot."""
    page.wait_for_load_state("load")
    assert_touch_targets(page, minimum)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, live, email: str, next_path: str) -> None:
    page.goto(f"{live}/account/login/?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def test_the_shopper_walk_on_a_phone(browser, live, demo, watch):
    madrid = Store.objects.get(code="MAD-01")
    # A T-shirt size with stock at Madrid Centro (the demo's stock is deterministic).
    tee = (
        Variant.objects.filter(product__slug="camiseta-algodon-organico")
        .filter(pk__in=StockLevel.objects.filter(store=madrid, on_hand__gte=2).values("variant"))
        .order_by("sku")
        .first()
    )
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()

    log_in(page, live, "shopper@example.com", "/")
    expect(page.locator(".grid .card").first).to_be_visible()
    look(page, "phone-1-catalogue", minimum=24)

    # The page is in English: the demo's English names, found with the search box.
    page.locator("#f-q").fill("organic cotton")
    page.locator("#f-q").press("Enter")
    # The results replace the grid (htmx), then the address shows the search: only then is
    # the link to click the result's, not the first page's about to be swapped out.
    expect(page).to_have_url(re.compile(r"[?&]q=organic"))
    page.get_by_role("link", name=re.compile("Organic cotton T-shirt")).click()
    expect(page.locator("h1")).to_have_text("Organic cotton T-shirt")
    page.get_by_label(tee.title_translations.get("en", tee.title)).check()
    expect(page.locator("#variant-panel")).to_contain_text(tee.sku)
    look(page, "phone-2-product", minimum=24)
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("header #cart-count")).to_have_text("1")

    page.goto(f"{live}/cart/")
    quantity = page.locator("input[name=quantity]").first
    quantity.fill("2")
    quantity.dispatch_event("change")
    expect(page.locator("header #cart-count")).to_have_text("2")
    look(page, "phone-3-cart", minimum=24)

    page.get_by_role("link", name="Checkout").click()
    expect(page.locator("h1")).to_have_text("Checkout")
    # htmx wires the store picker once the page's scripts have run (a busy machine may show
    # the form before that, and then the picker is a plain form with its own button).
    page.wait_for_load_state("load")
    page.get_by_label("Pick up at").select_option("MAD-01")
    expect(page.locator("#slot-list legend")).to_contain_text("Madrid Centro")
    page.locator("label.slot:has(input:not([disabled]))").first.click()
    look(page, "phone-4-checkout", minimum=24)
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("h1")).to_contain_text("Order CC-")
    page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
    look(page, "phone-5-order", minimum=24)
    order = Order.objects.get(customer__email="shopper@example.com")
    assert (order.store, order.status, order.total) == (madrid, OrderStatus.PLACED, 2 * tee.price)

    page.goto(f"{live}/account/")
    expect(page.locator("h1")).to_be_visible()
    look(page, "phone-6-account", minimum=24)

    # A page that does not exist is the shop's own page, styled within the CSP.
    watch(page).allow(r"status of 404 \(Not Found\) \(http://[^ ]+/no-such-page/\)")
    response = page.goto(f"{live}/no-such-page/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    look(page, "phone-7-not-found", minimum=24)
    context.close()


def stocked(store, n):
    levels = StockLevel.objects.filter(store=store, on_hand__gte=3).order_by("variant__sku")
    return [level.variant for level in levels.select_related("variant")[:n]]


@pytest.fixture
def queue(demo):
    """Two web orders of Lucía's at Madrid Centro, one new, one being prepared; and one
    collected at Ciudad de México, paid cash, with one unit refunded."""
    madrid, mexico = Store.objects.get(code="MAD-01"), Store.objects.get(code="CMX-01")
    lucia = Customer.objects.get(email="shopper@example.com")
    manager = User.objects.get(email="manager@example.com")
    first, second = stocked(madrid, 2)
    with time_machine.travel(WALK_AT, tick=True):
        new = place_at(madrid, (first, 1), customer=lucia, slot_index=2)
        preparing = place_at(madrid, (first, 1), (second, 2), customer=lucia, slot_index=3)
        mark_preparing(order=preparing, user=User.objects.get(email="clerk@example.com"))
        lines = [(variant, 3) for variant in stocked(mexico, 3)]
        collected = place_at(mexico, *lines, customer=lucia)
        mark_preparing(order=collected, user=manager)
        mark_ready(order=collected, user=manager)
        hand_over(collected, manager, method="cash")
        collected.refresh_from_db()
        refund_order(
            order=collected,
            user=manager,
            quantities={lines[0][0].sku: 1},
            reason="Damaged",
            method="cash",
        )
        yield {"store": madrid, "new": new, "preparing": preparing, "elsewhere": collected}


def test_the_store_walk_on_a_tablet(browser, live, queue):
    new, preparing = queue["new"], queue["preparing"]
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()

    log_in(page, live, "clerk@example.com", "/store/MAD-01/")
    expect(page.locator(".column-placed")).to_contain_text(new.number)
    look(page, "tablet-1-queue", minimum=44)

    page.locator(".column-preparing").get_by_role("button", name="Mark ready").click()
    expect(page.locator(".column-ready")).to_contain_text(preparing.number)

    page.get_by_role("link", name=re.compile(new.number)).click()
    expect(page.locator("h1")).to_contain_text(new.number)
    look(page, "tablet-2-order", minimum=44)

    # The customer shows the QR: the scanner types its token into the focused field.
    page.goto(f"{live}/store/MAD-01/")
    expect(page.locator("#scan")).to_be_focused()
    page.keyboard.type(preparing.pickup_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Confirm handover")).to_be_visible()
    page.get_by_label("Cash").check()
    look(page, "tablet-3-handover", minimum=44)
    page.get_by_role("button", name="Confirm handover").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {preparing.number} handed over.")
    look(page, "tablet-4-queue-after-handover", minimum=44)
    preparing.refresh_from_db()
    assert preparing.status == OrderStatus.COLLECTED

    page.goto(f"{live}/store/MAD-01/orders/{preparing.number}/")
    expect(page.locator("h1")).to_contain_text(preparing.number)
    look(page, "tablet-5-collected-order", minimum=44)

    page.goto(f"{live}/store/MAD-01/")
    page.fill("#customer-q", "shopper@example.com")
    page.locator(".customer-search").get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("Lucía Fernández")).first.click()
    expect(page.locator("h1")).to_contain_text("Lucía Fernández")
    # Her order at Ciudad de México is only counted: nothing of it on Madrid's tablet.
    elsewhere = re.compile(r"\d+ orders? at (another store|other stores)")
    expect(page.locator("#orders-elsewhere")).to_have_text(elsewhere)
    assert queue["elsewhere"].number not in page.content()
    look(page, "tablet-6-customer", minimum=44)

    # The manager's reconciliation: every column fits the tablet's width.
    page.context.clear_cookies()
    log_in(page, live, "manager@example.com", "/manage/reconciliation/")
    expect(page.locator(".recon-table")).to_contain_text("Madrid Centro")
    expect(page.locator(".recon-table")).to_contain_text("Ciudad de México Polanco")
    scroll = page.locator(".table-scroll")
    assert scroll.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table needs scrolling"
    look(page, "tablet-7-reconciliation", minimum=44)

    # The manager reads who opened which customer's record: the clerk's look at Lucía.
    page.goto(f"{live}/manage/customer-access/")
    expect(page.locator("#access-rows")).to_contain_text("Lucía Fernández")
    expect(page.locator("#access-rows")).to_contain_text("Javier Martín")
    look(page, "tablet-8-customer-access", minimum=44)

    # An unhappy answer about the order handed over above: the manager follows it up.
    answer = NpsAnswer.objects.create(
        customer=preparing.customer,
        order_number=preparing.number,
        score=3,
        comment="I waited ten minutes at the counter",
    )
    NpsFollowUp.objects.create(answer=answer, created_at=answer.created_at)
    page.goto(f"{live}/manage/follow-ups/")
    item = page.locator(".follow-up").filter(has_text=preparing.number)
    expect(item).to_contain_text("I waited ten minutes at the counter")
    look(page, "tablet-9-follow-ups", minimum=44)
    item.get_by_label("What was done").fill("Called her; apologised")
    item.get_by_role("button", name="Mark contacted").click()
    expect(page.get_by_role("status").first).to_contain_text("Follow-up saved.")
    expect(page.locator(".follow-up").filter(has_text=preparing.number)).to_contain_text(
        "Called her; apologised"
    )
    context.close()
