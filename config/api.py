"""What every API endpoint shares: the error format, pagination and rate limits.

Errors are always ``{"code": "...", "detail": "..."}`` (validation errors add ``"errors"``
with the per-field messages), whatever raised them: DRF, Django or a service's DomainError.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import set_rollback

from config.errors import DomainError


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return ""
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        body = {"code": exc.code, "detail": exc.message, **exc.extra}
        # A refusal that passes once something under way has finished says when to ask again.
        retry_after = exc.extra.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        return Response(body, status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "invalid",
            "detail": _first_message(exc.detail) or _("Invalid input."),
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    else:
        codes = exc.get_codes()
        body = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "detail": str(exc.detail),
        }
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "09:30",
        "description": "A wall-clock time of day (HH:MM), in the store's or customer's zone",
    }
)
class LocalTimeField(serializers.TimeField):
    """A time of day without a zone ("09:30"). OpenAPI's "time" format demands an offset,
    which opening hours and quiet hours do not have."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)


class ErrorSerializer(serializers.Serializer):
    """The shape of every API error (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="Stable machine-readable error code")
    detail = serializers.CharField(help_text="Human-readable message, in the caller's language")
    errors = serializers.DictField(
        required=False, help_text="Validation errors only: the messages per field"
    )


def error_response(description: str) -> OpenApiResponse:
    """A documented error response: ``{"code", "detail"}`` with what the codes mean."""
    return OpenApiResponse(ErrorSerializer, description=description)


UNAUTHENTICATED = error_response("No valid token (not_authenticated, authentication_failed).")
NOT_JSON = error_response("The body is not JSON (unsupported_media_type).")
THROTTLED = error_response("Too many requests (throttled); see the Retry-After header.")
BAD_INPUT = error_response("Invalid input (invalid, parse_error) or a refused change (see code).")
NOT_FOUND = error_response("No such object, or not yours (not_found).")


def json_error(request, status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status_code)


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema):
        return super().get_paginated_response_schema(schema)


def count_attempt(scope: str, ident: str, *, default: tuple[int, int] = (10, 60)) -> float:
    """Count one attempt by ``ident`` against the limit of ``scope`` (``API_RATE_LIMITS``:
    ``(limit, window seconds)``, else ``default``) in the current fixed window, on an atomic
    cache counter (Redis INCR in production). Returns 0 when the attempt is within the limit,
    otherwise the seconds until the window ends."""
    limit, window = settings.API_RATE_LIMITS.get(scope, default)
    now = time.time()
    key = f"rate:{scope}:{ident}:{int(now // window)}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    return 0 if count <= limit else window - (now % window)


class WindowThrottle(BaseThrottle):
    """Fixed-window rate limit on an atomic cache counter (``count_attempt``).

    DRF's own throttles read a history list, append and write it back: under concurrent
    requests they let many more through than the limit. Here every request increments one
    counter atomically, so N parallel attempts get exactly ``limit`` through per window.
    """

    scope = ""
    limit = 10
    window = 60

    def ident(self, request, view) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        self._wait = count_attempt(
            self.scope, self.ident(request, view), default=(self.limit, self.window)
        )
        return not self._wait

    def wait(self):
        return self._wait


class AuthThrottle(WindowThrottle):
    scope = "auth"


class CodeLookupThrottle(WindowThrottle):
    scope = "code_lookup"


class CheckoutThrottle(WindowThrottle):
    scope = "checkout"


class PasswordResetThrottle(WindowThrottle):
    """Requests for a password reset link, per caller (the address has its own limit)."""

    scope = "password_reset"


def requested_language(request) -> str:
    """The language an API caller asked for in Accept-Language, if we speak it ("" if they
    asked for none we speak, or did not say: the customer's own preference applies)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:255]
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def api_not_found(request, exception=None):
    return json_error(request, status.HTTP_404_NOT_FOUND, "not_found", _("Not found."))


def api_server_error(request):
    return json_error(
        request, status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", _("Server error.")
    )


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation can answer 400 (a request with
    characters no database stores is refused before any view runs), in the error shape."""
    error = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "400",
                {
                    "description": "invalid_characters, or invalid input",
                    "content": {"application/json": {"schema": error}},
                },
            )
    return result
