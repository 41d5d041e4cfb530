"""Fixtures for the REST API tests: a per-device knox token and a JSON client that sends it.

A test module loads them with ``pytest_plugins = ["tests.api_fixtures"]`` (next to
``tests.web_fixtures`` for the ``shop`` and ``shopper`` fixtures).
"""

import pytest
from django.test import Client
from knox.models import AuthToken

from tests.factories import CustomerFactory, UserFactory


class Api:
    """The Django test client speaking JSON, logged in with a token when given a user."""

    def __init__(self, user=None):
        self.client = Client()
        self.headers = {}
        if user is not None:
            _, token = AuthToken.objects.create(user)
            self.headers["HTTP_AUTHORIZATION"] = f"Token {token}"

    def get(self, path, **extra):
        return self.client.get(path, **self.headers, **extra)

    def _send(self, method, path, data, content_type, extra):
        send = getattr(self.client, method)
        if data is None:
            return send(path, content_type=content_type, **self.headers, **extra)
        return send(path, data, content_type=content_type, **self.headers, **extra)

    def post(self, path, data=None, content_type="application/json", **extra):
        return self._send("post", path, data, content_type, extra)

    def put(self, path, data=None, content_type="application/json", **extra):
        return self._send("put", path, data, content_type, extra)

    def patch(self, path, data=None, content_type="application/json", **extra):
        return self._send("patch", path, data, content_type, extra)

    def delete(self, path, **extra):
        return self.client.delete(path, **self.headers, **extra)


@pytest.fixture
def api_as():
    """``api_as(user)``: a JSON client with a fresh token for ``user`` (None: no token)."""
    return Api


@pytest.fixture
def anonymous_api(db):
    return Api()


@pytest.fixture
def shopper_api(shopper):
    """The ``shopper`` (tests.web_fixtures) on their phone."""
    return Api(shopper.user)


@pytest.fixture
def other_shopper(db):
    """A second registered customer."""
    user = UserFactory()
    return CustomerFactory(user=user, email=user.email, name=user.name)


@pytest.fixture
def other_api(other_shopper):
    return Api(other_shopper.user)
