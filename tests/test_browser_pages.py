"""In a real browser: htmx adds no inline style (its request indicators are styled by our
stylesheet), the favicon is there, and the admin's login page loads without a complaint."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import ProductFactory, StockLevelFactory, StoreFactory, VariantFactory

pytest_plugins = ["tests.browser_fixtures"]


@pytest.fixture
def catalogue(transactional_db):
    store = StoreFactory(code="MAD-01", name="Madrid Centro")
    for name in ("Brass Desk Lamp", "Stoneware Mug"):
        StockLevelFactory(store=store, variant=VariantFactory(product=ProductFactory(name=name)))


def test_htmx_indicators_are_styled_by_the_stylesheet(browser, live, catalogue):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live}/")
    page.wait_for_function("() => window.htmx !== undefined")

    # An htmx swap (the catalogue filter) leaves no <style> element and no inline style.
    page.fill("#f-q", "lamp")
    page.locator("#f-q").dispatch_event("change")
    expect(page.get_by_role("link", name=re.compile("Stoneware Mug"))).to_have_count(0)
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0

    # Indicators: hidden, and shown while their element is making a request.
    shown = page.evaluate(
        """() => {
            const idle = document.createElement('span');
            idle.className = 'htmx-indicator';
            const busy = document.createElement('div');
            busy.className = 'htmx-request';
            busy.append(idle.cloneNode());
            document.body.append(idle, busy);
            return [getComputedStyle(idle).visibility,
                    getComputedStyle(busy.firstChild).visibility];
        }"""
    )
    assert shown == ["hidden", "visible"]


def test_the_favicon_is_served(browser, live):
    page = browser.new_page()

    response = page.goto(f"{live}/favicon.ico")

    assert response.status == 200
    assert response.headers["content-type"] == "image/x-icon"


def test_the_admin_login_page_loads_cleanly(browser, live, transactional_db):
    page = browser.new_page(viewport={"width": 1280, "height": 800})

    page.goto(f"{live}/admin/login/")

    expect(page.locator("#login-form")).to_be_visible()
