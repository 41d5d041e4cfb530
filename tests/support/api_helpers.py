"""Helpers for the order, checkout and store-counter API tests (fixtures:
``tests/support/api_fixtures.py``)."""

from orders.services import mark_preparing, mark_ready

CHECKOUT = "/api/v1/checkout/"
ORDERS = "/api/v1/orders/"


def order_url(order_or_number, action="") -> str:
    number = getattr(order_or_number, "number", order_or_number)
    return f"{ORDERS}{number}/{action + '/' if action else ''}"


def store_url(store, path) -> str:
    return f"/api/v1/store/{getattr(store, 'code', store)}/{path}"


def ready(order, user):
    mark_preparing(order=order, user=user)
    return mark_ready(order=order, user=user)
