"""What every API endpoint shares: the error format, pagination and rate limits.

Errors are always ``{"code": "...", "detail": "..."}`` (validation errors add ``"errors"``
with the per-field messages), whatever raised them: DRF, Django or a service's DomainError.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import set_rollback

from core import counters
from core.errors import DomainError
from core.parsers import JSON_MAX_DEPTH

# A path and query string longer than this are refused with 414.
MAX_URL_LENGTH = 2048


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


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number: "3", 3.5 and true are refused, not coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


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


def validated(serializer_class, request) -> dict:
    """The request's body as ``serializer_class`` reads it; invalid input raises (a 400)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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
    cache counter (Redis INCR in production). Returns 0 when the attempt is within the limit
    (or could not be counted: core/counters.py), otherwise the seconds until the window
    ends."""
    limit, window = settings.API_RATE_LIMITS.get(scope, default)
    count, left = counters.window_increment(f"rate:{scope}:{ident}", window=window)
    return 0 if count is None or count <= limit else left


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


def request_too_large_message() -> str:
    size = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return _("The request is too large: at most %(size)s.") % {"size": size}


def request_too_large(request) -> JsonResponse:
    """413: the body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (refused before it is read when
    its Content-Length says so, or when reading it finds out)."""
    return json_error(
        request,
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        request_too_large_message(),
    )


def url_too_long(request) -> JsonResponse:
    """414: the path and query string are over ``MAX_URL_LENGTH`` characters."""
    return json_error(
        request,
        status.HTTP_414_REQUEST_URI_TOO_LONG,
        "url_too_long",
        _("The URL is too long: at most %(max)d characters.") % {"max": MAX_URL_LENGTH},
    )


def api_bad_request(request):
    """400 for a request Django itself refused as malformed (e.g. too many form fields)."""
    return json_error(
        request, status.HTTP_400_BAD_REQUEST, "bad_request", _("The request is malformed.")
    )


def api_server_error(request):
    return json_error(
        request, status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", _("Server error.")
    )


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation can answer, in the error shape,
    400 (a request with characters no database stores is refused before any view runs), 413
    (a body over the size limit) and 414 (a URL over ``MAX_URL_LENGTH``)."""
    error = {"$ref": "#/components/schemas/Error"}
    common = {
        "400": "invalid_characters, parse_error (not JSON, or nested over "
        f"{JSON_MAX_DEPTH} levels), or invalid input",
        "413": "request_too_large: the body is over "
        f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes",
        "414": f"url_too_long: the path and query string are over {MAX_URL_LENGTH:,} characters",
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in common.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error}},
                    },
                )
    return result
