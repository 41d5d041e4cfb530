"""Handing an order over at the counter: collected and refused units, stock consumed and
returned, and the card captured for what was taken.
"""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Channel
from orders.errors import OrderError
from orders.models import (
    Actor,
    Handover,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from orders.payments.claims import claim_payment, mark_pending
from orders.payments.operations import capture_payment, check_capture_ceiling, online_payment
from orders.payments.providers import (
    PaymentProvider,
    check_counter_method,
)
from orders.selectors import (
    card_payment,
    handover_total,
    lock_order,
)
from orders.services.lifecycle import check_move, transition
from orders.services.pickup import forget_pickup_verification


def _collection_lines(
    order: Order, *, quantities: dict[str, int], collector: str
) -> tuple[list[OrderLine], Decimal]:
    """Check a handover of ``order`` (locked) and return its lines with ``collected_quantity``
    set, and the collected total."""
    check_move(order, OrderStatus.COLLECTED)
    lines = list(order.lines.order_by("variant_id"))
    unknown = set(quantities) - {ln.sku for ln in lines}
    if unknown:
        raise OrderError(
            "unknown_line",
            _("These items are not in the order: %(skus)s") % {"skus": ", ".join(sorted(unknown))},
            status=400,
        )
    for line in lines:
        qty = quantities.get(line.sku, line.quantity)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= line.quantity:
            raise OrderError(
                "bad_quantity",
                _("Collected quantity for %(sku)s must be between 0 and %(max)d.")
                % {"sku": line.sku, "max": line.quantity},
                status=400,
            )
        line.collected_quantity = qty
    collected_total = handover_total(lines, {ln.sku: ln.collected_quantity for ln in lines})
    if not any(ln.collected_quantity for ln in lines):
        raise OrderError(
            "nothing_collected",
            _("At least one item must be handed over to collect the order."),
            status=400,
        )
    if collector == Handover.Collector.DELEGATE and not order.pickup_person:
        raise OrderError(
            "no_delegate", _("The customer did not name anyone else to collect."), status=400
        )
    return lines, collected_total


def _capture_for_collection(
    *, order: Order, quantities: dict[str, int], collector: str, provider
) -> None:
    """Online orders: take exactly the collected total before anything is handed over.

    The capture is claimed on the payment under the order's lock, so cancellation and expiry
    (which refuse an order with a capture in flight or done) cannot win in between; the
    network call then runs outside any lock. If the card refuses, nothing is handed over; if
    it succeeds, the handover that follows cannot be refused for a reason it was not checked
    for here, and a retry after a crash finds the capture done and only records the handover.
    """
    with transaction.atomic():
        locked = lock_order(order)
        _lines, total = _collection_lines(locked, quantities=quantities, collector=collector)
        payment = online_payment(locked)
        if (
            payment is not None
            and payment.status == PaymentStatus.PAID
            and payment.amount_captured == total
            and not payment.pending_operation
        ):
            return
        if payment is None or payment.status != PaymentStatus.AUTHORISED:
            raise OrderError(
                "not_authorised",
                _("The card payment for this order is not authorised: it cannot be handed over."),
                current=payment.status if payment else PaymentStatus.UNPAID,
            )
        operation = f"capture:{total}"
        payment = claim_payment(payment, operation, allowed={PaymentStatus.AUTHORISED})
        check_capture_ceiling(payment, total)
        mark_pending(payment, operation)
    capture_payment(payment=payment, amount=total, provider=provider)


def _counter_pays(order: Order) -> bool:
    """Payment is taken at the counter: the order was placed to pay there, or its card hold is
    gone (see ``selectors.card_payment``)."""
    card = card_payment(order)
    return card is None or card.counter_pays


def collect_order(
    *,
    order: Order,
    user,
    quantities: dict[str, int],
    payment_method: str,
    reference: str,
    collector: str,
    verified_by: str,
    device: str,
    now: datetime | None = None,
    provider: PaymentProvider | None = None,
) -> Order:
    """Hand the order over: what was collected leaves the shelf, refused lines go back.

    ``quantities`` maps each line's sku to the units handed over (0 = refused). Records the
    payment for exactly what was collected and the proof of handover. An online order's card
    is charged exactly the collected total first (see ``_capture_for_collection``); one whose
    card hold is gone (never authorised, released, lapsed) is paid at the counter instead,
    like an order placed to pay there.
    """
    now = now or timezone.now()
    if verified_by not in Handover.Verification.values:
        raise OrderError(
            "not_verified", _("Scan the QR code or check the pickup code first."), status=400
        )
    if collector not in Handover.Collector.values:
        raise OrderError("bad_collector", _("Say who is collecting the order."), status=400)
    if order.payment_method == PaymentMethod.ONLINE and not _counter_pays(order):
        _capture_for_collection(
            order=order, quantities=quantities, collector=collector, provider=provider
        )
    with transaction.atomic():
        order = lock_order(order)
        lines, collected_total = _collection_lines(
            order, quantities=quantities, collector=collector
        )
        reference = (reference or "").strip()[:120]
        if _counter_pays(order):
            _take_counter_payment(order, collected_total, payment_method, reference, now=now)
        else:
            _check_card_still_paid(order)
        OrderLine.objects.bulk_update(lines, ["collected_quantity"])
        _record_handover(order, user, collector, verified_by, device, now=now)
        refused = [ln.sku for ln in lines if ln.collected_quantity < ln.quantity]
        transition(
            order=order,
            to=OrderStatus.COLLECTED,
            actor=Actor.STAFF,
            channel=Channel.STORE,
            user=user,
            note=("refused: " + ", ".join(refused)) if refused else "",
            now=now,
            extra_fields=["payment_status"],
        )
        return order


def _record_handover(order: Order, clerk, collector: str, verified_by: str, device: str, *, now):
    """The proof of handover: who collected, how they were checked, by which clerk and device.
    Every clerk's lookup of the order is used up."""
    Handover.objects.create(
        order=order,
        collector=collector,
        collector_name=order.pickup_person
        if collector == Handover.Collector.DELEGATE
        else order.contact_name,
        verified_by=verified_by,
        clerk=clerk,
        device=(device or "unknown")[:200],
        collected_at=now,
    )
    forget_pickup_verification(order=order)


def _check_card_still_paid(order: Order) -> None:
    """The capture before the handover is still what the payment shows."""
    payment = online_payment(order)
    if payment.status != PaymentStatus.PAID or payment.pending_operation:
        # Authorised after the check above (a late webhook): capture it first.
        raise OrderError(
            "payment_changed",
            _("The card payment changed meanwhile. Please confirm the handover again."),
            current=payment.status,
        )


def _take_counter_payment(
    order: Order, total: Decimal, method: str, reference: str, *, now: datetime
) -> None:
    """The customer pays ``total`` at the counter, by card (with the terminal's receipt
    number) or in cash."""
    check_counter_method(method, reference)
    Payment.objects.create(
        order=order,
        provider=Payment.Provider.IN_STORE,
        method=method,
        reference=reference,
        currency=order.currency,
        amount_authorised=total,
        amount_captured=total,
        status=PaymentStatus.PAID,
        created_at=now,
        captured_at=now,
    )
    order.payment_status = PaymentStatus.PAID
