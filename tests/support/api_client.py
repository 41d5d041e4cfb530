"""The one JSON client of the API tests: the Django test client sending JSON, with a knox
token when given a user (or a token)."""

import json

from django.test import Client
from knox.models import AuthToken


def token_for(user) -> str:
    """A fresh per-device token for ``user``."""
    _, token = AuthToken.objects.create(user)
    return token


JSON = "application/json"


class Api:
    def __init__(self, user=None, *, token=None, client=None):
        self.client = client or Client()
        self.user = user
        self.headers = {}
        token = token or (token_for(user) if user is not None else None)
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Token {token}"

    def get(self, path, **extra):
        return self.client.get(path, **{**self.headers, **extra})

    def _send(self, method, path, data, key, raw, content_type, extra):
        """``data`` as JSON (a str or bytes as given, like ``raw``), or no body at all;
        ``key``: an Idempotency-Key header."""
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        if isinstance(data, str | bytes):
            raw = data
        send = getattr(self.client, method)
        headers = {**self.headers, **extra}
        if raw is not None:
            return send(path, raw, content_type=content_type, **headers)
        if data is None:
            return send(path, content_type=content_type, **headers)
        return send(path, json.dumps(data), content_type=content_type, **headers)

    def post(
        self, path, data=None, *, key=None, raw=None, content_type="application/json", **extra
    ):
        return self._send(
            "post", path, data, key=key, raw=raw, content_type=content_type, extra=extra
        )

    def put(self, path, data=None, *, content_type="application/json", **extra):
        return self._send(
            "put", path, data, key=None, raw=None, content_type=content_type, extra=extra
        )

    def patch(self, path, data=None, *, content_type="application/json", **extra):
        return self._send(
            "patch", path, data, key=None, raw=None, content_type=content_type, extra=extra
        )

    def delete(self, path, **extra):
        return self.client.delete(path, **{**self.headers, **extra})
