"""Out of stock: the shop never offers what the shopper's store cannot hand over.

The product page, its variant panel and the catalogue cards say where an item is available
instead of offering "Add to cart"; adding anyway is refused (409) and writes nothing. At
checkout, a line the store cannot fill says how many are left there, with one-click fixes:
reduce the line (or remove it), or switch to a store that has every line. The fixes are plain
forms (no JavaScript needed) that htmx enhances.
"""

import re

import pytest
from django.test import Client

from shop.models import Cart, CartLine
from stores.models import StockLevel
from tests.support.factories import ProductFactory, StockLevelFactory, StoreFactory, VariantFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout_data,
    checkout_page,
    inputs_named,
    tags,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

ADD_FORM = 'action="/cart/add/"'


def browser_at(store) -> Client:
    """An anonymous browser that picked ``store``."""
    client = Client()
    client.post("/cart/store/", {"store": store.code})
    return client


def switch_buttons(html) -> list[str]:
    """The store codes offered by "choose this store" forms on the page."""
    codes = []
    form = False
    for tag in tags(html):
        if tag.name == "form":
            form = tag.attrs.get("action") == "/cart/store/"
        elif form and tag.name == "input" and tag.attrs.get("name") == "store":
            codes.append(tag.attrs["value"])
    return codes


def buy_status(html) -> str:
    match = re.search(r'<p class="stock out buy-status"[^>]*>(.*?)</p>', text_of(html), re.S)
    assert match, "no out-of-stock status in the buy box"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def text_of(html) -> str:
    return html.decode() if isinstance(html, bytes) else html


# --- Product page and variant panel ------------------------------------------------------------


def test_product_page_in_stock_at_the_chosen_store_offers_add_to_cart(shop):
    page = text(browser_at(shop.store).get("/p/brass-desk-lamp/"))

    assert ADD_FORM in page
    assert "buy-status" not in page


def test_product_page_says_where_it_is_available_instead_of_add_to_cart(shop):
    # the lamp: 10 at the shop's store, none at the other
    page = text(browser_at(shop.other).get("/p/brass-desk-lamp/"))

    assert ADD_FORM not in page
    assert buy_status(page) == (
        f"Out of stock at {shop.other.name} — available at {shop.store.name}"
    )
    # a way to switch: the store with stock, once in the buy box and once in its store row
    assert switch_buttons(page).count(shop.store.code) == 2


def test_product_page_lists_every_other_store_with_stock(shop):
    third = StoreFactory(name="Zaragoza Centro")
    StockLevelFactory(store=third, variant=shop.lamp, on_hand=2)
    empty = StoreFactory(name="Bilbao")
    StockLevelFactory(store=empty, variant=shop.lamp, on_hand=4, reserved=4)

    page = text(browser_at(shop.other).get("/p/brass-desk-lamp/"))

    assert ADD_FORM not in page
    in_order = sorted([shop.store, third], key=lambda store: store.code)  # the stores' order
    assert buy_status(page) == (
        f"Out of stock at {shop.other.name} — available at {in_order[0].name}, {in_order[1].name}"
    )


def test_product_out_of_stock_everywhere_says_so_and_offers_no_add(shop):
    StockLevel.objects.filter(variant=shop.lamp).update(on_hand=0)

    for client in (browser_at(shop.store), Client()):  # a store chosen, or none yet
        page = text(client.get("/p/brass-desk-lamp/"))

        assert ADD_FORM not in page
        assert buy_status(page) == "Out of stock at every store"


def test_without_a_chosen_store_any_store_with_stock_allows_adding(shop):
    page = text(Client().get("/p/brass-desk-lamp/"))

    assert ADD_FORM in page


def test_variant_panel_swap_follows_the_chosen_variants_stock(shop):
    product = ProductFactory(slug="tee")
    small = VariantFactory(product=product, sku="TEE-S", title="S")
    large = VariantFactory(product=product, sku="TEE-L", title="L")
    StockLevelFactory(store=shop.store, variant=small, on_hand=3)
    StockLevelFactory(store=shop.store, variant=large, on_hand=0)
    StockLevelFactory(store=shop.other, variant=large, on_hand=1)
    client = browser_at(shop.store)
    htmx = {"HX-Request": "true", "HX-Target": "variant-panel"}

    small_panel = client.get("/p/tee/?sku=TEE-S", headers=htmx)
    large_panel = client.get("/p/tee/?sku=TEE-L", headers=htmx)

    assert "<html" not in text(small_panel)
    assert ADD_FORM in text(small_panel)
    assert ADD_FORM not in text(large_panel)
    assert buy_status(large_panel.content) == (
        f"Out of stock at {shop.store.name} — available at {shop.other.name}"
    )
    # switching store comes back to the same variant
    nexts = [
        t.attrs["value"]
        for t in tags(large_panel.content)
        if t.name == "input" and t.attrs.get("name") == "next"
    ]
    assert nexts and set(nexts) == {"/p/tee/?sku=TEE-L"}


# --- Adding anyway -----------------------------------------------------------------------------


def test_adding_an_item_out_of_stock_at_the_carts_store_is_refused(shop):
    client = browser_at(shop.other)
    add_to_cart(client, shop.mug, 1)  # the mug is in stock there: the cart exists
    before = written()

    response = client.post("/cart/add/", {"sku": "LAMP-01", "quantity": 1})

    assert response.status_code == 409
    assert (
        f"Brass Desk Lamp — Brass is out of stock at {shop.other.name} — available at "
        f"{shop.store.name}. Choose that store to add it."
    ) in text(response)
    assert written() == before


def test_adding_an_item_out_of_stock_everywhere_is_refused_and_creates_no_cart(shop):
    StockLevel.objects.filter(variant=shop.lamp).update(on_hand=3, reserved=3)
    client = Client()
    before = written()

    response = client.post("/cart/add/", {"sku": "LAMP-01", "quantity": 1})

    assert response.status_code == 409
    assert "Brass Desk Lamp — Brass is out of stock at every store." in text(response)
    assert written() == before
    assert "cart_token" not in client.session


def test_htmx_add_of_an_out_of_stock_item_is_an_inline_message(shop):
    client = browser_at(shop.other)
    before = written()

    response = client.post(
        "/cart/add/", {"sku": "LAMP-01", "quantity": 1}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 409
    assert 'data-code="out_of_stock"' in text(response)
    assert "<html" not in text(response)
    assert written() == before


def test_the_api_refuses_an_item_out_of_stock_at_the_carts_store(shop, shopper, shopper_api):
    Cart.objects.create(customer=shopper, store=shop.other)
    before = written()

    response = shopper_api.post("/api/v1/cart/lines/", {"sku": "LAMP-01", "quantity": 1})

    assert response.status_code == 409
    assert response.json() == {
        "code": "out_of_stock",
        "detail": f"Brass Desk Lamp — Brass is out of stock at {shop.other.name} — available "
        f"at {shop.store.name}. Choose that store to add it.",
        "stores": [shop.store.code],  # where it is available
    }
    assert written() == before


def test_the_tablet_adds_for_pickup_at_the_clerks_store_whatever_the_carts_store(
    shop, shopper, clerk
):
    # the customer's cart is set for the other store, which has no lamp; the clerk's store has
    Cart.objects.create(customer=shopper, store=shop.other)
    tablet = Client()
    tablet.force_login(clerk)
    page = f"/store/{shop.store.code}/customers/{shopper.reference}/"

    added = tablet.post(f"{page}cart/", {"code": "LAMP-01", "quantity": 1})

    assert added.status_code == 302
    assert list(CartLine.objects.values_list("variant__sku", "quantity")) == [("LAMP-01", 1)]
    # an item the clerk's store has none of is refused beside the form
    StockLevel.objects.filter(store=shop.store, variant=shop.mug).update(reserved=3)
    before = written()
    refused = tablet.post(f"{page}cart/", {"code": "MUG-01", "quantity": 1})
    assert refused.status_code == 409
    assert (
        f"Stoneware Mug — Blue is out of stock at {shop.store.name} — available at "
        f"{shop.other.name}. Choose that store to add it."
    ) in text(refused)
    assert written() == before


# --- Catalogue cards ---------------------------------------------------------------------------


def card_of(html, name) -> str:
    for card in re.findall(r'<li class="card">(.*?)</li>', text_of(html), re.S):
        if name in card:
            return card
    raise AssertionError(f"no card for {name}")


def test_catalogue_cards_say_when_an_item_is_not_at_the_chosen_store(shop):
    gone = VariantFactory(product=ProductFactory(name="Sold Out Vase", slug="vase"))
    StockLevelFactory(store=shop.store, variant=gone, on_hand=0)

    at_other = text(browser_at(shop.other).get("/"))
    at_store = text(browser_at(shop.store).get("/"))
    no_store = text(Client().get("/"))

    assert f"Out of stock at {shop.other.name}" in card_of(at_other, "Brass Desk Lamp")
    assert "stock" not in card_of(at_other, "Stoneware Mug")
    assert "stock" not in card_of(at_store, "Brass Desk Lamp")
    assert "stock" not in card_of(no_store, "Brass Desk Lamp")
    for page in (at_other, at_store, no_store):
        assert '<span class="stock out">Out of stock</span>' in card_of(page, "Sold Out Vase")


# --- Checkout: only N left ---------------------------------------------------------------------


@pytest.fixture
def short_cart(shop):
    """A browser at the shop's store with 1 lamp and 5 mugs: the store has 3 mugs, the other
    store 5 mugs but no lamp; a third store has everything."""
    third = StoreFactory(name="Valencia Ruzafa")
    StockLevelFactory(store=third, variant=shop.lamp, on_hand=1)
    StockLevelFactory(store=third, variant=shop.mug, on_hand=9)
    client = browser_at(shop.store)
    add_to_cart(client, shop.lamp, 1)
    add_to_cart(client, shop.mug, 5)
    return client, third


def adjust_buttons(html) -> dict[str, str]:
    """{button name=value: label} of the checkout fix buttons."""
    found = {}
    source = text_of(html)
    for match in re.finditer(r"<button([^>]*)>(.*?)</button>", source, re.S):
        attrs = match.group(1)
        if 'formaction="/checkout/adjust/"' not in attrs:
            continue
        assert 'form="checkout-form"' in attrs and "formnovalidate" in attrs
        assert 'hx-post="/checkout/adjust/"' in attrs
        name = re.search(r'name="([^"]+)"', attrs).group(1)
        value = re.search(r'value="([^"]+)"', attrs).group(1)
        found[f"{name}={value}"] = re.sub(r"\s+", " ", match.group(2)).strip()
    return found


def mug_line(shop) -> CartLine:
    return CartLine.objects.get(variant=shop.mug)


def test_checkout_says_only_n_left_and_offers_to_reduce_or_switch(shop, short_cart):
    client, third = short_cart

    response, _, _ = checkout_page(client, shop.store)

    page = text(response)
    assert f"Only 3 left at {shop.store.name}" in page
    assert page.count("left at") == 1  # the lamp line is fine
    assert adjust_buttons(page) == {
        f"adjust_line={mug_line(shop).pk}:3": "Reduce to 3",
        f"switch_to={third.code}": f"Switch to {third.name}",
    }


def test_checkout_offers_remove_when_none_is_left(shop, short_cart):
    client, third = short_cart
    StockLevel.objects.filter(store=shop.store, variant=shop.mug).update(reserved=3)

    response, _, _ = checkout_page(client, shop.store)

    assert f"Out of stock at {shop.store.name}" in text(response)
    assert adjust_buttons(response.content)[f"adjust_line={mug_line(shop).pk}:0"] == "Remove"


def test_checkout_refusal_shows_what_is_left_and_writes_nothing(shop, short_cart):
    client, third = short_cart
    _, key, slots = checkout_page(client, shop.store)
    before = written()

    response = client.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], name="Paz Tecleada")
    )

    assert response.status_code == 409
    page = text(response)
    assert 'data-code="out_of_stock"' in page
    assert f"Only 3 left at {shop.store.name}" in page
    assert f"switch_to={third.code}" in adjust_buttons(page)
    assert written() == before


def test_reduce_without_javascript_keeps_the_details_typed(shop, short_cart):
    client, third = short_cart
    _, key, slots = checkout_page(client, shop.store)
    line = mug_line(shop)
    data = checkout_data(shop.store, key, slots[1], name="Paz Tecleada", phone="+34612345678")

    response = client.post("/checkout/adjust/", {**data, "adjust_line": f"{line.pk}:3"})

    assert response.status_code == 200
    assert CartLine.objects.get(pk=line.pk).quantity == 3
    page = text(response)
    assert "left at" not in page
    assert adjust_buttons(page) == {}
    assert 'value="Paz Tecleada"' in page
    assert 'value="+34612345678"' in page
    assert [i["value"] for i in inputs_named(page, "checkout_key")] == [key]
    assert [i["value"] for i in inputs_named(page, "slot") if "checked" in i] == [slots[1]]
    # and the order now goes through
    placed = client.post("/checkout/", checkout_data(shop.store, key, slots[1]))
    assert placed.status_code == 302


def test_remove_the_last_units_removes_the_line(shop, short_cart):
    client, _ = short_cart
    StockLevel.objects.filter(store=shop.store, variant=shop.mug).update(reserved=3)
    _, key, slots = checkout_page(client, shop.store)
    line = mug_line(shop)

    response = client.post(
        "/checkout/adjust/",
        {**checkout_data(shop.store, key, slots[1]), "adjust_line": f"{line.pk}:0"},
    )

    assert response.status_code == 200
    assert not CartLine.objects.filter(pk=line.pk).exists()
    assert list(CartLine.objects.values_list("variant__sku", flat=True)) == ["LAMP-01"]


def test_switch_store_moves_the_checkout_to_a_store_with_every_line(shop, short_cart):
    client, third = short_cart
    _, key, slots = checkout_page(client, shop.store)

    response = client.post(
        "/checkout/adjust/",
        {**checkout_data(shop.store, key, slots[1], name="Paz"), "switch_to": third.code},
    )

    assert response.status_code == 200
    assert Cart.objects.get().store == third
    page = text(response)
    assert f"Pickup time at {third.name}" in page
    hidden = [i["value"] for i in inputs_named(page, "store") if i.get("type") == "hidden"]
    assert hidden == [third.code]
    assert "left at" not in page
    assert 'value="Paz"' in page


def test_htmx_adjust_answers_with_the_checkout_section(shop, short_cart):
    client, third = short_cart
    _, key, slots = checkout_page(client, shop.store)
    line = mug_line(shop)

    response = client.post(
        "/checkout/adjust/",
        {**checkout_data(shop.store, key, slots[1]), "adjust_line": f"{line.pk}:3"},
        headers={"HX-Request": "true", "HX-Target": "checkout"},
    )

    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page
    assert 'id="checkout-form"' in page
    assert "left at" not in page
    # the header badge follows: 1 lamp + 3 mugs
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">4</span>' in page


def test_store_picker_swap_refreshes_the_stock_notes_too(shop, short_cart):
    client, third = short_cart

    response = client.get(
        f"/checkout/?store={third.code}",
        headers={"HX-Request": "true", "HX-Target": "slot-list"},
    )

    page = text(response)
    assert f"Pickup time at {third.name}" in page
    assert re.search(r'<div id="stock-notes"[^>]* hx-swap-oob="true"', page)
    assert "left at" not in page


@pytest.mark.parametrize(
    "data",
    [
        {"adjust_line": "999999:1"},
        {"adjust_line": "abc"},
        {"adjust_line": "1:-1"},
        {"switch_to": "NOPE-404"},
        {},
        {"adjust_line": "1:1", "switch_to": "X"},
    ],
    ids=["unknown-line", "garbage", "negative", "unknown-store", "nothing", "both"],
)
def test_adjust_refuses_bad_input_and_writes_nothing(shop, short_cart, data):
    client, _ = short_cart
    _, key, slots = checkout_page(client, shop.store)
    before = written()

    response = client.post(
        "/checkout/adjust/", {**checkout_data(shop.store, key, slots[1]), **data}
    )

    assert response.status_code in (400, 404)
    assert 'data-code="' in text(response)
    assert written() == before


def test_adjust_cannot_touch_another_carts_line(shop, short_cart, shopper):
    client, _ = short_cart
    theirs = Cart.objects.create(customer=shopper)
    line = CartLine.objects.create(cart=theirs, variant=shop.mug, quantity=5)
    _, key, slots = checkout_page(client, shop.store)
    before = written()

    response = client.post(
        "/checkout/adjust/",
        {**checkout_data(shop.store, key, slots[1]), "adjust_line": f"{line.pk}:1"},
    )

    assert response.status_code == 404
    assert written() == before


def test_adjust_without_a_cart_goes_back_to_the_cart(shop):
    response = Client().post("/checkout/adjust/", {"switch_to": shop.store.code})

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
