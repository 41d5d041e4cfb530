"""Card-payment upkeep run by Celery beat: releasing holds nobody will capture and settling
operations whose provider answer was lost.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.errors import OrderError
from orders.models import (
    Actor,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from orders.payments.attempts import AUTHORISE, drop_attempt
from orders.payments.claims import apply_provider_state, lock_payment, order_follows
from orders.payments.operations import cancel_payment, record_refund
from orders.payments.providers import (
    PaymentProvider,
    ProviderState,
    Refund,
    provider_for,
)
from orders.selectors import (
    AUTHORISATION_MARGIN,
    extra_card_holds,
    lock_order,
)
from orders.services.lifecycle import note_event

logger = logging.getLogger(__name__)


def void_leftover_authorisations() -> int:
    """Card holds still open on cancelled or expired orders (a release that failed earlier):
    release them now. Returns how many were released."""
    released = 0
    for payment in Payment.objects.filter(
        Q(order__status__in=[OrderStatus.CANCELLED, OrderStatus.EXPIRED])
        | Q(order__payment_method=PaymentMethod.IN_STORE),
        provider=Payment.Provider.STRIPE,
        status__in=[PaymentStatus.UNPAID, PaymentStatus.AUTHORISED],
        pending_operation="",
        refund_of__isnull=True,
    ).exclude(provider_reference=""):
        try:
            cancel_payment(payment=payment)
        except OrderError:
            logger.warning("could not cancel payment %s", payment.pk)
        else:
            released += 1
    return released


def _release_holds(payments, *, provider, note) -> int:
    """Void each of ``payments`` (card holds) at the provider and note it on its order
    (``note(payment)``); one that cannot be released now is logged and left for the next run.
    Returns how many were released."""
    released = 0
    for payment in payments:
        try:
            payment = cancel_payment(payment=payment, provider=provider)
        except OrderError:
            logger.warning("could not release card hold %s", payment.pk)
            continue
        if payment.status == PaymentStatus.VOIDED:
            with transaction.atomic():
                order = lock_order(payment.order)
                note_event(order, note=note(payment), actor=Actor.SYSTEM, channel=order.channel)
            released += 1
    return released


def void_extra_holds(*, provider: PaymentProvider | None = None) -> int:
    """An order holds one card authorisation: any other still open on it (see
    ``selectors.extra_card_holds``) is released, keeping the one the order uses. Run by the
    same task as ``void_leftover_authorisations``; safe to run twice. Returns how many."""
    return _release_holds(
        extra_card_holds().filter(pending_operation="").select_related("order"),
        provider=provider,
        note=lambda payment: f"extra card hold released ({payment.provider_reference})",
    )


def release_lapsing_authorisations(
    *, now: datetime | None = None, provider: PaymentProvider | None = None
) -> int:
    """Card holds that would soon pass the card networks' limit (CARD_AUTHORISATION_DAYS)
    without being captured are released now, while we still know their state. The order
    stays as it is; with no card hold left it is paid at the counter on collection, and the
    tablet shows it (``selectors.card_payment``). Returns how many were released."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CARD_AUTHORISATION_DAYS) + AUTHORISATION_MARGIN
    lapsing = Payment.objects.filter(
        provider=Payment.Provider.STRIPE,
        status=PaymentStatus.AUTHORISED,
        refund_of__isnull=True,
        pending_operation="",
        created_at__lte=cutoff,
    ).exclude(provider_reference="")
    return _release_holds(lapsing, provider=provider, note=lambda payment: "card hold lapsed")


def settle_payment_operation(*, payment: Payment, provider: PaymentProvider | None = None):
    """A capture or cancel whose answer was lost (a crash, a timeout) still holds its claim and
    blocks the payment: ask the provider where the payment stands, record what did happen, and
    give the claim back. A refund is judged by the provider's refunded total."""
    operation = payment.pending_operation
    if not operation:
        return payment
    if operation == AUTHORISE:
        # No PaymentIntent was recorded for the attempt, so there is nothing to ask about: give
        # the claim up so the customer can send the card again. An intent it did make is
        # found by its order number when Stripe reports it, and released by
        # ``void_extra_holds`` if the order gets another.
        logger.warning(
            "card attempt %s on %s got no answer: given up", payment.pk, payment.order_id
        )
        drop_attempt(payment)
        return payment
    provider = provider or provider_for(payment)
    is_refund = operation.startswith("refund:")
    if is_refund:
        refunded = provider.refunded(payment)
    else:
        state = provider.status(payment)
    with transaction.atomic():
        locked = lock_payment(payment)
        if locked.pending_operation != operation:
            return locked  # answered meanwhile
        if is_refund:
            _settle_refund(locked, operation, refunded)
        else:
            if operation.startswith("capture:") and state.amount_captured is None:
                state = ProviderState(
                    status=state.status,
                    amount_captured=Decimal(operation.removeprefix("capture:")),
                )
            if apply_provider_state(locked, state):
                order_follows(locked)
        locked.pending_operation = ""
        locked.pending_since = None
        locked.save(
            update_fields=[
                "status",
                "amount_authorised",
                "amount_captured",
                "captured_at",
                "pending_operation",
                "pending_since",
            ]
        )
    return locked


def _settle_refund(payment: Payment, operation: str, refunded: Decimal) -> None:
    """A refund claimed as ``refund:<refunded before>:<amount>``: if the provider's refunded
    total shows it went through, record it (the money; which lines it was for went with the
    lost answer, so the refund row says it was settled); if not, nothing is recorded."""
    _prefix, before, amount = operation.split(":")
    before, amount = Decimal(before), Decimal(amount)
    if refunded >= before + amount and payment.amount_refunded < before + amount:
        record_refund(
            payment,
            before=before,
            refund=Refund(reference="", amount=amount),
            note="settled after its answer was lost",
        )


def settle_stale_payment_operations(
    *, now: datetime | None = None, provider: PaymentProvider | None = None
) -> int:
    """Settle every payment operation left pending longer than PAYMENT_OPERATION_STALE_MINUTES.
    Returns how many were settled."""
    now = now or timezone.now()
    stale = now - timedelta(minutes=settings.PAYMENT_OPERATION_STALE_MINUTES)
    settled = 0
    for payment in (
        Payment.objects.filter(provider=Payment.Provider.STRIPE, refund_of__isnull=True)
        .exclude(pending_operation="")
        .filter(Q(pending_since__lte=stale) | Q(pending_since__isnull=True))
    ):
        try:
            settle_payment_operation(payment=payment, provider=provider)
        except OrderError:
            logger.warning("could not settle payment %s", payment.pk)
            continue
        settled += 1
    return settled
