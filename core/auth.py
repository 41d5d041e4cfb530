def axes_username(request, credentials) -> str:
    """The login name django-axes counts failures against: emails are case-insensitive, so
    "Ana@Example.com" and "ana@example.com" share one counter."""
    if credentials and credentials.get("username"):
        value = credentials["username"]
    else:
        value = request.POST.get("username", "") if request is not None else ""
    return str(value).strip().lower()


def lockout_response(request, response, credentials, *args, **kwargs):
    """Too many failed logins: JSON for API clients, the lockout page for people."""
    from django.http import JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext as _

    if request is not None and request.path.startswith("/api/"):
        return JsonResponse(
            {
                "code": "locked_out",
                "detail": _("Too many failed log-ins. Try again in 15 minutes."),
            },
            status=429,
        )
    return render(request, "registration/locked_out.html", status=429)
