"""Claimed payment operations: a Payment row is locked and marked with the operation in
flight before the provider is called, so two callers never move the same money twice.
"""

import re
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Channel
from customers.services import (
    record_touchpoint,
)
from orders.errors import OrderError
from orders.models import (
    Order,
    Payment,
    PaymentStatus,
)
from orders.payments.providers import (
    ProviderState,
    to_minor_units,
)

#
# Each operation runs in three steps so that no network call happens inside the locking
# transaction: (1) lock the payment, check the rule and claim the operation
# (``pending_operation``); (2) call the provider with an idempotency key; (3) lock again and
# record what the provider answered. A payment only moves forward (see ``_PAYMENT_RANK``), so a
# late or repeated answer, or a webhook that got there first, cannot undo a later state.
_PAYMENT_RANK = {
    PaymentStatus.UNPAID: 0,
    PaymentStatus.AUTHORISED: 1,
    PaymentStatus.PAID: 2,
    PaymentStatus.VOIDED: 2,
    PaymentStatus.REFUNDED: 3,
}


# A Stripe PaymentMethod (pm_…) or card (card_…) id, and nothing else: \Z, not $, which would
# let a trailing newline through into the idempotency header.
PAYMENT_METHOD_ID = re.compile(r"\A(pm|card)_[A-Za-z0-9_]{1,120}\Z")


def lock_payment(payment: Payment) -> Payment:
    return Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)


# Card payment changes the customer sees on their timeline (refunds record their own).
_PAYMENT_TOUCHPOINTS = {
    PaymentStatus.AUTHORISED: "payment_authorised",
    PaymentStatus.PAID: "payment_captured",
    PaymentStatus.VOIDED: "payment_voided",
}


def set_order_payment_status(order: Order, status: str) -> None:
    """Keep the order's payment status in step with its payment (in the caller's
    transaction), and put the change on the customer's timeline."""
    if order.payment_status != status:
        order.payment_status = status
        order.save(update_fields=["payment_status", "updated_at"])
        if status in _PAYMENT_TOUCHPOINTS:
            record_touchpoint(
                customer=order.customer,
                channel=Channel.STORE if status == PaymentStatus.PAID else order.channel,
                kind=_PAYMENT_TOUCHPOINTS[status],
                payload={"order": order.number},
            )


def order_follows(payment: Payment) -> None:
    """Keep the order's payment status in step with ``payment`` (locked), if that is the
    payment the order uses: an extra card hold released later (see ``void_extra_holds``) must
    not make an order with its card held look voided."""
    newer = payment.order.payments.filter(
        provider=Payment.Provider.STRIPE, refund_of__isnull=True, pk__gt=payment.pk
    ).exclude(status=PaymentStatus.UNPAID)
    if payment.provider == Payment.Provider.STRIPE and newer.exists():
        return
    set_order_payment_status(payment.order, payment.status)


def apply_provider_state(payment: Payment, state: ProviderState) -> bool:
    """Move ``payment`` (locked) forward to what the provider said. True if it changed."""
    if _PAYMENT_RANK[state.status] <= _PAYMENT_RANK[payment.status]:
        return False
    if payment.status == PaymentStatus.REFUNDED:
        return False
    payment.status = state.status
    if state.amount_authorised is not None and state.amount_authorised > payment.amount_authorised:
        payment.amount_authorised = state.amount_authorised
    if state.status == PaymentStatus.PAID and state.amount_captured is not None:
        payment.amount_captured = state.amount_captured
    if state.status == PaymentStatus.PAID and payment.captured_at is None:
        payment.captured_at = timezone.now()
    return True


def payment_amount(amount, payment: Payment) -> Decimal:
    try:
        value = Decimal(amount)
        to_minor_units(value, payment.currency)
    except (ArithmeticError, TypeError, ValueError):
        value = Decimal("-1")
    if value <= 0:
        raise OrderError(
            "bad_amount", _("Enter an amount greater than zero, in cents at most."), status=400
        )
    return value


def claim_payment(payment: Payment, operation: str, *, allowed: set[str]) -> Payment:
    """Step 1: lock, check the payment may do ``operation`` now, and mark it in flight."""
    payment = lock_payment(payment)
    if payment.status not in allowed or not payment.provider_reference:
        raise OrderError(
            "illegal_payment_operation",
            _("This payment is %(status)s: that cannot be done now.")
            % {"status": PaymentStatus(payment.status).label},
            current=payment.status,
        )
    if payment.pending_operation and payment.pending_operation != operation:
        raise OrderError("payment_busy", _("Another operation on this payment is still running."))
    return payment


def mark_pending(payment: Payment, operation: str) -> None:
    payment.pending_operation = operation
    payment.pending_since = timezone.now() if operation else None
    payment.save(update_fields=["pending_operation", "pending_since"])


def _release_claim(payment: Payment, operation: str) -> None:
    """The provider refused: forget the claim, so nothing stays written."""
    with transaction.atomic():
        payment = lock_payment(payment)
        if payment.pending_operation == operation:
            mark_pending(payment, "")


def call_claimed(locked: Payment, operation: str, call):
    """Run a provider call for a claimed operation, outside any transaction; a refusal gives
    the claim back so another operation may run."""
    try:
        return call()
    except OrderError:
        _release_claim(locked, operation)
        raise


def record_state(locked: Payment, state: ProviderState, *, fields: list[str]) -> Payment:
    """Record what the provider answered and end the claimed operation."""
    with transaction.atomic():
        payment = lock_payment(locked)
        if apply_provider_state(payment, state):
            order_follows(payment)
        payment.pending_operation = ""
        payment.save(update_fields=[*fields, "pending_operation"])
    return payment
