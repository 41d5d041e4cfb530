from django.conf import settings
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from config.errors import DomainError


class ContentSecurityPolicyMiddleware:
    """Adds the Content Security Policy header (no inline scripts or styles anywhere)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
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
        template = "partials/error.html" if getattr(request, "htmx", False) else "error.html"
        back = request.META.get("HTTP_REFERER", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = ""
        return render(
            request, template, {"error": exception, "back": back}, status=exception.status
        )
