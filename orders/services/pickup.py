"""Proving who collects at the counter: the pickup code (rate limited per clerk, locked per
order after repeated wrong tries) and the clerk's verification of an order.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import counters
from core.display import zoned
from orders.errors import OrderError
from orders.models import (
    Handover,
    Order,
    OrderStatus,
    PickupVerification,
)
from orders.selectors import lock_order, order_for_pickup_token, order_for_store
from orders.services.lifecycle import note_event
from stores.models import Store
from stores.selectors import is_manager


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:16]


def _clerk_key(store: Store, user) -> str:
    return f"pickup-code-failures:{store.pk}:{user.pk}"


def _too_many_attempts() -> OrderError:
    return OrderError(
        "too_many_attempts",
        _("Too many wrong pickup codes. Wait a few minutes or scan the customer's QR code."),
        status=429,
    )


def _check_clerk_limit(store: Store, user) -> None:
    if counters.current(_clerk_key(store, user)) >= settings.PICKUP_CODE_CLERK_LIMIT:
        raise _too_many_attempts()


def _count_clerk_failure(store: Store, user) -> int:
    """Count one wrong code atomically (Redis INCR); returns the clerk's count so far (0 when
    the cache is unreachable: each order's own lock, in the database, still holds)."""
    key = _clerk_key(store, user)
    return counters.increment(key, timeout=settings.PICKUP_CODE_CLERK_WINDOW) or 0


def _code_locked() -> OrderError:
    return OrderError(
        "code_locked",
        _(
            "This order's pickup code is locked after too many wrong tries. "
            "Ask a manager to unlock it, or scan the QR code."
        ),
        status=423,
    )


def find_by_pickup_code(*, store: Store, user, code: str) -> Order:
    """A clerk typed a short code at ``store``: the order it opens, or a clear refusal.

    Wrong codes count against the clerk at this store; too many stop them for a while.
    """
    _check_clerk_limit(store, user)
    code = normalise_code(code)
    order = (
        Order.objects.filter(store=store, pickup_code=code).order_by("-created_at").first()
        if len(code) == 8
        else None
    )
    if order is None:
        # Attempts racing past the check above are counted one by one: only the first
        # ``limit`` wrong codes are answered "wrong code", whatever arrives at once.
        if _count_clerk_failure(store, user) > settings.PICKUP_CODE_CLERK_LIMIT:
            raise _too_many_attempts()
        raise OrderError(
            "wrong_code", _("No order with this pickup code at this store."), status=404
        )
    if order.code_locked:
        raise _code_locked()
    return order


def verify_pickup_code(*, order: Order, user, code: str) -> Order:
    """The clerk checks the code the customer says for an order already on screen; the right
    code verifies the order for this clerk (``pickup_verification``).

    Wrong tries count against this order; at the limit its code locks until a manager resets it.
    """
    store = order.store
    _check_clerk_limit(store, user)
    with transaction.atomic():
        order = lock_order(order)
        if order.code_locked:
            raise _code_locked()
        if normalise_code(code) == order.pickup_code:
            if order.code_failures:
                order.code_failures = 0
                order.save(update_fields=["code_failures", "updated_at"])
            mark_pickup_verified(order=order, user=user, method=Handover.Verification.CODE)
            return order
        order.code_failures = F("code_failures") + 1
        order.save(update_fields=["code_failures", "updated_at"])
        order.refresh_from_db(fields=["code_failures"])
        if order.code_failures >= settings.PICKUP_CODE_ORDER_LIMIT:
            order.code_locked_at = timezone.now()
            order.save(update_fields=["code_locked_at", "updated_at"])
            note_event(order, note="pickup code locked after wrong tries", user=user)
    _count_clerk_failure(store, user)
    left = max(settings.PICKUP_CODE_ORDER_LIMIT - order.code_failures, 0)
    if left == 0:
        raise OrderError(
            "code_locked",
            _(
                "Wrong code again: this order's pickup code is now locked. "
                "Scan the QR code, or ask a manager to unlock it."
            ),
            status=423,
        )
    raise OrderError(
        "wrong_code",
        ngettext(
            "That is not this order's pickup code (%(left)d try left).",
            "That is not this order's pickup code (%(left)d tries left).",
            left,
        )
        % {"left": left},
        status=400,
    )


@transaction.atomic
def unlock_pickup_code(*, order: Order, user) -> Order:
    order = lock_order(order)
    if not is_manager(user, order.store):
        raise OrderError(
            "not_manager", _("Only a store manager can unlock a pickup code."), status=403
        )
    order.code_failures = 0
    order.code_locked_at = None
    order.save(update_fields=["code_failures", "code_locked_at", "updated_at"])
    note_event(order, note="pickup code unlocked by manager", user=user)
    return order


# A successful lookup (QR token or pickup code) lets that clerk hand the order over for a
# while. Kept in the database, not in a session or on the device: any app server answers, and
# it holds when the cache is down.
# A clerk who found an order by its QR code or pickup code may hand it over for this long.
VERIFICATION_SECONDS = 15 * 60

# A QR token is at least this long: what a scanner types is a token, anything shorter a code.
TOKEN_MIN_LENGTH = 20

# Orders that are over: looking one up explains what happened instead of opening it.
CLOSED = (OrderStatus.COLLECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)


def open_for_pickup(*, store: Store, user, token: str = "", code: str = "") -> Order:
    """The clerk scans the QR code (``token``) or types the pickup code (``code``) at
    ``store``: the order, verified for this clerk for ``VERIFICATION_SECONDS``.

    An unknown token is ``unknown_token``; wrong codes count against the clerk and the order
    (``find_by_pickup_code``); an order that is over raises ``order_over``'s refusal.
    """
    if token:
        order = order_for_pickup_token(store=store, token=token)
        if order is None:
            raise OrderError(
                "unknown_token", _("This QR code is not for an order at this store."), status=404
            )
        method = Handover.Verification.QR
    else:
        found = find_by_pickup_code(store=store, user=user, code=code)
        order = order_for_store(store=store, number=found.number)
        method = Handover.Verification.CODE
    if order.status in CLOSED:
        raise order_over(order)
    mark_pickup_verified(order=order, user=user, method=method)
    return order


def order_over(order: Order) -> OrderError:
    """Why a collected, cancelled or expired order cannot be handed over (409), with when and,
    for a collected one, by whom; times in the store's zone."""
    extra = {"number": order.number, "current": order.status}
    with timezone.override(order.store.tz):
        if order.status == OrderStatus.COLLECTED:
            handover = order.handover
            message = _("Already collected on %(when)s by %(who)s (handed over by %(clerk)s).")
            return OrderError(
                "already_collected",
                message
                % {
                    "when": zoned(handover.collected_at, WHEN),
                    "who": handover.collector_name,
                    "clerk": handover.clerk.email,
                },
                collected_at=handover.collected_at,
                collected_by=handover.collector_name,
                handed_over_by=handover.clerk.email,
                **extra,
            )
        if order.status == OrderStatus.CANCELLED:
            message = _("This order was cancelled on %(when)s (%(reason)s). Nothing to hand over.")
            return OrderError(
                "order_cancelled",
                message % {"when": zoned(order.updated_at, WHEN), "reason": order.cancel_reason},
                cancelled_at=order.updated_at,
                **extra,
            )
        message = _(
            "This order was not collected in time: its hold ended on %(when)s and its items "
            "went back on sale."
        )
        return OrderError(
            "order_expired",
            message % {"when": zoned(order.hold_until, WHEN)},
            hold_until=order.hold_until,
            **extra,
        )


WHEN = "j F Y, H:i"


def mark_pickup_verified(*, order: Order, user, method: str) -> None:
    if method not in Handover.Verification.values:
        raise ValueError(f"unknown verification {method!r}")
    PickupVerification.objects.update_or_create(
        order=order, user=user, defaults={"method": method, "verified_at": timezone.now()}
    )


def pickup_verification(*, order: Order, user) -> str:
    """How this clerk verified this order recently ("qr", "code"), or "" if they did not."""
    since = timezone.now() - timedelta(seconds=VERIFICATION_SECONDS)
    found = PickupVerification.objects.filter(order=order, user=user, verified_at__gte=since)
    return found.values_list("method", flat=True).first() or ""


def forget_pickup_verification(*, order: Order, user=None) -> None:
    """This clerk's verification of the order (every clerk's without ``user``) is used up."""
    verifications = PickupVerification.objects.filter(order=order)
    if user is not None:
        verifications = verifications.filter(user=user)
    verifications.delete()
