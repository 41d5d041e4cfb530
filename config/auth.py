def axes_username(request, credentials) -> str:
    """The login name django-axes counts failures against: emails are case-insensitive, so
    "Ana@Example.com" and "ana@example.com" share one counter."""
    if credentials and credentials.get("username"):
        value = credentials["username"]
    else:
        value = request.POST.get("username", "") if request is not None else ""
    return str(value).strip().lower()
