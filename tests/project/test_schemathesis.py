"""Property-based run of every API operation against its own OpenAPI schema.

Schemathesis generates requests (valid and invalid) for each operation in /api/schema/ and
checks that the application never answers with a server error, that every status code and
content type it answers with is documented, and that every body matches its schema. It runs
in process over WSGI on the test PostgreSQL database, as a logged-in clerk who is also a
customer (so customer and staff operations are both exercised), with real data behind it.
"""

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from orders.services import mark_preparing, mark_ready
from tests.support.factories import StaffMembershipFactory
from tests.support.web_helpers import place_at

pytest_plugins = ["tests.support.web_fixtures"]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25


def _load_schema() -> dict:
    """The schema /api/schema/ serves, generated in process (no request needed)."""
    generator = SchemaGenerator()
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(public=True)))


def _app(environ, start_response):
    """The site as a WSGI app built for each request, so it runs with the current test's
    settings (no HTTPS redirect) and never closes the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return WSGIHandler()(environ, start_response)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _localhost(settings):
    settings.ALLOWED_HOSTS = ["localhost"]


@pytest.fixture
def token(shop, shopper):
    """The shopper is also a clerk at the shop's store, with an order ready for pickup."""
    StaffMembershipFactory(user=shopper.user, store=shop.store)
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=shopper.user)
    mark_ready(order=order, user=shopper.user)
    _, key = AuthToken.objects.create(shopper.user)
    return key


schema = schemathesis.openapi.from_dict(_load_schema())
schema.app = _app


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_schema(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
