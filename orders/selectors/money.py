"""What an order's money looks like: the card payment and its hold, what was taken, what can
still be refunded, and the summary the tablet and the order page show.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Prefetch,
)
from django.utils.translation import gettext_lazy as _

from core.display import money
from orders.errors import OrderError
from orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)

ZERO = Decimal("0.00")


def detail():
    return Order.objects.select_related("store", "customer", "handover__clerk").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch(
            "events",
            queryset=OrderEvent.objects.select_related("user").order_by("created_at", "pk"),
        ),
        Prefetch("payments", queryset=Payment.objects.select_related("user")),
    )


# Card holds are released by us this long before the card network would let them lapse.
AUTHORISATION_MARGIN = timedelta(hours=2)


def authorisation_deadline(payment: Payment) -> datetime:
    """When we release an authorised card hold that was not captured (the networks allow
    CARD_AUTHORISATION_DAYS; we stop a little before)."""
    return (
        payment.created_at
        + timedelta(days=settings.CARD_AUTHORISATION_DAYS)
        - (AUTHORISATION_MARGIN)
    )


@dataclass(frozen=True)
class CardPayment:
    """Where an online order's card payment stands, for the tablet and the shopper."""

    status: str  # a PaymentStatus value; "unpaid" when there is no authorisation at all
    amount_authorised: Decimal
    amount_captured: Decimal
    # The authorisation is released at this time if it has not been captured by then.
    releases_at: datetime | None
    # No usable card hold (never authorised, released, or lapsed): the clerk takes payment at
    # the counter when the order is collected.
    counter_pays: bool
    # The hold on the goods lasts longer than the card authorisation.
    lapses_during_hold: bool


def card_payment(order: Order) -> CardPayment | None:
    """The card payment of an online order (None for orders paid at the counter). Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    if order.payment_method != PaymentMethod.ONLINE:
        return None
    attempts = [
        p
        for p in order.payments.all()
        if p.provider == Payment.Provider.STRIPE
        and p.refund_of_id is None
        and p.status != PaymentStatus.UNPAID
    ]
    payment = max(attempts, key=lambda p: p.pk) if attempts else None
    if payment is None:
        return CardPayment(PaymentStatus.UNPAID, ZERO, ZERO, None, True, False)
    releases_at = (
        authorisation_deadline(payment) if payment.status == PaymentStatus.AUTHORISED else None
    )
    return CardPayment(
        status=payment.status,
        amount_authorised=payment.amount_authorised,
        amount_captured=payment.amount_captured,
        releases_at=releases_at,
        counter_pays=payment.status not in (PaymentStatus.AUTHORISED, PaymentStatus.PAID),
        lapses_during_hold=bool(
            releases_at and order.hold_until and order.hold_until > releases_at
        ),
    )


def paid_payment(order: Order) -> Payment | None:
    """The payment the money for ``order`` was taken on at collection (card or till; an
    online order may end up paid at the counter), which a refund gives back from. Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    taken = [
        p
        for p in order.payments.all()
        if p.refund_of_id is None and p.status in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
    ]
    return max(taken, key=lambda p: p.pk) if taken else None


def money_taken(order: Order) -> list[Payment]:
    """The payments on which money was really taken for ``order`` (captured online or taken
    at the till), oldest first: never a declined, unfinished or released card attempt. Uses
    ``order.payments.all()``, so a prefetch makes it free."""
    return [
        p
        for p in order.payments.all()
        if p.refund_of_id is None
        and p.status in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
        and p.amount_captured > 0
    ]


def money_taken_text(payment: Payment) -> str:
    """How the money of ``payment`` was taken, in words: "Charged €34.90 to the card
    authorised online", "Took €34.90 by card (receipt 1234)", "Took €12.00 in cash"."""
    amount = {"amount": money(payment.amount_captured, payment.currency)}
    if payment.provider == Payment.Provider.STRIPE:
        return _("Charged %(amount)s to the card authorised online") % amount
    if payment.method == Payment.Method.CARD:
        if payment.reference:
            return _("Took %(amount)s by card (receipt %(reference)s)") % {
                **amount,
                "reference": payment.reference,
            }
        return _("Took %(amount)s by card") % amount
    if payment.reference:
        return _("Took %(amount)s in cash (receipt %(reference)s)") % {
            **amount,
            "reference": payment.reference,
        }
    return _("Took %(amount)s in cash") % amount


def handover_total(lines, quantities: dict[str, int]) -> Decimal:
    """What handing over ``quantities`` (sku → units; a line not named: all of it) of these
    order lines comes to: what the collection charges the card or takes at the counter, and
    the tablet's "amount to take" while the clerk sets the quantities."""
    return sum((line.unit_price * quantities.get(line.sku, line.quantity) for line in lines), ZERO)


def check_refundable(order: Order) -> None:
    """Only a collected order can be refunded (``OrderError`` otherwise)."""
    if order.status != OrderStatus.COLLECTED:
        raise OrderError(
            "not_collected",
            _("Order %(number)s is %(status)s: only a collected order can be refunded.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )


def refund_plan(order: Order, quantities: dict[str, int] | None):
    """The lines and units a refund of ``quantities`` (sku → units; None: everything left)
    gives money back for, and the amount: what the refund service does, and what the tablet
    asks the clerk to confirm first. Raises ``OrderError`` for what cannot be refunded."""
    lines = list(order.lines.all())
    left = {ln.pk: (ln.collected_quantity or 0) - ln.refunded_quantity for ln in lines}
    if not any(left.values()):
        raise OrderError(
            "already_refunded", _("Everything collected in this order was already refunded.")
        )
    if quantities is None:
        picked = [(ln, left[ln.pk]) for ln in lines]
    else:
        unknown = set(quantities) - {ln.sku for ln in lines}
        if unknown:
            raise OrderError(
                "unknown_line",
                _("These items are not in the order: %(skus)s")
                % {"skus": ", ".join(sorted(unknown))},
                status=400,
            )
        picked = []
        for line in lines:
            units = quantities.get(line.sku, 0)
            if isinstance(units, bool) or not isinstance(units, int):
                units = -1
            if not 0 <= units <= left[line.pk]:
                raise OrderError(
                    "bad_quantity",
                    _("Refunded quantity for %(sku)s must be between 0 and %(max)d.")
                    % {"sku": line.sku, "max": left[line.pk]},
                    status=400,
                )
            picked.append((line, units))
    picked = [(line, units) for line, units in picked if units]
    amount = sum((line.unit_price * units for line, units in picked), ZERO)
    if not picked or amount <= 0:
        raise OrderError("nothing_to_refund", _("Choose at least one item to refund."), status=400)
    return picked, amount


@dataclass(frozen=True)
class RefundSummary:
    refunds: list  # the refund rows, oldest first
    refundable: Decimal  # collected and not refunded yet
    at_till: bool  # the money was taken at the till, so it goes back there
    can_refund: bool  # collected, with something left to refund: the refund form is offered


def refund_summary(order: Order) -> RefundSummary:
    """An order's refunds so far, what is left to refund and where the money goes back, and
    whether a refund is on offer (the tablet's and the admin's one rule); from prefetched
    lines/payments."""
    payments = list(order.payments.all())
    taken = paid_payment(order)
    refundable = sum(
        (
            ln.unit_price * ((ln.collected_quantity or 0) - ln.refunded_quantity)
            for ln in order.lines.all()
        ),
        ZERO,
    )
    return RefundSummary(
        refunds=sorted((p for p in payments if p.refund_of_id), key=lambda p: (p.created_at, p.pk)),
        refundable=refundable,
        at_till=taken is not None and taken.provider == Payment.Provider.IN_STORE,
        can_refund=order.status == OrderStatus.COLLECTED and refundable > 0,
    )


# What the money of an order amounts to, for the customer (``MoneySummary.status``).
MONEY_STATUSES = {
    "awaiting_payment": _("Awaiting card payment"),
    "authorised": _("Authorised, charged at pickup"),
    "pay_at_counter": _("To pay at the counter"),
    "charged": _("Charged"),
    "partly_refunded": _("Partly refunded"),
    "refunded": _("Refunded"),
    "not_charged": _("Nothing charged"),
}


@dataclass(frozen=True)
class MoneySummary:
    """An order's money as it stands: what was ordered, handed over, held on the card,
    charged (captured online or taken at the till), given back, and the net."""

    currency: str
    ordered: Decimal
    collected: Decimal | None  # the value handed over; None until the order is collected
    authorised: Decimal  # a card hold not charged yet
    charged: Decimal
    refunded: Decimal
    status: str  # a key of MONEY_STATUSES

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded

    @property
    def label(self) -> str:
        return MONEY_STATUSES[self.status]


def money_summary(order: Order) -> MoneySummary:
    """The one account of an order's money, for the shopper's page, the API and the receipt.

    From the order's lines (what was handed over) and its payments (not the refund rows: each
    payment keeps its refunded total). Uses ``order.lines.all()`` and ``order.payments.all()``,
    so a prefetch makes it free.
    """
    lines = list(order.lines.all())
    payments = [p for p in order.payments.all() if p.refund_of_id is None]
    handed_over = any(line.collected_quantity is not None for line in lines)
    charged = sum((p.amount_captured for p in payments), ZERO)
    refunded = sum((p.amount_refunded for p in payments), ZERO)
    authorised = sum(
        (p.amount_authorised for p in payments if p.status == PaymentStatus.AUTHORISED), ZERO
    )
    if charged > 0 and refunded >= charged:
        status = "refunded"
    elif charged > 0 and refunded > 0:
        status = "partly_refunded"
    elif charged > 0:
        status = "charged"
    elif authorised > 0:
        status = "authorised"
    elif order.status == OrderStatus.PENDING_PAYMENT:
        status = "awaiting_payment"
    elif order.is_open:
        status = "pay_at_counter"
    else:
        status = "not_charged"
    return MoneySummary(
        currency=order.currency,
        ordered=order.total,
        collected=sum((ln.collected_total for ln in lines), ZERO) if handed_over else None,
        authorised=authorised,
        charged=charged,
        refunded=refunded,
        status=status,
    )
