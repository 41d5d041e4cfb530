from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core.api import MAX_URL_LENGTH, request_too_large, url_too_long
from core.errors import DomainError


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def stripe_sources() -> dict[str, list[str]]:
    """What the card payment page needs on top of 'self': Stripe.js and the API and frames it
    talks to (Stripe's, or a fake Stripe's in the demo and tests)."""
    if not (settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY):
        return {}
    script = _origin(settings.STRIPE_JS_URL)
    api = _origin(settings.STRIPE_API_BASE) or "https://api.stripe.com"
    frames = [script, "https://hooks.stripe.com"] if script == "https://js.stripe.com" else []
    return {
        "script-src": [script],
        "connect-src": sorted({api, script}),
        "frame-src": frames,
    }


def content_security_policy() -> str:
    """The site's policy, with Stripe's sources added where online payment is on."""
    extra = stripe_sources()
    if not extra:
        return settings.CONTENT_SECURITY_POLICY
    directives = []
    for directive in settings.CONTENT_SECURITY_POLICY.split("; "):
        name = directive.split(" ", 1)[0]
        sources = [s for s in extra.pop(name, []) if s]
        directives.append(" ".join([directive, *sources]))
    directives += [" ".join([name, *sources]) for name, sources in extra.items() if sources]
    return "; ".join(directives)


# Django's technical 404 and 500 pages (DEBUG only) carry this tag; the shop's pages do not.
DEBUG_PAGE_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'


def _is_debug_page(response) -> bool:
    return (
        response.status_code in (404, 500)
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and DEBUG_PAGE_MARK in response.content
    )


class ContentSecurityPolicyMiddleware:
    """Adds the Content Security Policy header (no inline scripts or styles anywhere)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and _is_debug_page(response):
            # Django's own 404 and 500 pages in DEBUG (the demo) are styled and scripted inline.
            response.headers.setdefault(
                "Content-Security-Policy",
                content_security_policy()
                .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
                .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
            )
        elif not request.path.startswith(("/admin/", "/api/docs/")):
            response.headers.setdefault("Content-Security-Policy", content_security_policy())
        else:
            # The Django admin ships a few inline scripts/styles of its own.
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'; object-src 'none'",
            )
        response.headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
        return response


class DomainErrorMiddleware:
    """A business rule said no: show a clear message with its status (409 by default)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        if getattr(request, "htmx", False):
            # Show the message in the page's message area, whatever the request targeted.
            response = render(
                request, "partials/error.html", {"error": exception}, status=exception.status
            )
            response["HX-Retarget"] = "#htmx-messages"
            response["HX-Reswap"] = "innerHTML"
            return response
        back = request.META.get("HTTP_REFERER", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = ""
        return render(
            request, "error.html", {"error": exception, "back": back}, status=exception.status
        )


class RejectNullCharactersMiddleware:
    """No database stores NUL characters: refuse them in the path, query or form at the door.

    Form fields already reject them; this covers query strings, paths and anything read raw.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "invalid_characters",
                        "detail": _("The request contains invalid characters."),
                    },
                    status=400,
                )
            error = DomainError(
                "invalid_characters", _("The request contains invalid characters."), status=400
            )
            return render(request, "error.html", {"error": error, "back": ""}, status=400)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path:
            return True
        sources = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sources.append(request.POST)
        return any(
            "\x00" in key or any("\x00" in v for v in values)
            for source in sources
            for key, values in source.lists()
        )


class ApiRequestLimitsMiddleware:
    """An API request over the limits is refused in JSON before anything reads it: a URL over
    ``MAX_URL_LENGTH`` characters (414), a body whose Content-Length is over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413; Django would refuse it with an HTML 400 once read,
    and only after authentication). A body that proves too large only as it is read (sent
    without a length) reaches ``core.views.bad_request``: a 413 too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            if len(request.get_full_path()) > MAX_URL_LENGTH:
                return url_too_long(request)
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and self._declared_length(request) > limit:
                return request_too_large(request)
        return self.get_response(request)

    @staticmethod
    def _declared_length(request) -> int:
        try:
            return int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 0


class HtmxRedirectMiddleware:
    """A redirect answering an htmx request (e.g. to the login page once a tablet's session
    has expired) becomes a full page navigation instead of a page swapped into a fragment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "htmx", False) and response.status_code in (301, 302, 303, 307, 308):
            location = response["Location"]
            response = HttpResponse(status=204)
            response["HX-Redirect"] = location
        return response
