"""The web shop's endpoints: bad input, the remembered store, accounts, cart merge, language.

Every refusal is a clear 4xx message and leaves the database exactly as it was.
"""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from customers.models import Customer, Touchpoint, User
from orders.models import Order
from shop.models import Cart, CartLine
from stores.selectors import pickup_slots
from tests.support.clock import at_awkward_moments
from tests.support.factories import PASSWORD, CartFactory, CartLineFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout_data,
    checkout_page,
    inputs_named,
    slot_bookings,
    stock_of,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures

# --- Adding to the cart --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sku": "NOPE-404", "quantity": 1}, "We do not sell an item with code NOPE-404."),
        (
            {"sku": "LAMP-01", "quantity": 0},
            "Quantity: Ensure this value is greater than or equal to 1.",
        ),
        (
            {"sku": "LAMP-01", "quantity": -1},
            "Quantity: Ensure this value is greater than or equal to 1.",
        ),
        (
            {"sku": "LAMP-01", "quantity": 10**9},
            "Quantity: Ensure this value is less than or equal to 20.",
        ),
        ({"sku": "LAMP-01", "quantity": "abc"}, "Quantity: Enter a whole number."),
        ({"sku": "LAMP-01"}, "Quantity: This field is required."),
        ({"quantity": 1}, "sku: This field is required."),
    ],
    ids=["unknown-sku", "zero", "negative", "huge", "non-numeric", "no-quantity", "no-sku"],
)
def test_add_to_cart_refuses_bad_input_and_writes_nothing(shop, data, message):
    browser = Client()
    before = written()

    response = browser.post("/cart/add/", data)

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before


def test_add_to_cart_refuses_bad_input_into_an_existing_cart(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 2)
    before = written()

    unknown = browser.post("/cart/add/", {"sku": "NOPE-404", "quantity": 1})
    beyond_limit = browser.post("/cart/add/", {"sku": "LAMP-01", "quantity": 19})

    assert unknown.status_code == 400
    assert beyond_limit.status_code == 400
    assert "Quantity must be between 1 and 20." in text(beyond_limit)
    assert written() == before


def test_htmx_add_to_cart_refusal_is_a_partial_message(shop):
    browser = Client()
    add_to_cart(browser, shop.mug, 1)
    before = written()

    response = browser.post(
        "/cart/add/", {"sku": "NOPE-404", "quantity": 1}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    assert "<html" not in text(response)
    assert 'data-code="unknown_sku"' in text(response)
    assert written() == before


def test_add_to_cart_twice_adds_up(shop):
    browser = Client()

    add_to_cart(browser, shop.lamp, 2)
    add_to_cart(browser, shop.lamp, 3)

    assert list(CartLine.objects.values_list("variant__sku", "quantity")) == [("LAMP-01", 5)]


# --- Changing a cart line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("x", "Quantity: Enter a whole number."),
        ("", "Quantity: This field is required."),
        (-1, "Quantity: Ensure this value is greater than or equal to 0."),
        (21, "Quantity: Ensure this value is less than or equal to 20."),
    ],
    ids=["non-numeric", "empty", "negative", "over-limit"],
)
def test_cart_line_update_refuses_bad_quantity(shop, quantity, message):
    browser = Client()
    add_to_cart(browser, shop.lamp, 2)
    line = CartLine.objects.get()
    before = written()

    response = browser.post(f"/cart/lines/{line.pk}/", {"quantity": quantity})

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before


def test_cart_line_of_someone_elses_cart_is_not_found(shop, shopper):
    theirs = CartLineFactory(cart=CartFactory(customer=shopper), variant=shop.mug, quantity=2)
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    before = written()

    change = browser.post(f"/cart/lines/{theirs.pk}/", {"quantity": 5})
    remove = browser.post(f"/cart/lines/{theirs.pk}/", {"quantity": 0})
    no_cart = Client().post(f"/cart/lines/{theirs.pk}/", {"quantity": 5})

    assert change.status_code == 404
    assert "That item is not in your cart." in text(change)
    assert remove.status_code == 404
    assert no_cart.status_code == 404
    assert written() == before


def test_cart_line_quantity_zero_removes_the_line(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 2)
    add_to_cart(browser, shop.mug, 1)
    line = CartLine.objects.get(variant=shop.lamp)

    response = browser.post(
        f"/cart/lines/{line.pk}/", {"quantity": 0}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert list(CartLine.objects.values_list("variant__sku", flat=True)) == ["MUG-01"]
    assert 'id="cart-total">€4.00<' in text(response)


# --- Checkout refusals ---------------------------------------------------------------------


@pytest.fixture
def ready_to_pay(shop):
    """A browser with the lamp in its cart and the checkout page open at the shop's store."""
    browser = Client()
    add_to_cart(browser, shop.lamp, 2)
    _, key, slots = checkout_page(browser, shop.store)
    return browser, key, slots


def _local(store, days: int, hour: int, minute: int = 0) -> str:
    today = timezone.now().astimezone(store.tz).date()
    moment = datetime.combine(today + timedelta(days=days), datetime.min.time())
    return moment.replace(hour=hour, minute=minute, tzinfo=store.tz).isoformat()


@at_awkward_moments
def test_checkout_refuses_a_slot_in_the_past(shop, ready_to_pay):
    browser, key, _ = ready_to_pay
    before = written()

    response = browser.post(
        "/checkout/", checkout_data(shop.store, key, _local(shop.store, -1, 10))
    )

    assert response.status_code == 400
    assert f"That pickup time is not available at {shop.store.name}." in text(response)
    assert written() == before


@at_awkward_moments
def test_checkout_refuses_a_slot_outside_opening_hours(shop, ready_to_pay):
    browser, key, _ = ready_to_pay
    before = written()

    # The store opens 08:00–22:00 every day.
    night = browser.post("/checkout/", checkout_data(shop.store, key, _local(shop.store, 1, 3)))
    closing = browser.post("/checkout/", checkout_data(shop.store, key, _local(shop.store, 1, 22)))

    assert night.status_code == 400
    assert "That pickup time is not available" in text(night)
    assert closing.status_code == 400
    assert written() == before


@at_awkward_moments
def test_checkout_refuses_a_slot_off_the_grid(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    off_grid = (datetime.fromisoformat(slots[1]) + timedelta(minutes=7)).isoformat()
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, key, off_grid))

    assert response.status_code == 400
    assert "That pickup time is not available" in text(response)
    assert written() == before


@at_awkward_moments
def test_checkout_refuses_a_slot_within_the_lead_time(shop, ready_to_pay):
    browser, key, _ = ready_to_pay
    # Slot starts are on the half hour; the one just started is always before now + lead time.
    now = timezone.now().astimezone(shop.store.tz)
    started = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, key, started.isoformat()))

    assert response.status_code == 400
    assert written() == before


@pytest.mark.parametrize(
    "slot",
    ["tomorrow at ten", "", "2030-01-01T10:00:00", "9" * 39],
    ids=["words", "empty", "naive", "digits"],
)
def test_checkout_refuses_a_garbage_slot(shop, ready_to_pay, slot):
    browser, key, _ = ready_to_pay
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, key, slot))

    assert response.status_code == 400
    assert "Choose a pickup time from the list." in text(response) or (
        "This field is required." in text(response)
    )
    assert written() == before


def test_checkout_refuses_an_unknown_store(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, key, slots[1], store="NOPE-99"))

    assert response.status_code == 400
    assert "We have no store with that code." in text(response)
    assert written() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", None, "This field is required."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("name", "", "This field is required."),
    ],
    ids=["no-email", "bad-email", "no-name"],
)
def test_checkout_refuses_missing_or_bad_details(shop, ready_to_pay, field, value, message):
    browser, key, slots = ready_to_pay
    before = written()

    response = browser.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], **{field: value})
    )

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("payment", "online"), ("payment", None), ("checkout_key", None), ("checkout_key", "k" * 65)],
    ids=["online-payment", "no-payment", "no-key", "long-key"],
)
def test_checkout_refuses_tampered_hidden_fields(shop, ready_to_pay, field, value):
    """Fields the page never lets a shopper get wrong: a plain 400, nothing written."""
    browser, key, slots = ready_to_pay
    before = written()

    response = browser.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], **{field: value})
    )

    assert response.status_code == 400
    assert written() == before


def test_checkout_of_an_empty_cart_is_refused_and_writes_nothing(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    line = CartLine.objects.get()
    browser.post(f"/cart/lines/{line.pk}/", {"quantity": 0})
    assert Cart.objects.count() == 1
    before = written()

    response = browser.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], email="new-guest@example.test")
    )

    assert response.status_code == 400
    assert "Your cart is empty." in text(response)
    assert written() == before


def test_checkout_without_any_cart_goes_back_to_the_cart(shop):
    browser = Client()
    before = written()

    get = browser.get("/checkout/")
    post = browser.post("/checkout/", {"store": shop.store.code})

    assert get.status_code == 302
    assert get["Location"] == "/cart/"
    assert post.status_code == 302
    assert written() == before


def test_checkout_out_of_stock_is_refused_and_writes_nothing(shop):
    browser = Client()
    add_to_cart(browser, shop.mug, 4)  # only 3 at the store
    _, key, slots = checkout_page(browser, shop.store)
    before = written()

    response = browser.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], email="new-guest@example.test")
    )

    assert response.status_code == 409
    assert f"Not enough stock at {shop.store.name} for: Stoneware Mug — Blue (MUG-01)." in text(
        response
    )
    assert written() == before


@at_awkward_moments
def test_double_submit_of_the_checkout_makes_one_order(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    data = checkout_data(shop.store, key, slots[1])

    first = browser.post("/checkout/", data)
    second = browser.post("/checkout/", data)

    order = Order.objects.get()
    assert first.status_code == 302
    assert second.status_code == 302
    assert first["Location"] == second["Location"] == f"/orders/{order.number}/"
    assert stock_of(shop.store, shop.lamp) == (10, 2)
    assert slot_bookings(shop.store) == 1
    assert order.events.count() == 1
    assert Touchpoint.objects.filter(kind="order_placed").count() == 1
    assert browser.session["guest_orders"] == [order.number]


def test_a_new_checkout_key_after_ordering_finds_an_empty_cart(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    browser.post("/checkout/", checkout_data(shop.store, key, slots[1]))
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, "another-key", slots[1]))

    assert response.status_code == 400
    assert written() == before
    assert Order.objects.count() == 1


# --- The remembered store ------------------------------------------------------------------


def test_store_choice_is_remembered_in_cart_and_session_and_shown_selected(shop):
    other = shop.other
    browser = Client()
    add_to_cart(browser, shop.mug, 1)

    response = browser.post("/cart/store/", {"store": other.code, "next": "/p/stoneware-mug/"})

    assert response.status_code == 302
    assert response["Location"] == "/p/stoneware-mug/"
    assert Cart.objects.get().store == other
    assert browser.session["store_id"] == other.pk
    product = text(browser.get("/p/stoneware-mug/"))
    assert (
        f'<li class="store-row chosen">\n      <span class="store-name">{other.name}</span>'
        in product
    )
    assert product.count('<span class="tag">Your store</span>') == 1
    checkout_html = text(browser.get("/checkout/"))
    assert f'<option value="{other.code}" selected>' in checkout_html
    assert f'<input type="hidden" name="store" value="{other.code}">' in checkout_html
    cart_html = text(browser.get("/cart/"))
    assert f'<option value="{other.code}" selected>' in cart_html


def test_store_choice_before_any_cart_is_kept_for_the_new_cart(shop):
    browser = Client()

    browser.post("/cart/store/", {"store": shop.other.code})
    add_to_cart(browser, shop.mug, 1)

    assert browser.session["store_id"] == shop.other.pk
    assert Cart.objects.get().store == shop.other


def test_store_choice_refuses_an_unknown_store(shop):
    browser = Client()
    add_to_cart(browser, shop.mug, 1)
    before = written()

    unknown = browser.post("/cart/store/", {"store": "NOPE-99"})
    missing = browser.post("/cart/store/", {})

    assert unknown.status_code == 400
    assert "We have no store with that code." in text(unknown)
    assert missing.status_code == 400
    assert written() == before
    assert "store_id" not in browser.session


def test_store_choice_never_redirects_to_another_site(shop):
    browser = Client()

    response = browser.post(
        "/cart/store/", {"store": shop.store.code, "next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    assert browser.session["store_id"] == shop.store.pk


# --- Methods -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/p/brass-desk-lamp/", "/cart/", "/account/"])
def test_get_only_pages_refuse_post(shop, shopper, path):
    browser = Client()
    browser.force_login(shopper.user)
    add_to_cart(browser, shop.lamp, 1)
    before = written()

    response = browser.post(path, {"sku": "LAMP-01", "quantity": 1})

    assert response.status_code == 405
    assert written() == before


def test_order_pages_refuse_post(shop, ready_to_pay):
    browser, key, slots = ready_to_pay
    browser.post("/checkout/", checkout_data(shop.store, key, slots[1]))
    number = Order.objects.get().number
    before = written()

    assert browser.post(f"/orders/{number}/").status_code == 405
    assert browser.post(f"/orders/{number}/qr.svg").status_code == 405
    assert written() == before


@pytest.mark.parametrize(
    "path", ["/cart/add/", "/cart/store/", "/account/logout/", "/cart/lines/1/"]
)
def test_post_only_endpoints_refuse_get(shop, path):
    assert Client().get(path).status_code == 405


# --- Accounts ------------------------------------------------------------------------------


def test_sign_up_creates_a_user_and_customer_and_logs_in(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    response = browser.post(
        "/account/signup/",
        {
            "name": "Marta Ruiz",
            "email": "Marta@Example.test",
            "phone": "+34600999888",
            "password": "a-long-enough-passphrase",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/check-your-email/"  # "check your email" first
    user = User.objects.get(email="marta@example.test")
    customer = Customer.objects.get(user=user)
    assert (customer.email, customer.name, customer.phone) == (
        "marta@example.test",
        "Marta Ruiz",
        "+34600999888",
    )
    assert int(browser.session[SESSION_KEY]) == user.pk
    assert Cart.objects.get().customer == customer  # the anonymous cart became theirs
    account = browser.get("/account/")
    assert account.status_code == 200
    assert "Marta Ruiz · marta@example.test" in text(account)


def test_sign_up_with_an_existing_email_is_refused(shop, shopper):
    browser = Client()
    before = written()

    response = browser.post(
        "/account/signup/",
        {"name": "Someone", "email": shopper.email.upper(), "password": "a-long-enough-passphrase"},
    )

    assert response.status_code == 400
    assert "An account with this email already exists. Log in instead." in text(response)
    assert written() == before
    assert SESSION_KEY not in browser.session


def test_sign_up_with_a_weak_password_is_refused(db):
    browser = Client()
    before = written()

    response = browser.post(
        "/account/signup/", {"name": "Weak", "email": "weak@example.test", "password": "12345678"}
    )

    assert response.status_code == 400
    assert "This password is too common." in text(response)
    assert written() == before


def test_logging_in_merges_the_anonymous_cart_into_the_customers_cart(shop, shopper):
    own = CartFactory(customer=shopper)
    CartLineFactory(cart=own, variant=shop.lamp, quantity=2)
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    add_to_cart(browser, shop.mug, 3)

    response = browser.post("/account/login/", {"username": shopper.email, "password": PASSWORD})

    assert response.status_code == 302
    assert int(browser.session[SESSION_KEY]) == shopper.user.pk
    assert list(Cart.objects.values_list("pk", flat=True)) == [own.pk]
    assert sorted(CartLine.objects.filter(cart=own).values_list("variant__sku", "quantity")) == [
        ("LAMP-01", 3),
        ("MUG-01", 3),
    ]
    cart_page = text(browser.get("/cart/"))
    assert 'id="cart-total">€49.50<' in cart_page


def test_wrong_password_is_refused_and_keeps_the_anonymous_cart(shop, shopper):
    browser = Client()
    add_to_cart(browser, shop.mug, 1)
    before = written()

    response = browser.post("/account/login/", {"username": shopper.email, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct email and password." in text(response)
    assert SESSION_KEY not in browser.session
    assert written() == before


def test_logout_is_a_post_and_ends_the_session(shopper):
    browser = Client()
    browser.force_login(shopper.user)

    response = browser.post("/account/logout/")

    assert response.status_code == 302
    assert SESSION_KEY not in browser.session
    assert browser.get("/account/").status_code == 302


# --- Language ------------------------------------------------------------------------------


def test_language_switch_changes_the_page_language(shop):
    browser = Client()
    assert '<html lang="en">' in text(browser.get("/"))

    response = browser.post("/i18n/setlang/", {"language": "es", "next": "/cart/"})

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    assert '<html lang="es">' in text(browser.get("/"))
    assert '<html lang="es">' in text(browser.get("/p/brass-desk-lamp/"))
    browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '<html lang="en">' in text(browser.get("/"))


def test_language_switch_refuses_an_unknown_language(shop):
    browser = Client()

    browser.post("/i18n/setlang/", {"language": "xx", "next": "/"})

    assert '<html lang="en">' in text(browser.get("/"))


def test_catalogue_tolerates_odd_query_strings(shop):
    browser = Client()

    for query in ["?page=abc", "?page=-1", "?page=999", "?q=" + "x" * 5000, "?category=nope"]:
        response = browser.get("/" + query)
        assert response.status_code == 200, query


@pytest.mark.parametrize(
    "path",
    ["/?q=%00", "/?category=%00", "/p/brass-desk-lamp/?sku=%00", "/checkout/?store=%00"],
    ids=["search", "category", "sku", "checkout-store"],
)
def test_nul_bytes_in_the_query_string_are_refused_cleanly(shop, path):
    """PostgreSQL refuses NUL in text: raw query-string values must not reach a query as-is."""
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    before = written()

    response = browser.get(path)

    assert response.status_code in {200, 400, 404}
    assert written() == before


def test_nul_bytes_in_an_order_number_are_refused_cleanly(shop, shopper):
    browser = Client()
    browser.force_login(shopper.user)

    assert browser.get("/orders/CC-%00/").status_code in {400, 404}
    assert browser.get("/orders/CC-%00/qr.svg").status_code in {400, 404}
    assert Client().get("/orders/CC-%00/").status_code in {400, 404}


def test_nul_bytes_in_posted_fields_are_refused_cleanly(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    before = written()

    add = browser.post("/cart/add/", {"sku": "LAMP\x0001", "quantity": 1})
    store = browser.post("/cart/store/", {"store": "S\x00"})
    login = browser.post("/account/login/", {"username": "a\x00@example.test", "password": "x"})

    assert add.status_code == 400
    assert store.status_code == 400
    assert login.status_code in {200, 400}
    assert written() == before


def test_unknown_product_is_not_found(shop):
    assert Client().get("/p/no-such-thing/").status_code == 404
    assert Client().get("/p/brass-desk-lamp/?sku=NOPE").status_code == 200


def test_slot_list_partial_for_another_store(shop, ready_to_pay):
    browser, _, _ = ready_to_pay

    response = browser.get(
        f"/checkout/?store={shop.other.code}",
        headers={"HX-Request": "true", "HX-Target": "slot-list"},
    )

    assert response.status_code == 200
    assert "<html" not in text(response)
    offered = [a["value"] for a in inputs_named(response.content, "slot")]
    assert offered == [s.start.isoformat() for s in pickup_slots(store=shop.other)][: len(offered)]
    assert offered
