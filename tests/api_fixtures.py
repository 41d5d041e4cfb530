"""Fixtures for the REST API tests: a per-device knox token and a JSON client that sends it.

A test module loads them with ``pytest_plugins = ["tests.api_fixtures"]`` (next to
``tests.web_fixtures`` for the ``shop`` and ``shopper`` fixtures).
"""

import pytest

from tests.api_client import Api
from tests.factories import CustomerFactory, UserFactory


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
