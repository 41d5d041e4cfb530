"""Refunding collected units: one refund path for the tablet, the admin and the API."""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from customers.models import Channel, NotificationKind
from customers.services import (
    record_touchpoint,
)
from orders.errors import OrderError
from orders.models import (
    Order,
    OrderLine,
    Payment,
    PaymentStatus,
)
from orders.payments.claims import lock_payment
from orders.payments.operations import (
    call_refund,
    check_refund_ceiling,
    claim_refund,
    record_refund,
)
from orders.payments.providers import (
    PaymentProvider,
    Refund,
    check_counter_method,
)
from orders.selectors import (
    check_refundable,
    lock_order,
    paid_payment,
    refund_plan,
)
from orders.services.messages import notify_order
from stores.services import (
    return_stock,
)

logger = logging.getLogger(__name__)


#
# A refund gives money back for units the customer had collected (``quantities``: sku → units;
# None = everything not refunded yet). Every refund takes the order's lock first, so two
# clerks refunding the same line are served one after the other; an online order's refund is
# also claimed on its card payment, so only one of them reaches Stripe.
REFUND_REASON_MAX = 255


def _refund_plan(
    order: Order, quantities: dict[str, int] | None
) -> tuple[list[tuple[OrderLine, int]], Decimal]:
    """The lines and units to refund of ``order`` (locked), and the amount."""
    check_refundable(order)
    return refund_plan(order, quantities)


def _refund_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise OrderError("reason_required", _("Say why the money is given back."), status=400)
    if len(reason) > REFUND_REASON_MAX:
        raise OrderError(
            "reason_too_long",
            _("Keep the reason under %(max)d characters.") % {"max": REFUND_REASON_MAX},
            status=400,
        )
    return reason


def _refundable_payment(order: Order) -> Payment:
    """The payment a refund of ``order`` gives money back from (not locked)."""
    payment = paid_payment(order)
    if payment is None:
        raise OrderError(
            "not_paid", _("Nothing was paid for this order, so nothing can be refunded.")
        )
    return payment


def _write_refund_lines(
    order: Order, picked: list[tuple[OrderLine, int]], *, restock: bool
) -> None:
    """Count the refunded units on their lines (one conditional UPDATE each: never more than
    was collected) and, with ``restock``, put them back on the store's shelf."""
    for line, units in picked:
        updated = OrderLine.objects.filter(
            pk=line.pk, refunded_quantity__lte=F("collected_quantity") - units
        ).update(refunded_quantity=F("refunded_quantity") + units)
        if updated != 1:
            raise OrderError(
                "already_refunded", _("%(sku)s was refunded meanwhile.") % {"sku": line.sku}
            )
        if restock:
            return_stock(store_id=order.store_id, variant_id=line.variant_id, quantity=units)


def note_refund(
    order: Order, refund: Payment, picked: list[tuple[OrderLine, int]], *, channel: str
) -> None:
    """The refund on the customer's timeline, and a message telling them."""
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        kind="payment_refunded",
        payload={
            "order": order.number,
            "amount": str(refund.amount_refunded),
            "currency": refund.currency,
            "lines": {line.sku: units for line, units in picked},
        },
    )
    notify_order(
        order,
        NotificationKind.REFUND,
        key=str(refund.pk),
        amount=str(refund.amount_refunded),
        to_card=refund.provider == Payment.Provider.STRIPE,
    )


def refund_order(
    *,
    order: Order,
    user,
    quantities: dict[str, int] | None,
    reason: str,
    channel: str = Channel.STORE,
    method: str = "",
    reference: str = "",
    restock: bool = False,
    provider: PaymentProvider | None = None,
) -> Payment:
    """Give money back for collected units of ``order`` and return the refund's Payment row.

    ``quantities`` maps skus to units (at most collected minus already refunded); None refunds
    everything left. What was paid by card online is refunded through the provider (claimed,
    called outside any lock, then recorded with the lines in one transaction; a refusal
    writes nothing). What was paid at the counter the clerk gives back by ``method`` (card or
    cash; a card refund needs the terminal's ``reference``) and it is recorded at once.
    ``restock`` puts the units back on the shelf.
    """
    check_refundable(order)
    reason = _refund_reason(reason)
    reference = (reference or "").strip()[:120]
    # Which payment was taken never changes once the order is collected.
    paid = _refundable_payment(order)
    how = _How(quantities=quantities, reason=reason, restock=restock, channel=channel, user=user)
    if paid.provider == Payment.Provider.IN_STORE:
        check_counter_method(method, reference)
        return _refund_at_counter(order, paid, how, method=method, reference=reference)
    return _refund_through_provider(order, paid, how, provider=provider)


@dataclass(frozen=True)
class _How:
    """What a refund gives back and how it is recorded."""

    quantities: dict[str, int] | None
    reason: str
    restock: bool
    channel: str
    user: object


def _refund_at_counter(
    order: Order, paid: Payment, how: _How, *, method: str, reference: str
) -> Payment:
    """The clerk gives the money back at the counter; recorded at once."""
    with transaction.atomic():
        locked = lock_order(order)
        picked, amount = _refund_plan(locked, how.quantities)
        payment = lock_payment(paid)
        if payment.status != PaymentStatus.PAID:
            raise OrderError("already_refunded", _("This payment was refunded in full."))
        check_refund_ceiling(payment, amount)
        _write_refund_lines(locked, picked, restock=how.restock)
        refund = record_refund(
            payment,
            before=payment.amount_refunded,
            refund=Refund(reference="", amount=amount),
            method=method,
            reference=reference,
            user=how.user,
            note=how.reason,
        )
        note_refund(locked, refund, picked, channel=how.channel)
    return refund


def _refund_through_provider(order: Order, paid: Payment, how: _How, *, provider) -> Payment:
    """Claimed, the provider called outside any lock, then recorded with the lines in one
    transaction (a refusal writes nothing)."""
    with transaction.atomic():
        locked = lock_order(order)
        picked, amount = _refund_plan(locked, how.quantities)
        claimed, operation = claim_refund(paid, amount, exclusive=True)
    answer = call_refund(claimed, operation, amount, provider)
    with transaction.atomic():
        locked = lock_order(order)
        payment = lock_payment(claimed)
        if payment.pending_operation != operation:
            # Only the claim's holder records it; nothing else clears a refund claim.
            logger.error("refund %s of %s found its claim gone", answer.reference, order.number)
            raise OrderError(
                "payment_busy", _("Another operation on this payment is still running.")
            )
        _write_refund_lines(locked, picked, restock=how.restock)
        refund = record_refund(
            payment,
            before=claimed.amount_refunded,
            refund=answer,
            method=Payment.Method.CARD,
            user=how.user,
            note=how.reason,
        )
        note_refund(locked, refund, picked, channel=how.channel)
    return refund
