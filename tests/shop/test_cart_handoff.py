"""Cart handoff: a short code (and a QR on the web) to continue a cart on another device.

The code is made on one channel and claimed on any other; it works once, for a few minutes,
and a claim merges the lines into the claiming device's cart. Wrong, expired and used codes
get the same 404 and change nothing.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.qr import qr_svg
from customers.models import Touchpoint
from shop.errors import CartError
from shop.models import Cart, CartHandoff, CartLine
from shop.services import claim_handoff, start_handoff
from tests.conftest import NOW
from tests.core.test_security import _inline_problems
from tests.support.factories import CartFactory, CartLineFactory
from tests.support.web_helpers import add_to_cart, tags, text, written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

HANDOFF = "/api/v1/cart/handoff/"
CLAIM = "/api/v1/cart/claim/"
CODE = re.compile(r"^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$")


def state() -> dict:
    """What a request may write, handoffs included."""
    return {
        **written(),
        "handoffs": sorted(CartHandoff.objects.values_list("pk", "cart_id", "claimed_at")),
    }


def lines_of(cart) -> list[tuple[str, int, str]]:
    return sorted(
        CartLine.objects.filter(cart=cart).values_list("variant__sku", "quantity", "channel")
    )


def assert_bad_handoff(response):
    assert response.status_code == 404, response.content
    assert response.json() == {
        "code": "bad_handoff",
        "detail": "This code is wrong or has expired.",
    }


@pytest.fixture
def phone_cart(shop, shopper):
    """The shopper's cart: 2 lamps and 1 mug, pickup at the shop's store."""
    cart = CartFactory(customer=shopper, store=shop.store)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2, channel="mobile")
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1, channel="mobile")
    return cart


# --- The code --------------------------------------------------------------------------------


def test_handoff_gives_an_8_character_code_valid_for_ten_minutes(
    shop, shopper, phone_cart, shopper_api
):
    response = shopper_api.post(HANDOFF)

    assert response.status_code == 201
    body = response.json()
    assert sorted(body) == ["code", "expires_at"]
    assert CODE.match(body["code"])
    handoff = CartHandoff.objects.get()
    assert (handoff.code, handoff.cart, handoff.channel, handoff.claimed_at) == (
        body["code"],
        phone_cart,
        "mobile",
        None,
    )
    assert body["expires_at"] == handoff.expires_at.isoformat().replace("+00:00", "Z")
    assert handoff.expires_at - handoff.created_at == pytest.approx(
        timedelta(minutes=10), abs=timedelta(seconds=1)
    )
    touch = Touchpoint.objects.get(customer=shopper)
    assert (touch.channel, touch.kind) == ("mobile", "cart_handoff_started")


def test_codes_use_the_unambiguous_alphabet_and_differ(phone_cart):
    codes = [start_handoff(cart=phone_cart, channel="web").code for _ in range(30)]

    assert all(CODE.match(code) for code in codes)
    assert len(set(codes)) == 30
    assert not set("".join(codes)) & set("01ILO")


def test_a_code_expires_after_ten_minutes(shop, phone_cart, other_shopper, snapshot):
    handoff = start_handoff(cart=phone_cart, channel="mobile", now=NOW)
    target = CartFactory(customer=other_shopper)
    assert handoff.expires_at == NOW + timedelta(minutes=10)
    before = snapshot()

    with pytest.raises(CartError) as refused:
        claim_handoff(
            code=handoff.code, cart=target, channel="web", now=NOW + timedelta(minutes=10)
        )

    assert (refused.value.code, refused.value.status) == ("bad_handoff", 404)
    assert snapshot() == before
    claim_handoff(code=handoff.code, cart=target, channel="web", now=NOW + timedelta(minutes=9))
    assert lines_of(target) == [("LAMP-01", 2, "web"), ("MUG-01", 1, "web")]


def test_an_empty_cart_has_nothing_to_hand_over(shop, shopper, shopper_api):
    CartFactory(customer=shopper)
    before = state()

    response = shopper_api.post(HANDOFF)

    assert response.status_code == 409
    assert response.json() == {
        "code": "empty_cart",
        "detail": "Your cart is empty: there is nothing to hand over.",
    }
    assert state() == before


def test_no_cart_at_all_has_nothing_to_hand_over_and_none_is_created(shop, shopper_api):
    before = state()

    response = shopper_api.post(HANDOFF)

    assert response.status_code == 409
    assert response.json()["code"] == "empty_cart"
    assert state() == before


# --- Claiming through the API ----------------------------------------------------------------


def test_claim_merges_the_lines_into_the_callers_cart(
    shop, shopper, other_shopper, phone_cart, shopper_api, other_api
):
    mine = CartFactory(customer=other_shopper)
    CartLineFactory(cart=mine, variant=shop.lamp, quantity=19, channel="web")
    code = shopper_api.post(HANDOFF).json()["code"]

    response = other_api.post(CLAIM, {"code": code})

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == mine.pk
    assert body["store"] == shop.store.code  # the caller had none: the handed cart's store
    assert sorted((ln["sku"], ln["quantity"], ln["channel"]) for ln in body["lines"]) == [
        ("LAMP-01", 20, "mobile"),  # 19 + 2, capped at the line limit
        ("MUG-01", 1, "mobile"),
    ]
    assert body["count"] == 21
    assert body["total"] == "254.00"
    assert lines_of(mine) == [("LAMP-01", 20, "mobile"), ("MUG-01", 1, "mobile")]
    # The customer who handed the cart over keeps their (now empty) cart.
    assert Cart.objects.get(pk=phone_cart.pk).customer == shopper
    assert lines_of(phone_cart) == []
    assert CartHandoff.objects.get().claimed_at is not None
    assert list(
        Touchpoint.objects.filter(customer=other_shopper)
        .order_by("pk")
        .values_list("channel", "kind")
    ) == [("mobile", "cart_merged"), ("mobile", "cart_claimed")]
    assert list(
        Touchpoint.objects.filter(customer=shopper).order_by("pk").values_list("channel", "kind")
    ) == [("mobile", "cart_handoff_started"), ("mobile", "cart_handed_off")]


def test_claim_creates_the_callers_cart_when_they_have_none(
    shop, other_shopper, phone_cart, shopper_api, other_api
):
    code = shopper_api.post(HANDOFF).json()["code"]

    response = other_api.post(CLAIM, {"code": code})

    assert response.status_code == 200
    cart = Cart.objects.get(customer=other_shopper)
    assert response.json()["id"] == cart.pk
    assert lines_of(cart) == [("LAMP-01", 2, "mobile"), ("MUG-01", 1, "mobile")]


def test_a_code_works_only_once(shop, phone_cart, shopper_api, other_api, api_as, customer):
    code = shopper_api.post(HANDOFF).json()["code"]
    assert other_api.post(CLAIM, {"code": code}).status_code == 200
    before = state()

    again = other_api.post(CLAIM, {"code": code})
    someone_else = api_as(customer.user).post(CLAIM, {"code": code})

    assert_bad_handoff(again)
    assert_bad_handoff(someone_else)
    assert state() == before


def test_an_expired_code_is_refused_and_changes_nothing(shop, phone_cart, shopper_api, other_api):
    code = shopper_api.post(HANDOFF).json()["code"]
    CartHandoff.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = state()

    response = other_api.post(CLAIM, {"code": code})

    assert_bad_handoff(response)
    assert state() == before


@pytest.mark.parametrize("code", ["ZZZZZZZZ", "ABC", "ABCDEFGHJ", "12345678", 12345678], ids=str)
def test_a_wrong_code_is_refused_and_changes_nothing(shop, phone_cart, other_api, code):
    start_handoff(cart=phone_cart, channel="mobile")
    before = state()

    response = other_api.post(CLAIM, {"code": code})

    assert_bad_handoff(response)
    assert state() == before


def test_a_code_longer_than_the_real_one_is_not_accepted(shop, phone_cart, other_api):
    code = start_handoff(cart=phone_cart, channel="mobile").code
    before = state()

    response = other_api.post(CLAIM, {"code": code + "A"})

    assert_bad_handoff(response)
    assert state() == before


def test_a_code_is_accepted_in_any_case_and_with_a_dash_or_spaces(
    shop, phone_cart, other_shopper, other_api
):
    code = start_handoff(cart=phone_cart, channel="mobile").code

    response = other_api.post(CLAIM, {"code": f" {code[:4].lower()}-{code[4:]} "})

    assert response.status_code == 200
    assert len(response.json()["lines"]) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"code": ""}, "This field may not be blank."),
        ({"code": None}, "This field may not be null."),
        ({"code": "A" * 33}, "Ensure this field has no more than 32 characters."),
        ({"code": ["ABCDEFGH"]}, "Not a valid string."),
    ],
    ids=["missing", "blank", "null", "long", "list"],
)
def test_claim_refuses_invalid_input(shop, phone_cart, other_api, body, message):
    before = state()

    response = other_api.post(CLAIM, body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": message,
        "errors": {"code": [message]},
    }
    assert state() == before


def test_claims_are_rate_limited_per_customer(shop, phone_cart, other_api, shopper_api):
    code = start_handoff(cart=phone_cart, channel="mobile").code
    wrong = [other_api.post(CLAIM, {"code": "ZZZZZZZZ"}) for _ in range(10)]
    before = state()

    limited = other_api.post(CLAIM, {"code": code})

    assert [r.status_code for r in wrong] == [404] * 10
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 60
    assert state() == before
    # Another customer is not held back by it.
    assert shopper_api.post(CLAIM, {"code": code}).status_code == 200


def test_claiming_ones_own_code_keeps_the_cart_and_uses_the_code(shop, phone_cart, shopper_api):
    code = shopper_api.post(HANDOFF).json()["code"]

    response = shopper_api.post(CLAIM, {"code": code})

    assert response.status_code == 200
    assert response.json()["id"] == phone_cart.pk
    assert lines_of(phone_cart) == [("LAMP-01", 2, "mobile"), ("MUG-01", 1, "mobile")]
    assert CartHandoff.objects.get().claimed_at is not None


# --- The web shop ------------------------------------------------------------------------------


@pytest.fixture
def browser(shop):
    """An anonymous browser with 2 lamps in its cart."""
    client = Client()
    add_to_cart(client, shop.lamp, 2)
    return client


def test_cart_page_offers_the_handoff_and_the_code_form(browser):
    html = text(browser.get("/cart/"))

    forms = [t.attrs["action"] for t in tags(html) if t.name == "form"]
    assert "/cart/handoff/" in forms
    assert "/cart/claim/" in forms
    assert "Continue on another device" in html
    assert "Have a code from another device?" in html


def test_an_empty_cart_page_offers_only_the_code_form(shop):
    html = text(Client().get("/cart/"))

    forms = [t.attrs["action"] for t in tags(html) if t.name == "form"]
    assert "/cart/handoff/" not in forms
    assert "/cart/claim/" in forms


def test_web_handoff_shows_code_expiry_and_qr_without_javascript(shop, browser):
    shop.store.timezone = "America/New_York"
    shop.store.save()
    browser.post("/cart/store/", {"store": shop.store.code})

    response = browser.post("/cart/handoff/")

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    handoff = CartHandoff.objects.get()
    assert (handoff.channel, handoff.cart.customer) == ("web", None)
    html = text(browser.get("/cart/"))
    assert f'<p class="code" id="handoff-code">{handoff.code}</p>' in html
    local = timezone.localtime(handoff.expires_at, shop.store.tz)
    # New York is not the shop's zone (Madrid): the zone is named (EST or EDT).
    until = f"{local:%H:%M}\xa0{local.tzname()}"
    assert f"The code works once, until {until}." in html
    images = [t.attrs for t in tags(html) if t.name == "img" and t.attrs.get("class") == "qr"]
    assert [img["src"] for img in images] == [f"/cart/handoff/{handoff.code}/qr.svg"]
    assert _inline_problems("cart with handoff", html.encode()) == []


def test_htmx_handoff_answers_with_the_cart_body(browser):
    response = browser.post("/cart/handoff/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in text(response)
    assert CartHandoff.objects.get().code in text(response)


def test_the_qr_opens_the_cart_page_with_the_code_and_is_not_cached(browser):
    browser.post("/cart/handoff/")
    code = CartHandoff.objects.get().code

    response = browser.get(f"/cart/handoff/{code}/qr.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == qr_svg(f"http://testserver/cart/?code={code}")


def test_the_cart_page_opened_from_the_qr_has_the_code_ready(shop):
    html = text(Client().get("/cart/?code=ABCD2345"))

    (field,) = [t.attrs for t in tags(html) if t.name == "input" and t.attrs.get("name") == "code"]
    assert field["value"] == "ABCD2345"


def test_the_qr_is_only_for_the_requesters_own_live_handoff(shop, browser, shopper, phone_cart):
    browser.post("/cart/handoff/")
    own = CartHandoff.objects.get()
    theirs = start_handoff(cart=phone_cart, channel="mobile")
    logged_in = Client()
    logged_in.force_login(shopper.user)
    stranger = Client()

    assert logged_in.get(f"/cart/handoff/{theirs.code}/qr.svg").status_code == 200
    assert browser.get(f"/cart/handoff/{theirs.code}/qr.svg").status_code == 404
    assert logged_in.get(f"/cart/handoff/{own.code}/qr.svg").status_code == 404
    assert stranger.get(f"/cart/handoff/{own.code}/qr.svg").status_code == 404
    assert browser.get("/cart/handoff/ZZZZZZZZ/qr.svg").status_code == 404
    CartHandoff.objects.filter(pk=own.pk).update(expires_at=timezone.now())
    assert browser.get(f"/cart/handoff/{own.code}/qr.svg").status_code == 404


def test_a_claimed_handoff_is_no_longer_shown_nor_its_qr(shop, shopper, phone_cart):
    logged_in = Client()
    logged_in.force_login(shopper.user)
    logged_in.post("/cart/handoff/")
    code = CartHandoff.objects.get().code
    Client().post("/cart/claim/", {"code": code})  # another browser claims it

    html = text(logged_in.get("/cart/"))

    assert code not in html
    assert logged_in.get(f"/cart/handoff/{code}/qr.svg").status_code == 404


def test_web_handoff_of_an_empty_cart_is_refused(shop):
    before = state()

    response = Client().post("/cart/handoff/")

    assert response.status_code == 409
    assert "Your cart is empty: there is nothing to hand over." in text(response)
    assert state() == before


# --- Across channels ---------------------------------------------------------------------------


def test_a_code_made_on_the_api_is_claimed_on_the_web(shop, phone_cart, other_shopper, shopper_api):
    code = shopper_api.post(HANDOFF).json()["code"]
    browser = Client()
    browser.force_login(other_shopper.user)

    response = browser.post("/cart/claim/", {"code": code.lower()})

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    cart = Cart.objects.get(customer=other_shopper)
    assert lines_of(cart) == [("LAMP-01", 2, "web"), ("MUG-01", 1, "web")]
    page = text(browser.get("/cart/"))
    assert (
        "3 items moved from your other device: Brass Desk Lamp — Brass × 2, "
        "Stoneware Mug — Blue × 1."
    ) in page
    assert 'id="cart-total">€29.00<' in page
    assert list(
        Touchpoint.objects.filter(customer=other_shopper)
        .order_by("pk")
        .values_list("channel", "kind")
    ) == [("web", "cart_merged"), ("web", "cart_claimed")]


def test_a_code_made_on_the_web_is_claimed_on_the_api(shop, browser, other_shopper, other_api):
    browser.post("/cart/handoff/")
    handoff = CartHandoff.objects.get()
    anonymous_cart = handoff.cart

    response = other_api.post(CLAIM, {"code": handoff.code})

    assert response.status_code == 200
    assert [(ln["sku"], ln["quantity"], ln["channel"]) for ln in response.json()["lines"]] == [
        ("LAMP-01", 2, "mobile")
    ]
    # The browser's anonymous cart has moved to the customer: it is empty, its code used, and
    # the browser says where its items went.
    assert lines_of(anonymous_cart) == []
    assert CartHandoff.objects.get().claimed_at is not None
    page = text(browser.get("/cart/"))
    assert page.count("Your cart is empty.") == 1
    assert "Your cart was moved to another device." in page


def test_an_anonymous_browser_can_claim_into_a_new_cart(shop, phone_cart, shopper_api):
    code = shopper_api.post(HANDOFF).json()["code"]
    browser = Client()

    response = browser.post("/cart/claim/", {"code": code})

    assert response.status_code == 302
    cart = Cart.objects.get(customer=None)
    assert lines_of(cart) == [("LAMP-01", 2, "web"), ("MUG-01", 1, "web")]
    assert browser.session["cart_token"] == str(cart.token)


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "customer"])
def test_a_wrong_code_on_the_web_changes_nothing_and_creates_no_cart(
    shop, phone_cart, other_shopper, logged_in
):
    start_handoff(cart=phone_cart, channel="mobile")
    browser = Client()
    if logged_in:
        browser.force_login(other_shopper.user)  # a customer without a cart yet
    before = state()

    response = browser.post("/cart/claim/", {"code": "ZZZZZZZZ"})

    assert response.status_code == 404
    assert "This code is wrong or has expired." in text(response)
    assert state() == before
    assert "cart_token" not in browser.session


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"code": "A" * 33}, "Ensure this value has at most 32 characters (it has 33)."),
    ],
    ids=["missing", "long"],
)
def test_web_claim_refuses_invalid_input(shop, data, message):
    before = state()

    response = Client().post("/cart/claim/", data)

    assert response.status_code == 400
    assert claim_error(response) == message
    assert claim_input(response).get("value", "") == data.get("code", "")
    assert state() == before


def test_web_claims_are_rate_limited(shop, phone_cart):
    code = start_handoff(cart=phone_cart, channel="mobile").code
    browser = Client()
    wrong = [browser.post("/cart/claim/", {"code": "ZZZZZZZZ"}) for _ in range(10)]
    before = state()

    limited = browser.post("/cart/claim/", {"code": code})

    assert [r.status_code for r in wrong] == [404] * 10
    assert limited.status_code == 429
    assert claim_error(limited) == "Too many attempts. Wait a minute and try again."
    assert claim_input(limited)["value"] == code
    assert state() == before


# --- Saying what moved, and errors beside the code -----------------------------------------


def claim_input(response) -> dict:
    (field,) = [
        t.attrs
        for t in tags(response.content)
        if t.name == "input" and t.attrs.get("name") == "code"
    ]
    return field


def claim_error(response) -> str:
    """The error shown beside the code field of the claim form (which is still on the page)."""
    html = text(response)
    form = re.search(r'<form[^>]*action="/cart/claim/"[^>]*>(.*?)</form>', html, re.S)
    assert form, "no claim form on the page"
    error = re.search(r'<span class="field-error" id="claim-error"[^>]*>(.*?)</span>', form[1])
    assert error, "no error beside the code field"
    field = claim_input(response)
    assert (field["aria-invalid"], field["aria-describedby"]) == ("true", "claim-error")
    return error[1]


@pytest.fixture
def receiving(shop, other_shopper):
    """The other device: a logged-in browser whose cart already holds 1 lamp."""
    cart = CartFactory(customer=other_shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=1, channel="web")
    client = Client()
    client.force_login(other_shopper.user)
    return client


MOVED = (
    "3 items moved from your other device: Brass Desk Lamp — Brass × 2 (now 3 in this cart), "
    "Stoneware Mug — Blue × 1."
)


def test_a_web_claim_says_what_moved_and_the_merged_quantities(shop, phone_cart, receiving):
    code = start_handoff(cart=phone_cart, channel="mobile").code

    response = receiving.post("/cart/claim/", {"code": code})

    assert response.status_code == 302
    page = text(receiving.get("/cart/"))
    assert f'<p class="message success">{MOVED}</p>' in page
    assert MOVED not in text(receiving.get("/cart/"))  # said once


def test_an_htmx_claim_answers_with_the_cart_and_what_moved(shop, phone_cart, receiving):
    code = start_handoff(cart=phone_cart, channel="mobile").code

    response = receiving.post("/cart/claim/", {"code": code}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page
    assert f'<p class="message success" role="status">{MOVED}</p>' in page
    assert 'id="cart-total">€41.50<' in page
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">4</span>' in page
    assert claim_input(response).get("value", "") == ""  # ready for another code


def test_a_single_moved_item_is_told_in_the_singular(shop, shopper, other_shopper):
    cart = CartFactory(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1)
    code = start_handoff(cart=cart, channel="web").code
    browser = Client()

    browser.post("/cart/claim/", {"code": code})

    assert "1 item moved from your other device: Stoneware Mug — Blue × 1." in text(
        browser.get("/cart/")
    )


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "customer"])
def test_the_source_device_is_told_its_cart_moved(shop, shopper, other_shopper, logged_in):
    source = Client()
    if logged_in:
        source.force_login(shopper.user)
    add_to_cart(source, shop.lamp, 2)
    source.post("/cart/handoff/")
    code = CartHandoff.objects.get().code
    assert "moved to another device" not in text(source.get("/"))  # not claimed yet
    other = Client()
    other.force_login(other_shopper.user)
    other.post("/cart/claim/", {"code": code})

    first = text(source.get("/"))
    page = text(source.get("/cart/"))

    assert '<p class="message info">Your cart was moved to another device.</p>' in first
    assert "moved to another device" not in page  # said once
    assert "Your cart is empty." in page


def test_an_expired_unclaimed_code_says_nothing_on_the_source_device(shop, browser):
    browser.post("/cart/handoff/")
    CartHandoff.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    page = text(browser.get("/cart/"))

    assert "moved to another device" not in page
    assert "cart_handoff" not in browser.session
    assert 'id="cart-total">€25.00<' in page


@pytest.mark.parametrize("problem", ["wrong", "expired", "used"])
def test_a_bad_code_is_shown_beside_the_field_with_the_value_kept(
    shop, phone_cart, other_shopper, problem
):
    handoff = start_handoff(cart=phone_cart, channel="mobile")
    typed = {"wrong": "ZZZZ-ZZZZ", "expired": handoff.code, "used": handoff.code}[problem]
    if problem == "expired":
        CartHandoff.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    if problem == "used":
        claim_handoff(code=handoff.code, cart=CartFactory(), channel="web")
    browser = Client()
    browser.force_login(other_shopper.user)
    before = state()

    response = browser.post("/cart/claim/", {"code": typed})

    assert response.status_code == 404
    assert claim_error(response) == "This code is wrong or has expired."
    assert claim_input(response)["value"] == typed
    assert "<h1>Your cart</h1>" in text(response)  # the cart page, not a dead end
    assert state() == before


def test_an_htmx_bad_code_is_shown_beside_the_field(shop, browser):
    before = state()

    response = browser.post("/cart/claim/", {"code": "zzzzzzzz"}, headers={"HX-Request": "true"})

    assert response.status_code == 404
    assert "HX-Retarget" not in response
    assert "<html" not in text(response)
    assert claim_error(response) == "This code is wrong or has expired."
    assert claim_input(response)["value"] == "zzzzzzzz"
    assert 'id="cart-total">€25.00<' in text(response)  # the cart is still there
    assert state() == before


def test_the_claim_form_is_htmx_enhanced(shop):
    html = text(Client().get("/cart/"))

    (form,) = [
        t.attrs for t in tags(html) if t.name == "form" and t.attrs.get("action") == "/cart/claim/"
    ]
    assert (form["method"], form["hx-post"], form["hx-target"]) == (
        "post",
        "/cart/claim/",
        "#cart-body",
    )
