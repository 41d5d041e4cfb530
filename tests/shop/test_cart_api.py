"""The cart API (DESIGN §8): the customer's one cart, changed from the phone.

Contract tests for every endpoint (status codes and fields), bad input answered with
``{"code", "detail"}`` and nothing written, another customer's lines out of reach, the channel
``mobile`` on every change, and the same figures as the web cart page.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Touchpoint
from shop.models import Cart, CartLine
from stores.models import StockLevel
from tests.support.factories import CartFactory, CartLineFactory, StoreFactory, VariantFactory
from tests.support.web_helpers import add_to_cart, tags, text, written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

CART = "/api/v1/cart/"
LINES = "/api/v1/cart/lines/"
STORE = "/api/v1/cart/store/"


def line_url(line_id) -> str:
    return f"/api/v1/cart/lines/{line_id}/"


def only_line(cart) -> CartLine:
    (line,) = CartLine.objects.filter(cart=cart)
    return line


def assert_error(response, status: int, code: str, detail: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    if detail is not None:
        assert body["detail"] == detail
    return body


def lamp_line(line_id, quantity=2, channel="mobile", available=None) -> dict:
    return {
        "id": line_id,
        "sku": "LAMP-01",
        "name": "Brass Desk Lamp",
        "title": "Brass",
        "quantity": quantity,
        "unit_price": "12.50",
        "line_total": f"{12.5 * quantity:.2f}",
        "currency": "EUR",
        "channel": channel,
        "available_at_store": available,
    }


# --- GET /api/v1/cart/ -----------------------------------------------------------------------


def test_cart_before_any_change_is_empty_and_nothing_is_created(shop, shopper_api):
    before = written()

    response = shopper_api.get(CART)

    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "store": None,
        "lines": [],
        "total": "0.00",
        "currency": "EUR",
        "count": 0,
    }
    assert written() == before


def test_cart_shows_the_customers_one_cart_with_store_and_availability(shop, shopper, shopper_api):
    cart = CartFactory(customer=shopper, store=shop.store)
    lamp = CartLineFactory(cart=cart, variant=shop.lamp, quantity=2, channel="web")
    mug = CartLineFactory(cart=cart, variant=shop.mug, quantity=5, channel="store")

    response = shopper_api.get(CART)

    assert response.status_code == 200
    assert response.json() == {
        "id": cart.pk,
        "store": shop.store.code,
        "lines": [
            lamp_line(lamp.pk, 2, channel="web", available=10),
            {
                "id": mug.pk,
                "sku": "MUG-01",
                "name": "Stoneware Mug",
                "title": "Blue",
                "quantity": 5,
                "unit_price": "4.00",
                "line_total": "20.00",
                "currency": "EUR",
                "channel": "store",
                "available_at_store": 3,
            },
        ],
        "total": "45.00",
        "currency": "EUR",
        "count": 7,
    }


def test_availability_is_zero_for_an_item_the_store_does_not_stock(shop, shopper, shopper_api):
    unstocked = VariantFactory()
    cart = CartFactory(customer=shopper, store=shop.other)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=1)
    CartLineFactory(cart=cart, variant=unstocked, quantity=1)

    response = shopper_api.get(CART)

    assert [line["available_at_store"] for line in response.json()["lines"]] == [0, 0]


def test_a_customer_sees_only_their_own_cart(shop, shopper, other_shopper, other_api):
    cart = CartFactory(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2)

    response = other_api.get(CART)

    assert response.status_code == 200
    assert response.json()["id"] is None
    assert response.json()["lines"] == []


def test_cart_query_count_does_not_grow_with_lines(shop, shopper, shopper_api):
    cart = CartFactory(customer=shopper, store=shop.store)

    def grow(n):
        for _ in range(n):
            variant = VariantFactory()
            StockLevel.objects.create(store=shop.store, variant=variant, on_hand=5)
            CartLineFactory(cart=cart, variant=variant, quantity=1)

    def measure():
        shopper_api.get(CART)  # warm up: a token's first use may refresh its expiry
        with CaptureQueriesContext(connection) as queries:
            response = shopper_api.get(CART)
        assert response.status_code == 200
        return len(queries.captured_queries), response.json()

    grow(3)
    few, small = measure()
    grow(27)
    many, large = measure()

    assert len(small["lines"]) == 3
    assert len(large["lines"]) == 30
    assert all(line["available_at_store"] == 5 for line in large["lines"])
    assert few == many
    # the token with its user and customer, cart with its store, lines with their items, stock
    # at the store
    assert many == 4


# --- POST /api/v1/cart/lines/ ----------------------------------------------------------------


def test_adding_a_line_creates_the_cart_and_answers_201_with_it(shop, shopper, shopper_api):
    response = shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 2})

    assert response.status_code == 201
    cart = Cart.objects.get(customer=shopper)
    line = only_line(cart)
    assert response.json() == {
        "id": cart.pk,
        "store": None,
        "lines": [lamp_line(line.pk, 2)],
        "total": "25.00",
        "currency": "EUR",
        "count": 2,
    }


def test_a_change_from_the_api_records_channel_mobile_on_line_and_touchpoint(
    shop, shopper, shopper_api
):
    shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 2})

    line = only_line(Cart.objects.get(customer=shopper))
    assert line.channel == "mobile"
    assert list(Touchpoint.objects.filter(customer=shopper).values_list("channel", "kind")) == [
        ("mobile", "cart_changed")
    ]
    assert Touchpoint.objects.get(customer=shopper).payload == {
        "sku": "LAMP-01",
        "quantity": 2,
        "action": "add",
    }


def test_adding_the_same_item_again_adds_up_on_the_same_line(shop, shopper, shopper_api):
    first = shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 2})
    second = shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 3})

    assert first.status_code == second.status_code == 201
    assert second.json()["lines"] == [lamp_line(first.json()["lines"][0]["id"], 5)]
    assert second.json()["count"] == 5


def test_adding_to_a_cart_started_on_the_web_uses_the_same_cart(shop, shopper, shopper_api):
    browser = Client()
    browser.force_login(shopper.user)
    add_to_cart(browser, shop.mug, 1)

    response = shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 1})

    cart = Cart.objects.get(customer=shopper)
    assert response.json()["id"] == cart.pk
    assert [(ln["sku"], ln["channel"]) for ln in response.json()["lines"]] == [
        ("MUG-01", "web"),
        ("LAMP-01", "mobile"),
    ]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"sku": "LAMP-01", "quantity": 0}, "quantity", "greater than or equal to 1."),
        ({"sku": "LAMP-01", "quantity": -1}, "quantity", "greater than or equal to 1."),
        ({"sku": "LAMP-01", "quantity": "3"}, "quantity", "A valid integer is required."),
        ({"sku": "LAMP-01", "quantity": 2.5}, "quantity", "A valid integer is required."),
        ({"sku": "LAMP-01", "quantity": True}, "quantity", "A valid integer is required."),
        ({"sku": "LAMP-01", "quantity": None}, "quantity", "This field may not be null."),
        ({"sku": "LAMP-01", "quantity": 10**9}, "quantity", "less than or equal to 20."),
        ({"sku": "LAMP-01"}, "quantity", "This field is required."),
        ({"quantity": 1}, "sku", "This field is required."),
        ({"sku": "", "quantity": 1}, "sku", "This field may not be blank."),
        ({"sku": "X" * 41, "quantity": 1}, "sku", "no more than 40 characters."),
        ({"sku": "LAMP\x00", "quantity": 1}, "sku", "Null characters are not allowed."),
    ],
    ids=[
        "zero",
        "negative",
        "string",
        "fraction",
        "boolean",
        "null",
        "huge",
        "no-quantity",
        "no-sku",
        "blank-sku",
        "long-sku",
        "nul-sku",
    ],
)
def test_adding_refuses_invalid_input_and_writes_nothing(shop, shopper_api, body, field, message):
    before = written()

    response = shopper_api.post(LINES, body)

    error = assert_error(response, 400, "invalid")
    assert list(error["errors"]) == [field]
    assert error["errors"][field][0].endswith(message)
    assert error["detail"] == error["errors"][field][0]
    assert written() == before


def test_adding_an_unknown_sku_is_refused_and_leaves_no_empty_cart(shop, shopper_api):
    before = written()

    response = shopper_api.post(LINES, {"sku": "NOPE-404", "quantity": 1})

    assert_error(response, 400, "unknown_sku", "We do not sell an item with code NOPE-404.")
    assert written() == before


def test_adding_beyond_the_line_limit_is_refused_and_keeps_the_quantity(shop, shopper_api):
    shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 15})
    before = written()

    response = shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 6})

    assert_error(response, 400, "bad_quantity", "Quantity must be between 1 and 20.")
    assert written() == before


@pytest.mark.parametrize(
    "body", ['{"sku": "LAMP-01", "quantity": ', "[1, 2", "\x00"], ids=["cut", "bracket", "nul"]
)
def test_malformed_json_is_a_parse_error(shop, shopper_api, body):
    before = written()

    response = shopper_api.post(LINES, body)

    assert_error(response, 400, "parse_error")
    assert written() == before


def test_a_json_body_that_is_not_an_object_is_invalid(shop, shopper_api):
    response = shopper_api.post(LINES, [{"sku": "LAMP-01", "quantity": 1}])

    error = assert_error(response, 400, "invalid")
    assert list(error["errors"]) == ["non_field_errors"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", LINES), ("patch", line_url(1)), ("put", STORE), ("post", "/api/v1/cart/claim/")],
)
def test_a_body_that_is_not_json_is_refused_with_415(shop, shopper_api, method, path):
    before = written()

    response = getattr(shopper_api, method)(
        path, "sku=LAMP-01&quantity=1", content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 415, "unsupported_media_type")
    assert written() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", CART),
        ("delete", CART),
        ("get", LINES),
        ("put", LINES),
        ("get", line_url(1)),
        ("put", line_url(1)),
        ("get", STORE),
        ("patch", STORE),
        ("get", "/api/v1/cart/handoff/"),
        ("get", "/api/v1/cart/claim/"),
    ],
)
def test_a_wrong_method_is_refused_with_405(shop, shopper_api, method, path):
    before = written()

    response = getattr(shopper_api, method)(path)

    assert_error(response, 405, "method_not_allowed")
    assert written() == before


# --- Authentication --------------------------------------------------------------------------

ENDPOINTS = [
    ("get", CART, None),
    ("post", LINES, {"sku": "LAMP-01", "quantity": 1}),
    ("patch", line_url(1), {"quantity": 1}),
    ("delete", line_url(1), None),
    ("put", STORE, {"store": "S-01"}),
    ("post", "/api/v1/cart/handoff/", None),
    ("post", "/api/v1/cart/claim/", {"code": "ABCDEFGH"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_cart_endpoint_needs_a_token(shop, anonymous_api, method, path, body):
    before = written()

    call = getattr(anonymous_api, method)
    response = call(path, body) if body is not None else call(path)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert written() == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_a_wrong_or_logged_out_token_is_refused(shop, shopper, api_as, method, path, body):
    api = api_as(shopper.user)
    api.post("/api/v1/auth/logout/")
    wrong = api_as(None)
    wrong.headers["HTTP_AUTHORIZATION"] = "Token " + "0" * 64
    before = written()

    for client in (api, wrong):
        call = getattr(client, method)
        response = call(path, body) if body is not None else call(path)
        assert_error(response, 401, "authentication_failed")
    assert written() == before


# --- PATCH and DELETE /api/v1/cart/lines/{id}/ -------------------------------------------------


@pytest.fixture
def phone_cart(shop, shopper, shopper_api):
    """The shopper's cart with 2 lamps and 1 mug, both lines made on the web."""
    cart = CartFactory(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2, channel="web")
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1, channel="web")
    return cart


def test_patch_changes_the_quantity_and_answers_with_the_cart(
    shop, shopper, phone_cart, shopper_api
):
    lamp = phone_cart.lines.get(variant=shop.lamp)

    response = shopper_api.patch(line_url(lamp.pk), {"quantity": 4})

    assert response.status_code == 200
    body = response.json()
    assert body["lines"][0] == lamp_line(lamp.pk, 4)
    assert body["total"] == "54.00"
    assert body["count"] == 5
    lamp.refresh_from_db()
    assert (lamp.quantity, lamp.channel) == (4, "mobile")
    touch = Touchpoint.objects.get(customer=shopper)
    assert (touch.channel, touch.kind, touch.payload) == (
        "mobile",
        "cart_changed",
        {"sku": "LAMP-01", "quantity": 4, "action": "set"},
    )


def test_patch_to_zero_removes_the_line(shop, shopper, phone_cart, shopper_api):
    lamp = phone_cart.lines.get(variant=shop.lamp)

    response = shopper_api.patch(line_url(lamp.pk), {"quantity": 0})

    assert response.status_code == 200
    assert [line["sku"] for line in response.json()["lines"]] == ["MUG-01"]
    assert not CartLine.objects.filter(pk=lamp.pk).exists()
    assert Touchpoint.objects.get(customer=shopper).payload == {
        "sku": "LAMP-01",
        "quantity": 0,
        "action": "remove",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"quantity": -1}, "Ensure this value is greater than or equal to 0."),
        ({"quantity": 21}, "Ensure this value is less than or equal to 20."),
        ({"quantity": 10**9}, "Ensure this value is less than or equal to 20."),
        ({"quantity": "3"}, "A valid integer is required."),
        ({"quantity": None}, "This field may not be null."),
        ({}, "This field is required."),
    ],
    ids=["negative", "over-limit", "huge", "string", "null", "missing"],
)
def test_patch_refuses_invalid_quantities_and_writes_nothing(
    shop, phone_cart, shopper_api, body, message
):
    lamp = phone_cart.lines.get(variant=shop.lamp)
    before = written()

    response = shopper_api.patch(line_url(lamp.pk), body)

    error = assert_error(response, 400, "invalid", message)
    assert error["errors"] == {"quantity": [message]}
    assert written() == before


def test_delete_removes_the_line_and_answers_with_the_cart(shop, shopper, phone_cart, shopper_api):
    mug = phone_cart.lines.get(variant=shop.mug)

    response = shopper_api.delete(line_url(mug.pk))

    assert response.status_code == 200
    lamp = phone_cart.lines.get(variant=shop.lamp)
    assert response.json() == {
        "id": phone_cart.pk,
        "store": None,
        "lines": [lamp_line(lamp.pk, 2, channel="web")],
        "total": "25.00",
        "currency": "EUR",
        "count": 2,
    }
    touch = Touchpoint.objects.get(customer=shopper)
    assert (touch.channel, touch.kind, touch.payload) == (
        "mobile",
        "cart_changed",
        {"sku": "MUG-01", "quantity": 0, "action": "remove"},
    )


def test_another_customers_line_is_not_found_and_untouched(shop, phone_cart, other_api):
    lamp = phone_cart.lines.get(variant=shop.lamp)
    before = written()

    patched = other_api.patch(line_url(lamp.pk), {"quantity": 5})
    deleted = other_api.delete(line_url(lamp.pk))

    for response in (patched, deleted):
        assert_error(response, 404, "unknown_line", "That item is not in your cart.")
    assert written() == before  # not even an empty cart for the caller


def test_another_customers_line_is_not_found_from_a_cart_of_ones_own(
    shop, phone_cart, other_shopper, other_api
):
    CartLineFactory(cart=CartFactory(customer=other_shopper), variant=shop.mug, quantity=1)
    lamp = phone_cart.lines.get(variant=shop.lamp)
    before = written()

    patched = other_api.patch(line_url(lamp.pk), {"quantity": 5})
    deleted = other_api.delete(line_url(lamp.pk))

    for response in (patched, deleted):
        assert_error(response, 404, "unknown_line")
    assert written() == before


@pytest.mark.parametrize("line_id", [0, 999999, 2**63, 10**30])
def test_a_line_id_that_does_not_exist_is_not_found(shop, phone_cart, shopper_api, line_id):
    before = written()

    patched = shopper_api.patch(line_url(line_id), {"quantity": 1})
    deleted = shopper_api.delete(line_url(line_id))

    for response in (patched, deleted):
        assert_error(response, 404, "unknown_line")
    assert written() == before


def test_a_line_path_that_is_not_a_number_is_a_json_404(shop, shopper_api):
    response = shopper_api.patch("/api/v1/cart/lines/abc/", {"quantity": 1})

    assert_error(response, 404, "not_found")


# --- PUT /api/v1/cart/store/ -----------------------------------------------------------------


def test_choosing_a_store_answers_with_the_cart_and_its_availability(
    shop, shopper, phone_cart, shopper_api
):
    response = shopper_api.put(STORE, {"store": shop.other.code})

    assert response.status_code == 200
    body = response.json()
    assert body["store"] == shop.other.code
    assert [(ln["sku"], ln["available_at_store"]) for ln in body["lines"]] == [
        ("LAMP-01", 0),
        ("MUG-01", 5),
    ]
    phone_cart.refresh_from_db()
    assert phone_cart.store == shop.other
    touch = Touchpoint.objects.get(customer=shopper)
    assert (touch.channel, touch.kind, touch.payload) == (
        "mobile",
        "store_chosen",
        {"store_id": shop.other.pk},
    )


def test_choosing_a_store_before_any_item_creates_the_cart(shop, shopper, shopper_api):
    response = shopper_api.put(STORE, {"store": shop.store.code})

    assert response.status_code == 200
    cart = Cart.objects.get(customer=shopper)
    assert response.json() == {
        "id": cart.pk,
        "store": shop.store.code,
        "lines": [],
        "total": "0.00",
        "currency": "EUR",
        "count": 0,
    }


@pytest.mark.parametrize("code", ["NOPE-1", "closed"], ids=["unknown", "inactive"])
def test_choosing_an_unknown_or_inactive_store_is_refused(shop, phone_cart, shopper_api, code):
    StoreFactory(code="closed", is_active=False)
    before = written()

    response = shopper_api.put(STORE, {"store": code})

    assert_error(response, 400, "unknown_store", "We have no store with that code.")
    assert written() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"store": ""}, "This field may not be blank."),
        ({"store": None}, "This field may not be null."),
        ({"store": "S" * 17}, "Ensure this field has no more than 16 characters."),
    ],
    ids=["missing", "blank", "null", "long"],
)
def test_choosing_a_store_refuses_invalid_input(shop, shopper_api, body, message):
    before = written()

    response = shopper_api.put(STORE, body)

    error = assert_error(response, 400, "invalid", message)
    assert error["errors"] == {"store": [message]}
    assert written() == before


# --- Same truth as the web -------------------------------------------------------------------


def test_api_and_web_cart_page_show_the_same_prices_and_availability(shop, shopper, shopper_api):
    shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 2})
    shopper_api.post(LINES, {"sku": "MUG-01", "quantity": 5})
    api_cart = shopper_api.put(STORE, {"store": shop.store.code}).json()
    browser = Client()
    browser.force_login(shopper.user)

    page = browser.get("/cart/")

    html = text(page)
    assert page.status_code == 200
    # The API's decimal strings in EUR; the page in the English format.
    assert {line["currency"] for line in api_cart["lines"]} == {api_cart["currency"]} == {"EUR"}
    for line in api_cart["lines"]:
        assert f'<td class="num">€{line["line_total"]}</td>' in html
        assert f"<small>€{line['unit_price']}</small>" in html
        assert f'value="{line["quantity"]}"' in html
    assert f'id="cart-total">€{api_cart["total"]}<' in html
    # The mug: 5 wanted, 3 at the store, on both.
    assert [ln["available_at_store"] for ln in api_cart["lines"]] == [10, 3]
    assert "Only 3 available at your store" in html
    assert html.count('class="stock out"') == 1
    selected = [
        t.attrs["value"] for t in tags(html) if t.name == "option" and "selected" in t.attrs
    ]
    assert selected == [api_cart["store"]]
    assert api_cart["total"] == "45.00"


def test_a_change_on_the_web_shows_in_the_api_with_channel_web(shop, shopper, shopper_api):
    shopper_api.post(LINES, {"sku": "LAMP-01", "quantity": 2})
    line_id = CartLine.objects.get().pk
    browser = Client()
    browser.force_login(shopper.user)

    browser.post(f"/cart/lines/{line_id}/", {"quantity": 3})

    assert shopper_api.get(CART).json()["lines"] == [lamp_line(line_id, 3, channel="web")]
    assert list(
        Touchpoint.objects.filter(customer=shopper).order_by("pk").values_list("channel", "kind")
    ) == [("mobile", "cart_changed"), ("web", "cart_changed")]


# --- The schema documents what the endpoints answer ------------------------------------------


def test_the_schema_documents_every_cart_operation_and_its_status_codes(db, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    documented = {
        (path, method): sorted(operation["responses"])
        for path, operations in paths.items()
        if path.startswith("/api/v1/cart/")
        for method, operation in operations.items()
        if method != "parameters"
    }
    # 400, 413 and 414 are on every operation: a request with NUL characters, a body over the
    # size limit or a URL over the length limit is refused before any view.
    assert documented == {
        ("/api/v1/cart/", "get"): ["200", "400", "401", "413", "414"],
        ("/api/v1/cart/lines/", "post"): ["201", "400", "401", "409", "413", "414", "415"],
        ("/api/v1/cart/lines/{line_id}/", "patch"): [
            "200",
            "400",
            "401",
            "404",
            "413",
            "414",
            "415",
        ],
        ("/api/v1/cart/lines/{line_id}/", "delete"): ["200", "400", "401", "404", "413", "414"],
        ("/api/v1/cart/store/", "put"): ["200", "400", "401", "413", "414", "415"],
        ("/api/v1/cart/handoff/", "post"): ["201", "400", "401", "409", "413", "414"],
        ("/api/v1/cart/claim/", "post"): ["200", "400", "401", "404", "413", "414", "415", "429"],
    }
    schemas = response.json()["components"]["schemas"]
    assert schemas["LineQuantityRequest"]["required"] == ["quantity"]
    assert schemas["AddLineRequest"]["required"] == ["quantity", "sku"]
    assert sorted(schemas["Cart"]["required"]) == [
        "count",
        "currency",
        "id",
        "lines",
        "store",
        "total",
    ]
    assert sorted(schemas["CartLine"]["properties"]) == [
        "available_at_store",
        "channel",
        "currency",
        "id",
        "line_total",
        "name",
        "quantity",
        "sku",
        "title",
        "unit_price",
    ]
