"""Paying online for an order: sending the card, confirming the order once it is authorised,
switching to paying at the counter, cancelling an order left unpaid.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.services import (
    record_touchpoint,
)
from orders.errors import OrderError
from orders.models import (
    Actor,
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from orders.payments.attempts import authorise_payment
from orders.payments.operations import sync_payment, void_authorisations
from orders.payments.providers import (
    PaymentProvider,
    provider_for,
)
from orders.selectors import lock_order
from orders.services.lifecycle import cancel_locked, transition


def confirm_online_order(*, order: Order, channel: str = "") -> Order:
    """An online order waiting for payment becomes ``placed`` once its card is authorised
    (or already captured). Called after checkout and by the webhook; a no-op otherwise, so
    it is safe to call twice."""
    with transaction.atomic():
        order = lock_order(order)
        if (
            order.status == OrderStatus.PENDING_PAYMENT
            and order.payments.filter(
                status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]
            ).exists()
        ):
            transition(
                order=order,
                to=OrderStatus.PLACED,
                actor=Actor.SYSTEM,
                channel=channel or order.channel,
                note="card authorised",
            )
    return order


def pay_online(
    *,
    order: Order,
    payment_method: str,
    channel: str,
    user=None,
    provider: PaymentProvider | None = None,
    cancel_on_decline: bool = True,
) -> tuple[Order, str]:
    """Authorise an order placed ``pending_payment`` (after its checkout has committed; the
    Stripe call holds no lock). Returns the order and the ``client_secret`` when the card needs
    authentication on the customer's device ("" otherwise). A declined card raises
    ``card_declined`` (402) and, with ``cancel_on_decline`` (the API's one-shot checkout),
    cancels the order, giving its stock and slot back; the web's payment page keeps the order
    waiting instead, so the shopper can try another card or pay at the counter."""
    if (
        order.status != OrderStatus.PENDING_PAYMENT
        or order.payments.filter(status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]).exists()
    ):
        return confirm_online_order(order=order, channel=channel), ""
    try:
        _payment, auth = authorise_payment(
            order=order, payment_method=payment_method, provider=provider
        )
    except OrderError as error:
        if error.code in ("already_authorised", "not_awaiting_payment"):
            # Another attempt for this order was authorised (and placed it) meanwhile: that is
            # the answer, as if it had been done before this call.
            return confirm_online_order(order=order, channel=channel), ""
        if error.status == 402:
            record_touchpoint(
                customer=order.customer,
                channel=channel,
                kind="payment_failed",
                payload={"order": order.number, "code": error.code},
            )
        if cancel_on_decline and error.code in (
            "card_declined",
            "bad_payment_method",
            "payment_failed",
        ):
            with transaction.atomic():
                locked = lock_order(order)
                if locked.status == OrderStatus.PENDING_PAYMENT:
                    cancel_locked(
                        order=locked,
                        reason=f"payment refused: {error.code}",
                        actor=Actor.SYSTEM,
                        channel=channel,
                        user=user,
                    )
        raise
    order = confirm_online_order(order=order, channel=channel)
    return order, auth.client_secret if order.status == OrderStatus.PENDING_PAYMENT else ""


def check_online_payment(
    *, order: Order, channel: str, provider: PaymentProvider | None = None
) -> tuple[Order, str]:
    """Where the order's card payment stands, after the customer authenticated their card
    (3-D Secure) on their device or when they come back to pay: ask the provider about the
    latest attempt (the same PaymentIntent, never a new one) and place the order if it is now
    authorised. Returns the order and, while that attempt still waits for the customer to
    authenticate, the secret to finish it with ("" otherwise). Nothing changes if it is not
    authorised (the customer may try again)."""
    attempt = (
        order.payments.filter(provider=Payment.Provider.STRIPE, refund_of__isnull=True)
        .exclude(provider_reference="")
        .order_by("-pk")
        .first()
    )
    if attempt is None:
        return order, ""  # no card sent yet: nothing to ask, nothing to place
    waiting = ""
    if attempt.status == PaymentStatus.UNPAID:
        attempt, state = sync_payment(attempt, provider or provider_for(attempt))
        waiting = state.action_secret
    if attempt.status in (PaymentStatus.AUTHORISED, PaymentStatus.PAID):
        order = confirm_online_order(order=order, channel=channel)
    return order, waiting if order.status == OrderStatus.PENDING_PAYMENT else ""


def pay_at_counter_instead(*, order: Order, channel: str, user=None) -> Order:
    """An online order not paid yet switches to paying at the counter: it is placed, keeping
    its stock and pickup time. Refused once a card authorisation has been recorded. Any card
    attempt still open is released after commit (and by the payment sweep if that fails)."""
    with transaction.atomic():
        locked = lock_order(order)
        if locked.payment_method != PaymentMethod.ONLINE:
            return locked
        if locked.status != OrderStatus.PENDING_PAYMENT:
            raise OrderError(
                "not_awaiting_payment",
                _("Order %(number)s is not waiting for payment.") % {"number": locked.number},
                current=locked.status,
            )
        if locked.payments.filter(
            status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]
        ).exists():
            raise OrderError("already_authorised", _("This order is already paid for."))
        locked.payment_method = PaymentMethod.IN_STORE
        transition(
            order=locked,
            to=OrderStatus.PLACED,
            actor=Actor.CUSTOMER,
            channel=channel,
            user=user,
            note="pay at the counter",
            extra_fields=["payment_method"],
        )
    void_authorisations(locked)
    return locked


def cancel_unpaid_order(*, order: Order, now: datetime | None = None) -> Order | None:
    """An online order still waiting for payment after ONLINE_PAYMENT_TIMEOUT_MINUTES is
    cancelled, giving its stock and slot back, and any card hold is released once that has
    committed. An order whose authorisation did arrive (a webhook lost) is placed instead.
    Safe to run twice: returns the cancelled order, or None if it was left alone."""
    now = now or timezone.now()
    deadline = now - timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES)
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status != OrderStatus.PENDING_PAYMENT or locked.created_at > deadline:
            return None
        if locked.payments.filter(
            status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]
        ).exists():
            cancelled = None
        else:
            cancelled = cancel_locked(
                order=locked,
                reason="payment not completed in time",
                actor=Actor.SYSTEM,
                channel=locked.channel,
                user=None,
            )
    if cancelled is None:
        confirm_online_order(order=order)
        return None
    void_authorisations(cancelled)
    return cancelled
