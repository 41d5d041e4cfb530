"""Payment providers: the network side of taking money (DESIGN §4).

A provider talks to the payment service and returns what it said; it writes nothing. The
services in ``orders.services`` decide, lock and record, and call a provider outside their
locking transaction. Every mutating call to Stripe carries an idempotency key derived from the
order or payment and the operation, so a retried request never charges twice.

Amounts are Decimals in the order's currency here and integers in minor units on the wire.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from orders.errors import OrderError
from orders.models import Order, Payment, PaymentStatus

# Currencies without a minor unit (Stripe's list); everything else has cents.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd"}
    | {"vuv", "xaf", "xof", "xpf"}
)


def _exponent(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """12.50 EUR → 1250. Refuses amounts that do not fit the currency exactly."""
    scaled = Decimal(amount).scaleb(_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than the currency")
    return int(scaled)


def from_minor_units(amount: int, currency: str) -> Decimal:
    """1250 EUR → Decimal("12.50")."""
    return (Decimal(amount).scaleb(-_exponent(currency))).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Authorisation:
    """What the provider said about an authorisation attempt.

    ``status`` is ``authorised`` (capturable now), ``action_required`` (the customer must
    authenticate, e.g. 3-D Secure, with ``client_secret`` on their device) or ``unpaid``.
    ``client_secret`` is handed to the customer's browser or app, never stored.
    """

    status: str
    reference: str
    amount: Decimal
    client_secret: str = ""


@dataclass(frozen=True)
class ProviderState:
    """The provider's view of a payment after an operation or a retrieve."""

    status: str  # a PaymentStatus value
    amount_captured: Decimal | None = None
    # What the card holds for us (known once authorised).
    amount_authorised: Decimal | None = None
    # While the customer must authenticate (3-D Secure): the secret their device finishes it
    # with. Handed to the customer's page, never stored.
    action_secret: str = ""


@dataclass(frozen=True)
class Refund:
    reference: str
    amount: Decimal


class PaymentProvider(Protocol):
    name: str

    def authorise(self, order: Order, payment_method: str) -> Authorisation: ...

    def capture(self, payment: Payment, amount: Decimal) -> ProviderState: ...

    def cancel(self, payment: Payment) -> ProviderState: ...

    def refund(self, payment: Payment, amount: Decimal, *, key: str) -> Refund: ...

    def status(self, payment: Payment) -> ProviderState: ...

    def refunded(self, payment: Payment) -> Decimal: ...


def check_counter_method(method: str, reference: str) -> None:
    """Money taken or given back at the counter: by card on the store's terminal (its receipt
    number is the reference) or in cash."""
    if method not in Payment.Method.values:
        raise OrderError("bad_payment", _("Choose card or cash."), status=400)
    if method == Payment.Method.CARD and not reference:
        raise OrderError(
            "reference_required", _("Enter the card terminal receipt number."), status=400
        )


class InStoreProvider:
    """The counter: the clerk takes card or cash on the store's terminal; we only record it."""

    name = Payment.Provider.IN_STORE

    def authorise(self, order: Order, payment_method: str) -> Authorisation:
        return Authorisation(status=PaymentStatus.UNPAID, reference="", amount=Decimal(order.total))

    def capture(self, payment: Payment, amount: Decimal) -> ProviderState:
        return ProviderState(status=PaymentStatus.PAID, amount_captured=amount)

    def cancel(self, payment: Payment) -> ProviderState:
        return ProviderState(status=PaymentStatus.VOIDED, amount_captured=Decimal("0.00"))

    def refund(self, payment: Payment, amount: Decimal, *, key: str) -> Refund:
        return Refund(reference="", amount=amount)

    def status(self, payment: Payment) -> ProviderState:
        return ProviderState(status=payment.status, amount_captured=payment.amount_captured)

    def refunded(self, payment: Payment) -> Decimal:
        return payment.amount_refunded


# PaymentIntent status → our payment status.
INTENT_STATUS = {
    "requires_payment_method": PaymentStatus.UNPAID,
    "requires_confirmation": PaymentStatus.UNPAID,
    "requires_action": PaymentStatus.UNPAID,
    "processing": PaymentStatus.UNPAID,
    "requires_capture": PaymentStatus.AUTHORISED,
    "succeeded": PaymentStatus.PAID,
    "canceled": PaymentStatus.VOIDED,
}


def provider_error(exc: stripe.StripeError) -> OrderError:
    """A Stripe failure as the one domain error the views know how to show."""
    if isinstance(exc, stripe.CardError):
        return OrderError(
            "card_declined",
            _("The card was declined. Try another card or pay at the counter."),
            status=402,
            decline_code=exc.code or "",
        )
    if isinstance(exc, stripe.InvalidRequestError):
        return OrderError("payment_failed", _("The payment could not be processed."), status=402)
    # Network trouble, rate limits, Stripe's own errors, a wrong key: not the customer's fault.
    return OrderError(
        "payment_provider_unavailable",
        _("The payment service is not answering. Please try again in a moment."),
        status=502,
    )


def _charge_id(intent: dict[str, Any]) -> str:
    """``latest_charge`` is an id from Stripe, an expanded object from localstripe."""
    charge = intent.get("latest_charge") or ""
    return charge.get("id", "") if isinstance(charge, dict) else charge


class StripeProvider:
    """Stripe PaymentIntents with manual capture: authorise at checkout, capture at pickup."""

    name = Payment.Provider.STRIPE

    def __init__(self, client: stripe.StripeClient | None = None) -> None:
        self.client = client or self.default_client()

    @staticmethod
    def default_client() -> stripe.StripeClient:
        options: dict[str, Any] = {}
        if settings.STRIPE_API_BASE:
            options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)

    def _call(self, method, *args, **kwargs) -> dict[str, Any]:
        try:
            return method(*args, **kwargs).to_dict()
        except stripe.StripeError as exc:
            raise provider_error(exc) from exc

    def _state(self, intent: dict[str, Any], currency: str) -> ProviderState:
        status = INTENT_STATUS.get(intent["status"], PaymentStatus.UNPAID)
        captured = None
        if status == PaymentStatus.PAID:
            # Stripe says amount_received; localstripe does not, and its charge counts the
            # uncaptured rest as refunded, so the amount stays unknown (None) there.
            received = intent.get("amount_received")
            if received is not None:
                captured = from_minor_units(received, currency)
        elif status in (PaymentStatus.AUTHORISED, PaymentStatus.VOIDED):
            captured = Decimal("0.00")
        authorised = None
        if status == PaymentStatus.AUTHORISED and isinstance(intent.get("amount"), int):
            authorised = from_minor_units(
                intent.get("amount_capturable") or intent["amount"], currency
            )
        secret = intent.get("client_secret") or "" if intent["status"] == "requires_action" else ""
        return ProviderState(
            status=status,
            amount_captured=captured,
            amount_authorised=authorised,
            action_secret=secret,
        )

    def authorise(self, order: Order, payment_method: str) -> Authorisation:
        intent = self._call(
            self.client.v1.payment_intents.create,
            params={
                "amount": to_minor_units(order.total, order.currency),
                "currency": order.currency.lower(),
                "payment_method": payment_method,
                "payment_method_types": ["card"],
                "capture_method": "manual",
                "confirm": True,
                "metadata": {"order_number": order.number},
            },
            # The same card for the same order is one attempt, however often it is sent.
            options={"idempotency_key": f"{order.number}:authorise:{payment_method}"},
        )
        status = intent["status"]
        # The capturable state is read from the confirm response itself (DESIGN §4).
        if status == "requires_capture":
            result = PaymentStatus.AUTHORISED
        elif status == "requires_action":
            result = "action_required"
        elif status == "requires_payment_method":
            raise OrderError(
                "card_declined",
                _("The card was declined. Try another card or pay at the counter."),
                status=402,
            )
        else:
            result = INTENT_STATUS.get(status, PaymentStatus.UNPAID)
        secret = (intent.get("client_secret") or "") if result == "action_required" else ""
        return Authorisation(
            status=result,
            reference=intent["id"],
            amount=from_minor_units(intent["amount"], order.currency),
            client_secret=secret,
        )

    def capture(self, payment: Payment, amount: Decimal) -> ProviderState:
        minor = to_minor_units(amount, payment.currency)
        intent = self._call(
            self.client.v1.payment_intents.capture,
            payment.provider_reference,
            params={"amount_to_capture": minor},
            options={"idempotency_key": f"{payment.provider_reference}:capture:{minor}"},
        )
        state = self._state(intent, payment.currency)
        if state.status == PaymentStatus.PAID and state.amount_captured is None:
            state = ProviderState(status=state.status, amount_captured=amount)
        return state

    def cancel(self, payment: Payment) -> ProviderState:
        intent = self._call(
            self.client.v1.payment_intents.cancel,
            payment.provider_reference,
            options={"idempotency_key": f"{payment.provider_reference}:cancel"},
        )
        return self._state(intent, payment.currency)

    def refund(self, payment: Payment, amount: Decimal, *, key: str) -> Refund:
        refund = self._call(
            self.client.v1.refunds.create,
            params={
                "payment_intent": payment.provider_reference,
                "amount": to_minor_units(amount, payment.currency),
            },
            options={"idempotency_key": key},
        )
        return Refund(
            reference=refund["id"], amount=from_minor_units(refund["amount"], payment.currency)
        )

    def status(self, payment: Payment) -> ProviderState:
        intent = self._call(self.client.v1.payment_intents.retrieve, payment.provider_reference)
        return self._state(intent, payment.currency)

    def refunded(self, payment: Payment) -> Decimal:
        """The total refunded on the payment so far, as the provider counts it (the refunds
        made for the intent; localstripe also lists the uncaptured rest of a partial capture,
        without an intent, which is not money given back)."""
        refunds = self._call(
            self.client.v1.refunds.list,
            params={"payment_intent": payment.provider_reference, "limit": 100},
        )
        total = sum(
            refund["amount"]
            for refund in refunds.get("data", [])
            if refund.get("payment_intent") == payment.provider_reference
            and refund.get("status") in ("succeeded", "pending")
        )
        return from_minor_units(total, payment.currency)

    def retrieve(self, reference: str) -> dict[str, Any]:
        """The raw PaymentIntent (for reconciliation and tests)."""
        return self._call(self.client.v1.payment_intents.retrieve, reference)


def online_payments_enabled() -> bool:
    """Online payment is offered when Stripe is configured (server and browser keys)."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def is_test_mode() -> bool:
    """Payments go to a Stripe test account or a fake Stripe: nothing real is charged, and the
    pages say so."""
    return bool(settings.STRIPE_API_BASE) or settings.STRIPE_SECRET_KEY.startswith("sk_test_")


def online_provider() -> PaymentProvider:
    return StripeProvider()


def provider_for(payment: Payment) -> PaymentProvider:
    if payment.provider == Payment.Provider.STRIPE:
        return StripeProvider()
    return InStoreProvider()
