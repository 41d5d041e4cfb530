"""Helpers for the order, checkout and store-counter API tests (fixtures:
``tests/order_api_fixtures.py``)."""

import json

from django.test import Client
from knox.models import AuthToken

from orders.services import mark_preparing, mark_ready

CHECKOUT = "/api/v1/checkout/"
ORDERS = "/api/v1/orders/"


def token_for(user) -> str:
    _, token = AuthToken.objects.create(user)
    return token


class JsonApi:
    """The Django test client speaking JSON with a knox token (none for ``user=None``)."""

    def __init__(self, user=None, *, token=None, client=None):
        self.client = client or Client()
        self.user = user
        self.headers = {}
        token = token or (token_for(user) if user is not None else None)
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Token {token}"

    def get(self, path, **extra):
        return self.client.get(path, **{**self.headers, **extra})

    def post(
        self, path, data=None, *, key=None, raw=None, content_type="application/json", **extra
    ):
        """POST ``data`` as JSON (or ``raw`` bytes/str as given); ``key``: Idempotency-Key."""
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        body = raw if raw is not None else json.dumps({} if data is None else data)
        return self.client.post(path, body, content_type=content_type, **{**self.headers, **extra})


def order_url(order_or_number, action="") -> str:
    number = getattr(order_or_number, "number", order_or_number)
    return f"{ORDERS}{number}/{action + '/' if action else ''}"


def store_url(store, path) -> str:
    return f"/api/v1/store/{getattr(store, 'code', store)}/{path}"


def ready(order, user):
    mark_preparing(order=order, user=user)
    return mark_ready(order=order, user=user)
