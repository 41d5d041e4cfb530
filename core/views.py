from functools import cache

from django.contrib.staticfiles import finders
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from core.api import (
    api_bad_request,
    api_not_found,
    api_server_error,
    request_too_large,
    request_too_large_message,
)
from core.errors import DomainError


def _htmx_message(request, code: str, message: str, status: int):
    """An htmx request's error goes to the page's message area, not into the fragment."""
    response = render(
        request, "partials/error.html", {"error": DomainError(code, message)}, status=status
    )
    response["HX-Retarget"] = "#htmx-messages"
    response["HX-Reswap"] = "innerHTML"
    return response


def csrf_failure(request, reason=""):
    if getattr(request, "htmx", False):
        message = _("Your session expired. Reload the page and try again.")
        return _htmx_message(request, "csrf_failed", message, 403)
    return render(request, "403_csrf.html", status=403)


def bad_request(request, exception):
    """A request Django refused as it read it: 413 when the body is over
    DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig), 400 otherwise (e.g. too many fields).
    JSON for the API, the shop's page otherwise."""
    too_large = isinstance(exception, RequestDataTooBig)
    if request.path.startswith("/api/"):
        return request_too_large(request) if too_large else api_bad_request(request)
    if not too_large:
        return defaults.bad_request(request, exception)
    message = request_too_large_message()
    if getattr(request, "htmx", False):
        return _htmx_message(request, "request_too_large", message, 413)
    error = DomainError("request_too_large", message, status=413)
    return render(request, "error.html", {"error": error, "back": ""}, status=413)


def page_not_found(request, exception):
    """JSON for the API (its clients never parse HTML), the shop's page otherwise."""
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    if getattr(request, "htmx", False):
        return _htmx_message(request, "not_found", _("That is no longer there."), 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return defaults.server_error(request)


@cache
def _favicon() -> bytes:
    with open(finders.find("favicon.ico"), "rb") as icon:
        return icon.read()


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """/favicon.ico, which browsers ask for where a page names no icon (the admin, a PDF)."""
    response = HttpResponse(_favicon(), content_type="image/x-icon")
    # Opened on its own, the browser shows it in an image viewer page styled inline.
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    )
    return response
