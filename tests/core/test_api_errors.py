"""Every API error is JSON ``{"code", "detail"}``, whatever produced it."""

import pytest

from tests.support.factories import PASSWORD, UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


def _json_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_unknown_api_path_is_a_json_404(client, db):
    _json_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_wrong_method_and_media_type(client, db):
    _json_error(client.delete("/api/v1/stores/"), 405, "method_not_allowed")
    response = client.post("/api/v1/auth/token/", "email=x", content_type="text/plain")
    _json_error(response, 415, "unsupported_media_type")


def test_nul_characters_are_refused_as_json(client, db):
    _json_error(client.get("/api/v1/products/?search=a%00b"), 400, "invalid_characters")


def test_wrong_password_is_401_with_the_token_scheme(client, user):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": "not-it"},
        content_type="application/json",
    )
    _json_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


def test_locked_out_login_is_a_json_429(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/",
            {"email": user.email, "password": "not-it"},
            content_type="application/json",
        )
    response = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    _json_error(response, 429, "locked_out")
