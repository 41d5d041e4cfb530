"""In a real browser: htmx adds no inline style (its request indicators are styled by our
stylesheet), the favicon is there, the admin's login page loads without a complaint, and only
the tablet's pages load the tablet's script."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.factories import (
    PASSWORD,
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
)

pytest_plugins = ["tests.support.browser_fixtures"]


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


def _scripts_requested(page) -> list[str]:
    """The paths of the scripts the page asks the server for, in order, from now on."""
    paths = []
    page.on(
        "request",
        lambda request: (
            request.resource_type == "script" and paths.append(urlsplit(request.url).path)
        ),
    )
    return paths


def test_only_the_tablet_loads_the_tablet_script(browser, live, catalogue):
    store = StoreFactory(code="BCN-01", name="Barcelona")
    clerk = UserFactory(email="clerk@example.test")
    StaffMembershipFactory(user=clerk, store=store)

    # A shopper's page (each page in its own browser context: nothing comes from a cache).
    shopper = browser.new_context().new_page()
    shopper_scripts = _scripts_requested(shopper)
    shopper.goto(f"{live}/")
    shopper.wait_for_function("() => window.htmx !== undefined")

    # The clerk's tablet queue, after the login page.
    tablet = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    tablet.goto(f"{live}/account/login/?next=/store/{store.code}/")
    tablet.fill("#id_username", clerk.email)
    tablet.fill("#id_password", PASSWORD)
    tablet_scripts = _scripts_requested(tablet)
    tablet.get_by_role("button", name="Log in").click()
    expect(tablet).to_have_url(f"{live}/store/{store.code}/")
    # The tablet's script ran: it watches the queue for arrivals (none yet).
    expect(tablet.locator("body")).to_have_attribute("data-arrival-cues", "0")

    assert shopper_scripts == ["/static/django_htmx/htmx-2.min.js"]
    assert "/static/counter/tablet.js" in tablet_scripts
