"""Rough edges of the shopper's pages: the payment hint says what the chosen method does, one
search box per page, and the cart badge only in the header.
"""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.support.web_helpers import add_to_cart, checkout_page, tags, text

pytest_plugins = ["tests.support.web_fixtures"]

COUNTER_HINT = "Pay by card or cash when you collect. You only pay for what you take."
ONLINE_HINT = (
    "Your card is authorised now and charged when you collect, only for what you take. "
    "You enter it on the next page."
)


def hints(html) -> dict[str, str]:
    """{payment method: hint text} of the checkout's payment hints."""
    source = html.decode()
    found = {}
    for tag in tags(html):
        classes = tag.attrs.get("class", "").split()
        if tag.name == "p" and "pay-hint" in classes:
            method = tag.attrs["data-payment"]
            start = source.index(f'data-payment="{method}"')
            found[method] = source[start:].split(">", 1)[1].split("</p>", 1)[0]
    return found


@pytest.fixture
def online(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_hint_only"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_hint_only"


def test_each_payment_method_has_its_own_hint(shop, online):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    response, _, _ = checkout_page(browser, shop.store)

    assert hints(response.content) == {"in_store": COUNTER_HINT, "online": ONLINE_HINT}
    radios = [t.attrs["value"] for t in tags(response.content) if t.attrs.get("name") == "payment"]
    assert radios == ["in_store", "online"]
    # the stylesheet shows only the chosen method's hint (no script needed)
    css = (Path(django_settings.BASE_DIR) / "static" / "css" / "app.css").read_text(
        encoding="utf-8"
    )
    assert (
        '.payment-choice:has(input[value="online"]:checked) .pay-hint[data-payment="online"]' in css
    )


def test_without_online_payment_only_the_counter_hint_is_given(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    response, _, _ = checkout_page(browser, shop.store)

    assert hints(response.content) == {"in_store": COUNTER_HINT}


@pytest.mark.parametrize("path", ["/", "/p/brass-desk-lamp/", "/cart/", "/checkout/"])
def test_every_shop_page_has_one_search_box(shop, path):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    html = browser.get(path).content

    searches = [t for t in tags(html) if t.name == "input" and t.attrs.get("type") == "search"]
    assert len(searches) == 1


def test_a_full_cart_page_has_the_cart_badge_only_in_the_header(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 2)

    page = text(browser.get("/cart/"))
    swap = text(
        browser.post(
            "/cart/lines/{}/".format(
                next(
                    t.attrs["action"].split("/")[3]
                    for t in tags(page)
                    if t.name == "form" and "/cart/lines/" in t.attrs.get("action", "")
                )
            ),
            {"quantity": 3},
            headers={"HX-Request": "true"},
        )
    )

    assert page.count('id="cart-count"') == 1
    assert '<span id="cart-count" class="badge">2</span></a>' in page  # in the header link
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">3</span>' in swap
