"""The shopper's pages on a phone (390×844) in a real browser: one search box, one cart badge,
the payment hint of the chosen method, and the out-of-stock and handoff messages. Each page is
saved as a screenshot in var/screenshots/.
"""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from shop.services import start_handoff
from tests.support.factories import (
    CartFactory,
    CartLineFactory,
    ProductFactory,
    StockLevelFactory,
    StoreFactory,
    VariantFactory,
)

pytest_plugins = ["tests.support.browser_fixtures"]

PHONE = {"width": 390, "height": 844}
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def pages_shop(transactional_db):
    madrid = StoreFactory(code="MAD-01", name="Madrid Centro")
    barcelona = StoreFactory(code="BCN-01", name="Barcelona Eixample")
    tee = VariantFactory(
        product=ProductFactory(name="Camiseta básica", slug="camiseta"), sku="TEE-M", title="M"
    )
    jumper = VariantFactory(
        product=ProductFactory(name="Jersey de lana", slug="jersey"), sku="JER-M", title="M"
    )
    StockLevelFactory(store=madrid, variant=tee, on_hand=2)
    StockLevelFactory(store=barcelona, variant=tee, on_hand=9)
    StockLevelFactory(store=madrid, variant=jumper, on_hand=0)
    StockLevelFactory(store=barcelona, variant=jumper, on_hand=3)
    return {"madrid": madrid, "barcelona": barcelona, "tee": tee, "jumper": jumper}


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret would inject a style the page's CSP (rightly) blocks
    page.screenshot(path=str(SHOTS / f"phone-{name}.png"), full_page=True, caret="initial")


def visible(page, selector) -> int:
    return sum(1 for element in page.locator(selector).all() if element.is_visible())


def choose_madrid(page, live):
    page.goto(f"{live}/p/camiseta/")
    page.locator("form:has(input[name=store][value=MAD-01]) button").first.click()
    expect(page.locator(".store-row.chosen")).to_contain_text("Madrid Centro")


def test_phone_pages_have_one_search_box_and_one_cart_badge(browser, live, pages_shop, watch):
    page = browser.new_page(viewport=PHONE)
    console = watch(page)
    choose_madrid(page, live)
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")

    for name, path in [
        ("catalogue", "/"),
        ("product", "/p/camiseta/"),
        ("cart", "/cart/"),
        ("checkout", "/checkout/"),
    ]:
        page.goto(f"{live}{path}")
        shot(page, name)
        assert visible(page, "input[type=search]") == 1, name
        assert visible(page, ".badge") == 1, name
        assert page.locator("#cart-count").count() == 1, name
    assert console.problems == []


def test_the_payment_hint_follows_the_chosen_method(browser, live, pages_shop, watch, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_hint_only"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_hint_only"
    page = browser.new_page(viewport=PHONE)
    console = watch(page)
    choose_madrid(page, live)
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")
    page.goto(f"{live}/checkout/")
    counter = page.locator(".pay-hint[data-payment=in_store]")
    online = page.locator(".pay-hint[data-payment=online]")

    expect(counter).to_be_visible()
    expect(online).to_be_hidden()
    page.locator("input[name=payment][value=online]").check()
    expect(online).to_be_visible()
    expect(counter).to_be_hidden()
    shot(page, "checkout-online")
    page.locator("input[name=payment][value=in_store]").check()
    expect(counter).to_be_visible()
    expect(online).to_be_hidden()
    assert console.problems == []


def test_out_of_stock_and_the_checkout_fixes_on_a_phone(browser, live, pages_shop, watch):
    page = browser.new_page(viewport=PHONE)
    console = watch(page)
    choose_madrid(page, live)
    page.fill("#qty", "2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("2")

    # The jumper is sold out in Madrid: no add button, where it is instead.
    page.goto(f"{live}/p/jersey/")
    expect(page.locator(".buy-status")).to_have_text(
        "Out of stock at Madrid Centro — available at Barcelona Eixample"
    )
    assert page.get_by_role("button", name="Add to cart").count() == 0
    shot(page, "product-out-of-stock")

    # Madrid sells one of the two T-shirts meanwhile: checkout offers the fixes (htmx).
    level = pages_shop["tee"].stock_levels.get(store=pages_shop["madrid"])
    level.reserved = 1
    level.save()
    page.goto(f"{live}/checkout/")
    page.fill("#id_name", "Ana Móvil")
    expect(page.locator("#stock-notes")).to_contain_text("Only 1 left at Madrid Centro")
    shot(page, "checkout-only-n-left")
    page.get_by_role("button", name="Reduce to 1").click()
    expect(page.locator("#stock-notes")).to_be_empty()
    expect(page.locator("#cart-count")).to_have_text("1")
    assert page.input_value("#id_name") == "Ana Móvil"
    assert console.problems == []


def test_the_handoff_claim_on_a_phone_says_what_moved(browser, live, pages_shop, watch):
    cart = CartFactory(store=pages_shop["barcelona"])
    CartLineFactory(cart=cart, variant=pages_shop["tee"], quantity=2)
    code = start_handoff(cart=cart, channel="web").code
    page = browser.new_page(viewport=PHONE)
    # The wrong code is answered with a 404, which the browser logs.
    console = watch(page).allow(r"status of 404 \(Not Found\) \(http://[^ ]+/cart/claim/\)")
    page.goto(f"{live}/cart/")

    page.get_by_label("Have a code from another device?").fill("WRONG123")
    page.get_by_role("button", name="Add its items to this cart").click()
    expect(page.locator("#claim-error")).to_have_text("This code is wrong or has expired.")
    expect(page.get_by_label("Have a code from another device?")).to_have_value("WRONG123")
    shot(page, "claim-wrong-code")

    page.get_by_label("Have a code from another device?").fill(code)
    page.get_by_role("button", name="Add its items to this cart").click()
    expect(page.get_by_role("status")).to_contain_text(
        "2 items moved from your other device: Camiseta básica — M × 2."
    )
    expect(page.locator("#cart-count")).to_have_text("2")
    shot(page, "claim-moved")
    assert console.unexpected == []
