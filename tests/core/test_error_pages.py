"""Error pages are the shop's own layout, styled within the Content Security Policy: 404, 403
and 500 (which needs neither the database nor anything from the request); Django's debug pages
(DEBUG, the demo) get the inline styles they need. ``/favicon.ico`` is there.

This module is also the URL configuration of the 500 tests: the site plus a view that fails.
"""

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from core.views import server_error
from tests.support.factories import StaffMembershipFactory, StoreFactory, UserFactory
from tests.support.web_helpers import text


def boom(request):
    raise RuntimeError("the database went away")


urlpatterns = [path("boom/", boom), path("", include("config.urls"))]
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

STYLESHEET = '<link rel="stylesheet" href="/static/css/app.css">'
ICONS = (
    '<link rel="icon" href="/favicon.ico" sizes="32x32">',
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">',
)
STRICT_STYLES = "style-src 'self';"


def styled(response) -> bool:
    html = text(response)
    return STYLESHEET in html and all(icon in html for icon in ICONS)


@pytest.mark.django_db
def test_a_missing_page_is_the_shops_page_within_the_policy():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert styled(response)
    assert "<h1>Not found</h1>" in text(response)
    assert STRICT_STYLES in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_refused_page_is_the_shops_page_within_the_policy():
    clerk = UserFactory()
    StaffMembershipFactory(user=clerk, store=StoreFactory(), role="clerk")
    client = Client()
    client.force_login(clerk)

    response = client.get("/manage/reconciliation/")

    assert response.status_code == 403
    assert styled(response)
    assert "<h1>Not allowed</h1>" in text(response)
    assert STRICT_STYLES in response["Content-Security-Policy"]


@pytest.mark.urls("tests.core.test_error_pages")
@pytest.mark.django_db
def test_a_server_error_is_the_shops_page_within_the_policy():
    client = Client(raise_request_exception=False)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/boom/")

    assert response.status_code == 500
    assert styled(response)
    assert "<h1>Something went wrong on our side.</h1>" in text(response)
    assert STRICT_STYLES in response["Content-Security-Policy"]
    assert len(queries) == 0


def test_the_server_error_page_needs_no_database_and_no_request_state():
    """A bare request (no session, no user, no CSRF token), and no database: this test has no
    database access at all (pytest-django refuses any query)."""
    request = RequestFactory().get("/orders/")

    response = server_error(request)

    assert response.status_code == 500
    assert styled(response)
    # Nothing that depends on who asks: no account links, no cart count.
    assert "Log out" not in text(response) and 'id="cart-count"' not in text(response)


@pytest.mark.django_db
def test_djangos_debug_page_may_use_its_inline_styles(settings):
    settings.DEBUG = True

    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in text(response)
    policy = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline';" in policy
    assert "script-src 'self' 'unsafe-inline';" in policy


@pytest.mark.django_db
def test_the_shops_own_pages_keep_the_strict_policy_in_debug(settings):
    settings.DEBUG = True

    response = Client().get("/")

    assert response.status_code == 200
    assert STRICT_STYLES in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_favicon():
    response = Client().get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age=86400" in response["Cache-Control"]
