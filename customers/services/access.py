"""The store tablet's access to customer records: counted searches and views, and the
access log managers read."""

import math
from collections.abc import Callable

from django.utils.translation import ngettext

from core.api import count_attempt
from customers.errors import CustomerError
from customers.models import Customer, CustomerAccess, User


def _count_clerk(scope: str, user: User, message: Callable[[int], str]) -> None:
    """Count one attempt by the clerk against ``scope``; over the limit, 429 ``throttled``
    saying how many seconds to wait (``message(seconds)``)."""
    wait = count_attempt(scope, f"user:{user.pk}")
    if wait:
        seconds = max(1, math.ceil(wait))
        raise CustomerError(
            "throttled", message(seconds) % {"seconds": seconds}, status=429, retry_after=seconds
        )


def count_customer_search(*, user: User) -> None:
    """One search of the customer file by a clerk; over ``API_RATE_LIMITS["customer_search"]``
    a 429 ``throttled`` (the search is chain-wide: a walk-in may be new to this store)."""
    _count_clerk(
        "customer_search",
        user,
        lambda n: ngettext(
            "Too many customer searches in a short time. Wait %(seconds)d second and try again.",
            "Too many customer searches in a short time. Wait %(seconds)d seconds and try again.",
            n,
        ),
    )


def count_customer_view(*, user: User) -> None:
    """One opening of a customer record by a clerk, a guessed reference too; over
    ``API_RATE_LIMITS["customer_view"]`` a 429 ``throttled``: walking references is slow."""
    _count_clerk(
        "customer_view",
        user,
        lambda n: ngettext(
            "Too many customer records opened in a short time. "
            "Wait %(seconds)d second and try again.",
            "Too many customer records opened in a short time. "
            "Wait %(seconds)d seconds and try again.",
            n,
        ),
    )


def record_customer_access(
    *, customer: Customer, user: User, store_id: int, via: str = CustomerAccess.Via.PAGE
) -> CustomerAccess:
    """One view of ``customer``'s record by ``user`` at the store's tablet, for the access
    log managers read; ``via`` is how the clerk got there (anything unknown: the page)."""
    if via not in CustomerAccess.Via.values:
        via = CustomerAccess.Via.PAGE
    return CustomerAccess.objects.create(customer=customer, user=user, store_id=store_id, via=via)
