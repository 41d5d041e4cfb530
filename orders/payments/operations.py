"""The provider steps on a Payment row: capture, void, refund and refresh, each claimed first
and recorded from the provider's answer.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.display import money
from orders.errors import OrderError
from orders.models import (
    Order,
    Payment,
    PaymentStatus,
)
from orders.payments.claims import (
    apply_provider_state,
    call_claimed,
    claim_payment,
    lock_payment,
    mark_pending,
    order_follows,
    payment_amount,
    record_state,
    set_order_payment_status,
)
from orders.payments.providers import (
    PaymentProvider,
    ProviderState,
    Refund,
    provider_for,
)

logger = logging.getLogger(__name__)


def online_payment(order: Order) -> Payment | None:
    return (
        order.payments.filter(provider=Payment.Provider.STRIPE, refund_of__isnull=True)
        .exclude(status=PaymentStatus.UNPAID)
        .order_by("-pk")
        .first()
    )


def capture_started(order: Order) -> bool:
    """A capture is in flight or done: the order can only be collected now."""
    return order.payments.filter(
        Q(pending_operation__startswith="capture:") | Q(status=PaymentStatus.PAID),
        provider=Payment.Provider.STRIPE,
    ).exists()


def void_authorisations(order: Order, provider=None) -> None:
    """After an online order was cancelled or expired (committed): release its card hold.
    A provider failure is left for the payment timeout and reconciliation to retry."""
    for payment in order.payments.filter(
        provider=Payment.Provider.STRIPE,
        status__in=[PaymentStatus.UNPAID, PaymentStatus.AUTHORISED],
        pending_operation="",
    ).exclude(provider_reference=""):
        try:
            cancel_payment(payment=payment, provider=provider)
        except OrderError:
            logger.warning("could not cancel payment %s of %s", payment.pk, order.number)


def capture_payment(
    *, payment: Payment, amount, provider: PaymentProvider | None = None
) -> Payment:
    """Take ``amount`` (at most what was authorised) of an authorised payment; the rest of the
    authorisation is released."""
    amount = payment_amount(amount, payment)
    operation = f"capture:{amount}"
    with transaction.atomic():
        locked = claim_payment(payment, operation, allowed={PaymentStatus.AUTHORISED})
        check_capture_ceiling(locked, amount)
        mark_pending(locked, operation)
    provider = provider or provider_for(locked)
    state = call_claimed(locked, operation, lambda: provider.capture(locked, amount))
    if state.amount_captured is None:
        state = ProviderState(status=state.status, amount_captured=amount)
    return record_state(locked, state, fields=["status", "amount_captured", "captured_at"])


def cancel_payment(*, payment: Payment, provider: PaymentProvider | None = None) -> Payment:
    """Release an authorisation that will not be captured (order cancelled or not collected)."""
    operation = "cancel"
    with transaction.atomic():
        locked = claim_payment(
            payment, operation, allowed={PaymentStatus.UNPAID, PaymentStatus.AUTHORISED}
        )
        mark_pending(locked, operation)
    provider = provider or provider_for(locked)
    state = call_claimed(locked, operation, lambda: provider.cancel(locked))
    return record_state(locked, state, fields=["status"])


def check_capture_ceiling(payment: Payment, amount: Decimal) -> None:
    if amount > payment.amount_authorised:
        raise OrderError(
            "capture_too_large",
            _("At most %(amount)s was authorised.")
            % {"amount": money(payment.amount_authorised, payment.currency)},
            status=400,
        )


def check_refund_ceiling(payment: Payment, amount: Decimal) -> None:
    if amount > payment.refundable:
        raise OrderError(
            "refund_too_large",
            _("At most %(amount)s can still be refunded.")
            % {"amount": money(payment.refundable, payment.currency)},
            status=400,
        )


def claim_refund(
    payment: Payment, amount: Decimal, *, exclusive: bool = False
) -> tuple[Payment, str]:
    """Step 1 of a refund, inside the caller's transaction: lock, check the ceiling (ours to
    enforce: the provider is not trusted to) and claim. ``exclusive`` refuses while any
    operation is in flight, the same one included: two people refunding at once must not both
    reach the provider."""
    locked = lock_payment(payment)
    # The refunded total so far makes the key: a retry repeats it, the next refund does not.
    operation = f"refund:{locked.amount_refunded}:{amount}"
    if exclusive and locked.pending_operation:
        raise OrderError("payment_busy", _("Another operation on this payment is still running."))
    locked = claim_payment(locked, operation, allowed={PaymentStatus.PAID})
    check_refund_ceiling(locked, amount)
    mark_pending(locked, operation)
    return locked, operation


def call_refund(locked: Payment, operation: str, amount: Decimal, provider) -> Refund:
    """Step 2: the provider call, outside any transaction, with an idempotency key."""
    provider = provider or provider_for(locked)
    key = f"{locked.provider_reference or locked.pk}:{operation}"
    return call_claimed(locked, operation, lambda: provider.refund(locked, amount, key=key))


def record_refund(
    payment: Payment,
    *,
    before: Decimal,
    refund: Refund,
    method: str = "",
    reference: str = "",
    user=None,
    note: str = "",
) -> Payment:
    """Step 3, inside the caller's transaction with ``payment`` (the original) locked: raise its
    refunded total, end the claim and write the refund's own row. ``before`` is the total when
    the refund was claimed."""
    # A refund webhook may have counted this refund already: never count it twice.
    payment.amount_refunded = max(payment.amount_refunded, before + refund.amount)
    if payment.amount_refunded >= payment.amount_captured:
        payment.status = PaymentStatus.REFUNDED
        set_order_payment_status(payment.order, PaymentStatus.REFUNDED)
    payment.pending_operation = ""
    payment.save(update_fields=["status", "amount_refunded", "pending_operation"])
    return Payment.objects.create(
        order=payment.order,
        refund_of=payment,
        provider=payment.provider,
        provider_reference=refund.reference,
        method=method or payment.method,
        reference=reference,
        user=user if getattr(user, "is_authenticated", False) else None,
        note=note,
        currency=payment.currency,
        amount_refunded=refund.amount,
        status=PaymentStatus.REFUNDED,
    )


def refresh_payment(*, payment: Payment, provider: PaymentProvider | None = None) -> Payment:
    """Ask the provider where the payment stands and move ours forward to match."""
    return sync_payment(payment, provider or provider_for(payment))[0]


def sync_payment(payment: Payment, provider) -> tuple[Payment, ProviderState]:
    """``refresh_payment``, also returning what the provider said (the call runs outside any
    transaction; the answer is recorded under the payment's lock)."""
    state = provider.status(payment)
    with transaction.atomic():
        payment = lock_payment(payment)
        if apply_provider_state(payment, state):
            payment.save(
                update_fields=["status", "amount_authorised", "amount_captured", "captured_at"]
            )
            order_follows(payment)
    return payment, state
