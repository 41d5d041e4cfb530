from django.shortcuts import render
from django.views import defaults

from config.api import api_not_found, api_server_error


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", status=403)


def page_not_found(request, exception):
    """JSON for the API (its clients never parse HTML), the shop's page otherwise."""
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return defaults.server_error(request)
