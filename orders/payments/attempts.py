"""Authorising a card for an order: one attempt at a time per order (the claim is taken
before the provider is called), so an order never holds two authorisations.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import OrderError
from orders.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from orders.payments.claims import PAYMENT_METHOD_ID, set_order_payment_status
from orders.payments.operations import sync_payment
from orders.payments.providers import (
    Authorisation,
    PaymentProvider,
    online_provider,
)
from orders.selectors import lock_order


def authorise_payment(
    *, order: Order, payment_method: str, provider: PaymentProvider | None = None
) -> tuple[Payment, Authorisation]:
    """Authorise the order's total on the customer's card (a PaymentMethod id, never card data).

    Returns the Payment and the provider's answer; ``client_secret`` in it is for the
    customer's device when the card needs authentication, and is not stored. A decline raises
    ``card_declined`` (402) and writes nothing.

    One order, one hold: the attempt is claimed on the order (a payment row marked
    ``authorise``, under the order's lock) before the provider is called, so a second attempt
    while the first is under way (a double tap, the same checkout sent again, two tabs) is
    refused with ``payment_in_progress`` instead of reaching Stripe; the provider's idempotency
    key alone does not cover concurrent requests nor another card.
    """
    if not isinstance(payment_method, str) or not PAYMENT_METHOD_ID.match(payment_method):
        raise OrderError("bad_payment_method", _("Choose a card to pay with."), status=400)
    _check_awaiting_card(order)
    provider = provider or online_provider()
    waiting = _waiting_attempt(order, provider)
    if waiting is not None:
        return waiting
    claim = _claim_attempt(order, provider)
    try:
        auth = provider.authorise(order, payment_method)
    except OrderError:
        drop_attempt(claim)
        raise
    return _record_attempt(claim, auth), auth


def _check_awaiting_card(order: Order) -> None:
    """The order is paid online and still waits for its card (in the caller's lock, if any)."""
    if order.payment_method != PaymentMethod.ONLINE:
        raise OrderError("not_online", _("This order is paid at the counter."))
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderError(
            "not_awaiting_payment",
            _("Order %(number)s is not waiting for payment.") % {"number": order.number},
            current=order.status,
        )
    if order.payments.filter(status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]).exists():
        raise OrderError("already_authorised", _("This order is already paid for."))


# The claim of a card attempt whose PaymentIntent is being created (no reference yet).
AUTHORISE = "authorise"


# A client told an attempt is under way may ask again after this many seconds.
AUTHORISE_RETRY_AFTER = 1


def _claim_attempt(order: Order, provider) -> Payment:
    """Step 1 of a card attempt: under the order's lock, check it still waits for its card and
    no other attempt is under way, and write the attempt's row, claimed."""
    with transaction.atomic():
        locked = lock_order(order)
        _check_awaiting_card(locked)
        if locked.payments.filter(pending_operation=AUTHORISE).exists():
            raise OrderError(
                "payment_in_progress",
                _("The card for this order is already being authorised. Try again in a moment."),
                retry_after=AUTHORISE_RETRY_AFTER,
            )
        return Payment.objects.create(
            order=locked,
            provider=provider.name,
            method=Payment.Method.CARD,
            currency=locked.currency,
            status=PaymentStatus.UNPAID,
            pending_operation=AUTHORISE,
            pending_since=timezone.now(),
        )


def drop_attempt(claim: Payment) -> None:
    """The provider refused the attempt (or could not be reached): forget it, so nothing stays
    written and the customer may try again."""
    with transaction.atomic():
        Payment.objects.filter(
            pk=claim.pk, pending_operation=AUTHORISE, provider_reference=""
        ).delete()


def _record_attempt(claim: Payment, auth: Authorisation) -> Payment:
    """Step 3: give the claimed attempt its PaymentIntent and what the provider said, and end
    the claim. A webhook may have recorded the intent first (found by its order number): that
    row is kept and the claim's dropped. If the claim was given up meanwhile (settled as
    stale), the attempt gets a row of its own."""
    with transaction.atomic():
        order = lock_order(claim.order)
        own = Payment.objects.select_for_update().filter(pk=claim.pk).first()
        payment = (
            Payment.objects.select_for_update()
            .filter(provider=claim.provider, provider_reference=auth.reference)
            .first()
        )
        if payment is not None and own is not None:
            own.delete()
        payment = (
            payment
            or own
            or Payment(
                order=order,
                provider=claim.provider,
                method=Payment.Method.CARD,
                currency=order.currency,
                status=PaymentStatus.UNPAID,
            )
        )
        payment.provider_reference = auth.reference
        payment.pending_operation = ""
        payment.pending_since = None
        if auth.status == PaymentStatus.AUTHORISED and payment.status == PaymentStatus.UNPAID:
            payment.status = PaymentStatus.AUTHORISED
            payment.amount_authorised = auth.amount
        payment.save()
        if payment.status == PaymentStatus.AUTHORISED:
            set_order_payment_status(order, PaymentStatus.AUTHORISED)
    return payment


def _waiting_attempt(order: Order, provider) -> tuple[Payment, Authorisation] | None:
    """One PaymentIntent per attempt: while the order's last card attempt waits for the
    customer to authenticate it (3-D Secure), a card sent again (a double submit, a stale
    page) gets that attempt back instead of a second intent; an attempt the customer has
    finished meanwhile is recorded. None when there is no attempt to go on with (none yet, or
    the last one was refused or failed authentication): then a new attempt starts."""
    attempt = (
        order.payments.filter(
            provider=provider.name,
            refund_of__isnull=True,
            status=PaymentStatus.UNPAID,
            pending_operation="",
        )
        .exclude(provider_reference="")
        .order_by("-pk")
        .first()
    )
    if attempt is None:
        return None
    attempt, state = sync_payment(attempt, provider)
    if state.action_secret:
        auth = Authorisation(
            status="action_required",
            reference=attempt.provider_reference,
            amount=order.total,
            client_secret=state.action_secret,
        )
        return attempt, auth
    if attempt.status == PaymentStatus.AUTHORISED:
        auth = Authorisation(
            status=PaymentStatus.AUTHORISED,
            reference=attempt.provider_reference,
            amount=attempt.amount_authorised,
        )
        return attempt, auth
    return None
