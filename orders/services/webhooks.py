"""Stripe's webhooks: events are applied once, and only to intents the shop itself started
(others are recorded as anomalies for the reconciliation).
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from orders.errors import OrderError
from orders.models import (
    Order,
    Payment,
    PaymentAnomaly,
    PaymentMethod,
    PaymentStatus,
    StripeEvent,
)
from orders.payments.claims import apply_provider_state, order_follows
from orders.payments.operations import record_refund
from orders.payments.providers import (
    ProviderState,
    Refund,
    from_minor_units,
    online_provider,
)
from orders.selectors import lock_order
from orders.services.online import confirm_online_order
from orders.services.refunds import note_refund

logger = logging.getLogger(__name__)


#
# Stripe may deliver an event more than once and in any order. Each event id is stored once
# (a repeat does nothing), and every event only moves the payment forward, with amounts that
# only grow, so whatever the order of arrival the payment ends in the same state.
_INTENT_EVENTS = {
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORISED,
    "payment_intent.succeeded": PaymentStatus.PAID,
    "payment_intent.canceled": PaymentStatus.VOIDED,
    # A failed attempt leaves the payment unpaid; recorded, nothing to move.
    "payment_intent.payment_failed": PaymentStatus.UNPAID,
}


# Events that move money: an intent they name must be one the shop started.
_MONEY_EVENTS = {
    kind
    for kind, to in _INTENT_EVENTS.items()
    if to in (PaymentStatus.AUTHORISED, PaymentStatus.PAID)
}


@dataclass(frozen=True)
class _Vetted:
    """What a money event about an intent we have no payment for turned out to be: ``order``
    to record it for, or ``refused`` (a ``PaymentAnomaly.Kind``) with what was found."""

    order: Order | None
    refused: str = ""
    amount: Decimal | None = None
    currency: str = ""
    detail: str = ""


def _intent_money(intent: dict) -> tuple[Decimal | None, str]:
    """The amount and currency an intent (as Stripe or an event has it) is for."""
    currency = str(intent.get("currency") or "")[:3].upper()
    amount = intent.get("amount")
    if not currency or not isinstance(amount, int) or isinstance(amount, bool):
        return None, currency
    if not 0 <= amount < 10**10:
        return None, currency
    return from_minor_units(amount, currency), currency


def _intent_order_number(intent: dict) -> str:
    metadata = intent.get("metadata")
    number = metadata.get("order_number") if isinstance(metadata, dict) else ""
    return number if isinstance(number, str) else ""


def _vet_unknown_intent(kind: str, intent: dict) -> _Vetted | None:
    """Adopt an intent we have no payment for (the answer to our authorise call was lost)
    only if the provider itself says it was made for the order it names, for that order's
    amount and currency: a signed event alone does not make a payment ours. None when there is
    nothing to vet: not a money event, or the intent is one of ours. Called outside any
    transaction (it may ask the provider); raises ``payment_provider_unavailable`` (502) when
    the provider cannot be asked, so the event is left for Stripe to deliver again."""
    reference = intent.get("id")
    if kind not in _MONEY_EVENTS or not isinstance(reference, str) or not reference:
        return None
    if Payment.objects.filter(
        provider=Payment.Provider.STRIPE, provider_reference=reference
    ).exists():
        return None
    amount, currency = _intent_money(intent)
    number = _intent_order_number(intent)
    order = Order.objects.filter(number=number, payment_method=PaymentMethod.ONLINE).first()
    if order is None:
        return _Vetted(
            None, PaymentAnomaly.Kind.UNKNOWN_ORDER, amount, currency, f"order {number[:40]!r}"
        )
    try:
        fetched = online_provider().retrieve(reference)
    except OrderError as error:
        if error.status >= 500:
            raise
        detail = f"not found at the provider ({error.code})"
        return _Vetted(order, PaymentAnomaly.Kind.UNKNOWN_INTENT, amount, currency, detail)
    return _vet_against(order, fetched)


def _vet_against(order: Order, intent: dict) -> _Vetted:
    """The provider's own copy of an intent against the order it should be for."""
    amount, currency = _intent_money(intent)
    expected = f"{order.total} {order.currency}"
    if _intent_order_number(intent) != order.number:
        kind = PaymentAnomaly.Kind.ORDER_MISMATCH
        detail = f"made for order {_intent_order_number(intent)[:40]!r}"
    elif currency != order.currency.upper():
        kind = PaymentAnomaly.Kind.CURRENCY_MISMATCH
        detail = f"{amount} {currency} for an order of {expected}"
    elif amount != order.total:
        kind = PaymentAnomaly.Kind.AMOUNT_MISMATCH
        detail = f"{amount} {currency} for an order of {expected}"
    else:
        return _Vetted(order)
    return _Vetted(order, kind, amount, currency, detail)


def _record_anomaly(vetted: _Vetted, *, reference: str, event_id: str) -> None:
    """A refused event, for the reconciliation (in the event's transaction) and the logs."""
    PaymentAnomaly.objects.create(
        order=vetted.order,
        provider=Payment.Provider.STRIPE,
        provider_reference=reference[:255],
        event_id=event_id,
        kind=vetted.refused,
        amount=vetted.amount,
        currency=vetted.currency,
        detail=vetted.detail[:255],
    )
    logger.warning(
        "Stripe event %s about %s refused: %s (%s)",
        event_id,
        reference[:255],
        vetted.refused,
        vetted.detail,
    )


def _payment_for_intent(intent: dict, *, adopt: Order | None = None) -> Payment | None:
    """Our payment for a PaymentIntent, by its id, locked; else, with ``adopt`` (an order the
    intent was vetted for, see ``_vet_unknown_intent``), a payment recorded for it now. An
    intent we do not know is otherwise left unrecorded: a failed or cancelled attempt moved no
    money, and a payment row for it would read as one (a declined first card)."""
    reference = intent.get("id") or ""
    payment = (
        Payment.objects.select_for_update()
        .select_related("order")
        .filter(provider=Payment.Provider.STRIPE, provider_reference=reference)
        .first()
    )
    if payment or not reference or adopt is None:
        return payment
    order = lock_order(adopt)
    return Payment.objects.create(
        order=order,
        provider=Payment.Provider.STRIPE,
        provider_reference=reference,
        method=Payment.Method.CARD,
        currency=order.currency,
        status=PaymentStatus.UNPAID,
    )


def _apply_intent_event(payment: Payment, to: str, intent: dict) -> bool:
    def amount(field: str) -> Decimal | None:
        value = intent.get(field)
        return from_minor_units(value, payment.currency) if isinstance(value, int) else None

    authorised = amount("amount_capturable") or amount("amount")
    fields = set()
    if (
        to in (PaymentStatus.AUTHORISED, PaymentStatus.PAID)
        and payment.status == PaymentStatus.UNPAID
        and authorised is not None
        and authorised > payment.amount_authorised
    ):
        payment.amount_authorised = authorised
        fields.add("amount_authorised")
    received = amount("amount_received")
    state = ProviderState(status=to, amount_captured=received)
    if to == PaymentStatus.PAID and received is not None and received > payment.amount_authorised:
        payment.amount_authorised = received
        fields.add("amount_authorised")
    if to != PaymentStatus.UNPAID and apply_provider_state(payment, state):
        fields |= {"status", "amount_captured", "captured_at"}
    if fields:
        payment.save(update_fields=sorted(fields))
        order_follows(payment)
    return "status" in fields or "amount_authorised" in fields


def _apply_refund_event(payment: Payment, charge: dict) -> bool:
    """A refund Stripe tells us about: one made here (already or about to be recorded by its
    own step) or one made elsewhere, e.g. in Stripe's dashboard, recorded now as a refund row
    for what the total grew by."""
    refunded = charge.get("amount_refunded")
    if payment.status not in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
        return False
    if not isinstance(refunded, int):
        return False
    if payment.pending_operation.startswith("refund:"):
        # Our own refund is in flight: its record step counts it, with its lines.
        return False
    # Amounts on the charge are totals so far: a repeat or a late event cannot add twice.
    total = min(from_minor_units(refunded, payment.currency), payment.amount_captured)
    if total <= payment.amount_refunded:
        return False
    refund = record_refund(
        payment,
        before=payment.amount_refunded,
        refund=Refund(reference="", amount=total - payment.amount_refunded),
        note="refunded in Stripe",
    )
    note_refund(payment.order, refund, [], channel=payment.order.channel)
    return True


def handle_stripe_event(*, event: dict) -> bool:
    """Record a verified Stripe event once and apply it. False if it was seen before.

    A money event about an intent we have no payment for is vetted first (see
    ``_vet_unknown_intent``). Refused, it changes nothing and is recorded as a
    ``PaymentAnomaly`` that the reconciliation lists; the event is still acknowledged (200),
    as Stripe sending it again would not change the answer."""
    kind = str(event.get("type") or "")[:100]
    event_id = str(event["id"])[:255]
    obj = (event.get("data") or {}).get("object") or {}
    if StripeEvent.objects.filter(event_id=event_id).exists():
        return False
    vetted = _vet_unknown_intent(kind, obj) if isinstance(obj, dict) else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(event_id=event_id, type=kind)
        except IntegrityError:
            return False
        if vetted is not None and vetted.refused:
            _record_anomaly(vetted, reference=str(obj.get("id")), event_id=event_id)
            return True
        payment, changed = _apply_event(kind, obj, adopt=vetted.order if vetted else None)
        if payment is not None or changed:
            record.payment = payment
            record.changed = changed
            record.save(update_fields=["payment", "changed"])
    return True


def _apply_event(kind: str, obj, *, adopt: Order | None) -> tuple[Payment | None, bool]:
    """Apply an intent or refund event to our payment (in the event's transaction): the
    payment, if it is one of ours, and whether it changed."""
    if not isinstance(obj, dict):
        return None, False
    if kind in _INTENT_EVENTS:
        payment = _payment_for_intent(obj, adopt=adopt)
        if payment is None:
            return None, False
        changed = _apply_intent_event(payment, _INTENT_EVENTS[kind], obj)
        if payment.status in (PaymentStatus.AUTHORISED, PaymentStatus.PAID):
            confirm_online_order(order=payment.order)
        return payment, changed
    if kind == "charge.refunded":
        intent_id = obj.get("payment_intent")
        if isinstance(intent_id, dict):
            intent_id = intent_id.get("id")
        payment = _payment_for_intent({"id": intent_id}) if intent_id else None
        if payment is not None:
            return payment, _apply_refund_event(payment, obj)
    return None, False
