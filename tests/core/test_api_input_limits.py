"""Input the API refuses before it costs anything, in its JSON error shape and writing nothing.

- JSON nested deeper than ``core.parsers.JSON_MAX_DEPTH`` is a 400 ``parse_error`` (Python's
  parser would recurse until ``RecursionError``: a 500).
- A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 ``request_too_large``, authenticated or
  not, on every API path; a web form that big gets the shop's 413 page.
- A URL over ``core.api.MAX_URL_LENGTH`` characters is a 414 ``url_too_long``. Much longer
  request lines never reach the app: the server refuses them with its own 414 page (gunicorn
  over 4,094 bytes, Django's development server over 65,536).

Through Django's test client, a real HTTP server on loopback (``live``) and the ASGI handler
fed a body in chunks without a Content-Length (as a chunked upload arrives).
"""

import http.client
import json
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.asgi import get_asgi_application

from core.api import MAX_URL_LENGTH
from core.parsers import JSON_MAX_DEPTH
from shop.models import CartLine
from tests.support.api_client import Api
from tests.support.api_helpers import CHECKOUT
from tests.support.factories import PASSWORD
from tests.support.web_helpers import written

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.browser_fixtures",
]

TOKEN = "/api/v1/auth/token/"
LINES = "/api/v1/cart/lines/"
ENDPOINTS = [TOKEN, CHECKOUT, LINES]
THREE_MB = 3 * 1024 * 1024


def nested(depth: int, shape: str) -> str:
    """A JSON value ``depth`` levels deep: ``[[[…]]]`` or ``{"a": {"a": …}}``."""
    if shape == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def three_mb_json() -> str:
    return json.dumps({"email": "a" * THREE_MB, "password": "x"})


def json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def valid_bodies(shopper, checkout_body):
    """A normal request body per endpoint."""
    return {
        TOKEN: {"email": shopper.email, "password": PASSWORD},
        CHECKOUT: checkout_body,
        LINES: {"sku": "LAMP-01", "quantity": 1},
    }


# --- Nesting depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["list", "object"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_json_nested_a_thousand_deep_is_a_400_parse_error(path, shape, customer_api, shop):
    before = written()

    response = customer_api.post(path, nested(1000, shape), key="deep")

    body = json_error(response, 400, "parse_error")
    assert str(JSON_MAX_DEPTH) in body["detail"]
    assert written() == before


@pytest.mark.parametrize("shape", ["list", "object"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_json_one_level_deeper_than_the_limit_is_refused_and_the_limit_itself_is_not(
    path, shape, customer_api, filled_cart, valid_bodies
):
    # given a normal body carrying one extra field nested to the limit, and one level more
    valid = valid_bodies[path]
    at_limit = json.dumps(valid)[:-1] + f', "extra": {nested(JSON_MAX_DEPTH - 1, shape)}}}'
    too_deep = json.dumps(valid)[:-1] + f', "extra": {nested(JSON_MAX_DEPTH, shape)}}}'
    before = written()

    # then one level too deep is refused and writes nothing
    json_error(customer_api.post(path, too_deep, key="too-deep"), 400, "parse_error")
    assert written() == before

    # and the same body at the limit is answered as usual (the unknown field ignored)
    response = customer_api.post(path, at_limit, key="at-limit")
    assert response.status_code in (200, 201), response.content[:300]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_normal_bodies_still_work(path, customer_api, filled_cart, valid_bodies):
    response = customer_api.post(path, valid_bodies[path], key="normal")

    assert response.status_code in (200, 201), response.content[:300]


def test_brackets_inside_strings_are_not_nesting(customer_api, shop):
    response = customer_api.post(LINES, {"sku": "[" * 1000 + "{" * 1000, "quantity": 1})

    assert response.json()["code"] != "parse_error"
    assert response.status_code in (400, 404)
    assert not CartLine.objects.exists()


# --- Body size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", TOKEN),
        ("post", CHECKOUT),
        ("post", LINES),
        ("post", "/api/v1/auth/register/"),
        ("patch", "/api/v1/me/"),
        ("put", "/api/v1/stores/MAD-01/stock/"),
        ("post", "/api/v1/no-such-endpoint/"),
    ],
)
@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_a_3_mb_body_is_a_json_413_on_every_api_path(method, path, signed_in, shopper, shop):
    api = Api(shopper.user if signed_in else None)
    before = written()

    response = getattr(api, method)(path, three_mb_json())

    body = json_error(response, 413, "request_too_large")
    assert "2.5" in body["detail"]  # the limit, as the caller reads it
    assert written() == before


def test_a_3_mb_form_body_to_the_api_is_a_json_413_too(client, shop):
    response = client.post(
        TOKEN, f"email={'a' * THREE_MB}", content_type="application/x-www-form-urlencoded"
    )

    json_error(response, 413, "request_too_large")


def test_a_form_with_too_many_fields_to_the_api_is_a_json_400(client, db):
    fields = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.post(TOKEN, fields, content_type="application/x-www-form-urlencoded")

    json_error(response, 400, "bad_request")


@pytest.mark.parametrize("path", ["/cart/add/", "/account/login/", "/checkout/"])
def test_a_3_mb_web_form_gets_the_shops_413_page_not_a_500(path, client, shop):
    before = written()

    response = client.post(
        path, f"sku={'a' * THREE_MB}", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "too large" in response.content.decode()
    assert written() == before


# --- URL length ------------------------------------------------------------------------------


def test_a_url_over_the_limit_is_a_json_414_and_one_at_the_limit_is_answered(client, shop):
    path = "/api/v1/products/?search="
    at_limit = path + "a" * (MAX_URL_LENGTH - len(path))

    json_error(client.get(at_limit + "a"), 414, "url_too_long")
    assert client.get(at_limit).status_code == 200


def test_the_refusals_speak_the_callers_language(client, db):
    spanish = {"content_type": "application/json", "HTTP_ACCEPT_LANGUAGE": "es"}

    large = client.post(TOKEN, three_mb_json(), **spanish)
    deep = client.post(TOKEN, nested(1000, "list"), **spanish)

    assert large.json()["detail"] == "La solicitud es demasiado grande: como máximo 2,5\xa0MB."
    assert deep.json()["detail"] == (
        f"El JSON tiene demasiados niveles de anidamiento: como máximo {JSON_MAX_DEPTH}."
    )


# --- The schema ------------------------------------------------------------------------------


def test_every_operation_documents_413_and_414_in_the_error_shape(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert "checkout" in {operation["operationId"] for operation in operations}
    for operation in operations:
        for status in ("413", "414"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, status


# --- Through a real server and the ASGI handler ----------------------------------------------


def _http(live: str, method: str, path: str, body: bytes = b"") -> tuple[int, str, dict]:
    """One request over a real socket: (status, content type, JSON body)."""
    address = urlsplit(live)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        connection.close()


def test_a_real_server_answers_each_limit_in_json(live, transactional_db, shopper):
    deep = _http(live, "POST", TOKEN, nested(1000, "list").encode())
    large = _http(live, "POST", TOKEN, three_mb_json().encode())
    long_url = _http(live, "GET", "/api/v1/products/?search=" + "a" * MAX_URL_LENGTH)
    login = json.dumps({"email": shopper.email, "password": PASSWORD}).encode()
    normal = _http(live, "POST", TOKEN, login)

    print(f"\nreal server: 1,000 deep {deep[::2]}; 3 MB {large[::2]}; long URL {long_url[::2]}")
    assert deep[:2] == (400, "application/json") and deep[2]["code"] == "parse_error"
    assert large[:2] == (413, "application/json") and large[2]["code"] == "request_too_large"
    assert long_url[:2] == (414, "application/json") and long_url[2]["code"] == "url_too_long"
    assert normal[0] == 200 and normal[2]["token"]


async def _asgi_post_in_chunks(path: str, body: bytes, content_type: bytes):
    """POST ``body`` to the ASGI app in 64 KB chunks with no Content-Length header."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", content_type)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    app = ApplicationCommunicator(get_asgi_application(), scope)
    for start in range(0, len(body), 65536):
        chunk = body[start : start + 65536]
        await app.send_input({"type": "http.request", "body": chunk, "more_body": True})
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    head = await app.receive_output(30)
    content = b""
    while True:
        message = await app.receive_output(30)
        content += message.get("body", b"")
        if not message.get("more_body"):
            return head["status"], dict(head["headers"])[b"Content-Type"], content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "media_type"),
    [(TOKEN, b"application/json"), ("/account/login/", b"text/html; charset=utf-8")],
)
def test_a_chunked_3_mb_form_without_a_length_is_a_413_too(path, media_type, settings):
    settings.ALLOWED_HOSTS = ["testserver"]  # the live server's settings may still be on
    # given a form body sent in chunks: no Content-Length to refuse it by, so it is read
    body = f"email={'a' * THREE_MB}".encode()
    form = b"application/x-www-form-urlencoded"

    status, answered_as, content = async_to_sync(_asgi_post_in_chunks)(path, body, form)

    # then reading it finds it too large: the API's JSON, the shop's page elsewhere
    print(f"\nASGI, chunked 3 MB form to {path}: {status} {answered_as.decode()}")
    assert (status, answered_as) == (413, media_type)
    if path.startswith("/api/"):
        assert json.loads(content)["code"] == "request_too_large"
