"""Orders, payments and handovers written straight to the database, as the services would
have left them, so that every amount, time and odd state is exactly the one under test (the
managers' reports: reconciliation, sales)."""

from datetime import datetime, timedelta
from decimal import Decimal

from orders.models import (
    Handover,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from tests.support.factories import CustomerFactory, VariantFactory

D = Decimal


def make_order(
    store,
    *lines,
    status=OrderStatus.PLACED,
    method=PaymentMethod.ONLINE,
    payment_status=PaymentStatus.UNPAID,
    currency="EUR",
    created_at: datetime,
    channel="web",
):
    """An order with ``lines`` of (unit price, quantity, collected quantity or None)."""
    total = sum((D(price) * qty for price, qty, _ in lines), D("0.00"))
    slot = created_at + timedelta(hours=2)
    order = Order.objects.create(
        customer=CustomerFactory(),
        store=store,
        channel=channel,
        status=status,
        payment_method=method,
        payment_status=payment_status,
        currency=currency,
        total=total,
        slot_start=slot,
        slot_end=slot + timedelta(minutes=30),
        contact_name="Ana",
        contact_email="ana@example.test",
        created_at=created_at,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant=VariantFactory(),
                sku=f"SKU-{i}",
                name=f"Item {i}",
                unit_price=D(price),
                quantity=qty,
                collected_quantity=collected,
            )
            for i, (price, qty, collected) in enumerate(lines)
        ]
    )
    return order


def pay(order, amount, *, provider="stripe", method="card", status=PaymentStatus.PAID, **extra):
    amount = D(amount)
    captured = amount if status in (PaymentStatus.PAID, PaymentStatus.REFUNDED) else D("0")
    return Payment.objects.create(
        order=order,
        provider=provider,
        method=method,
        currency=order.currency,
        amount_authorised=amount,
        amount_captured=captured,
        status=status,
        created_at=order.created_at,
        **extra,
    )


def refund(payment, amount, *, at):
    payment.amount_refunded += D(amount)
    payment.save(update_fields=["amount_refunded"])
    return Payment.objects.create(
        order=payment.order,
        refund_of=payment,
        provider=payment.provider,
        method=payment.method,
        currency=payment.currency,
        amount_refunded=D(amount),
        status=PaymentStatus.REFUNDED,
        created_at=at,
    )


def collected(
    store, clerk, *lines, at, via=PaymentMethod.IN_STORE, currency="EUR", channel="web", **pay_kw
):
    """A collected order paid in full for what was handed over, taken at ``at``.
    ``captured_at=None`` in ``pay_kw`` makes an old row that only has its handover time."""
    order = make_order(
        store,
        *lines,
        status=OrderStatus.COLLECTED,
        method=via,
        payment_status=PaymentStatus.PAID,
        currency=currency,
        created_at=at - timedelta(days=1),
        channel=channel,
    )
    amount = sum((D(p) * c for p, _, c in lines), D("0.00"))
    pay_kw.setdefault("captured_at", at)
    pay_kw.setdefault("provider", "stripe" if via == PaymentMethod.ONLINE else "in_store")
    payment = pay(order, amount, **pay_kw)
    hand_over(order, clerk, at=at)
    return order, payment


def hand_over(order, clerk, *, at) -> Handover:
    """The order's handover to its customer by ``clerk`` at ``at`` (the proof of collection)."""
    return Handover.objects.create(
        order=order,
        collector=Handover.Collector.CUSTOMER,
        collector_name="Ana",
        verified_by=Handover.Verification.CODE,
        clerk=clerk,
        device="test",
        collected_at=at,
    )
