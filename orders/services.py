"""Every write to orders: checkout, the state machine, the counter.

Each public function is one transaction. Business refusals raise ``OrderError`` (or the
``StoreError``/``CartError`` of the app that refused) and leave nothing written.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import counters
from core.display import money
from customers.models import Channel, Customer, Notification, NotificationKind
from customers.selectors import messages_about
from customers.services import (
    customer_for_contact,
    notify,
    nps_token,
    record_touchpoint,
    send_again,
    supported_language,
    withdraw_messages,
)
from orders.errors import OrderError
from orders.links import order_link
from orders.models import (
    TRANSITIONS,
    Actor,
    Handover,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentAnomaly,
    PaymentMethod,
    PaymentStatus,
    PickupVerification,
    StripeEvent,
    random_code,
)
from orders.payments import (
    Authorisation,
    PaymentProvider,
    ProviderState,
    Refund,
    from_minor_units,
    online_provider,
    provider_for,
    to_minor_units,
)
from orders.selectors import (
    AUTHORISATION_MARGIN,
    READY_RESENDS,
    card_payment,
    check_refundable,
    extra_card_holds,
    handover_total,
    money_summary,
    paid_payment,
    ready_resends_left,
    refund_plan,
)
from shop.models import Cart, CartLine
from shop.services import empty_cart
from stores.errors import StoreError
from stores.models import Store
from stores.selectors import bookable_slot, is_manager
from stores.services import (
    book_slot,
    consume_stock,
    release_slot,
    release_stock,
    reserve_stock,
    return_stock,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str = ""


# --- Checkout ------------------------------------------------------------------------------

# A pickup time further than this from now is never a slot (and keeps year 1 or 9999 away
# from the slot arithmetic).
SLOT_HORIZON = timedelta(days=366)


def request_fingerprint(body: dict) -> str:
    """SHA-256 of the canonical JSON of a validated request body (keys sorted, no spaces).

    Stored with the idempotency key: the same key with another body is a client bug, not a
    retry, and must not be answered with the earlier order.
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed_order(*, cart: Cart, idempotency_key: str | None, fingerprint: str) -> Order | None:
    """The order already placed from this cart with this key, if any (a retry), marked
    ``replayed``. One query.

    The same key with a different request fingerprint is refused with 422.
    """
    if not idempotency_key:
        return None
    existing = Order.objects.filter(cart=cart, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise OrderError(
            "idempotency_mismatch",
            _(
                "This Idempotency-Key was already used for a different checkout request. "
                "Use a new key for a new checkout."
            ),
            status=422,
        )
    existing.replayed = True
    return existing


def place_order(
    *,
    cart: Cart,
    store: Store,
    slot_start: datetime,
    payment_method: str,
    channel: str,
    customer: Customer | None = None,
    contact: Contact | None = None,
    pickup_person: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    user=None,
    now: datetime | None = None,
    allow_online: bool = False,
    language: str = "",
    replay_checked: bool = False,
) -> Order:
    """Turn the cart into an order at ``store`` for the slot starting at ``slot_start``.

    ``language`` is the one the order is placed in (the page's, or what the app asked for);
    its messages speak it. Without one, the customer's preference. A new guest customer gets
    it too.

    Reserves every line with one conditional UPDATE, books a place in the slot, writes the
    order, its lines, the first event and a touchpoint, and empties the cart — all or nothing.
    The same ``idempotency_key`` for the same cart returns the order already placed (marked
    ``replayed``) if ``fingerprint`` (see ``request_fingerprint``) matches the one it was
    placed with, and raises ``idempotency_mismatch`` (422) if not. ``replay_checked``: the
    caller has just looked the key up with ``replayed_order`` and found no order, so it is not
    looked up again before the cart is locked (under the lock it always is).
    """
    now = now or timezone.now()
    if not replay_checked:
        existing = replayed_order(
            cart=cart, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if existing is not None:
            return existing
    online = payment_method == PaymentMethod.ONLINE and allow_online
    if online and not settings.STRIPE_SECRET_KEY:
        online = False
    if payment_method != PaymentMethod.IN_STORE and not online:
        raise OrderError(
            "payment_unavailable", _("Online payment is not available yet."), status=400
        )
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    slot = (
        bookable_slot(store=store, start=slot_start, now=now)
        if timezone.is_aware(slot_start) and abs(slot_start - now) <= SLOT_HORIZON
        else None
    )
    if slot is None:
        raise StoreError(
            "slot_invalid",
            _("That pickup time is not available at %(store)s. Please choose another.")
            % {"store": store.name},
            status=400,
        )
    if not store.is_active:
        raise StoreError(
            "store_closed", _("%(store)s is not taking orders.") % {"store": store.name}
        )
    guest = customer is None
    if guest and contact is None:
        raise OrderError("contact_required", _("Please give your name and email."), status=400)
    try:
        with transaction.atomic():
            if guest:
                customer = customer_for_contact(
                    email=contact.email,
                    name=contact.name,
                    phone=contact.phone,
                    language=language,
                )
                contact_name, contact_email, contact_phone = (
                    contact.name,
                    contact.email,
                    contact.phone,
                )
            else:
                contact_name = (contact.name if contact else "") or customer.name or customer.email
                contact_email = customer.email
                contact_phone = (contact.phone if contact else "") or customer.phone
            return _place(
                cart=cart,
                store=store,
                slot=slot,
                customer=customer,
                channel=channel,
                payment_method=payment_method,
                contact=(contact_name, contact_email, contact_phone),
                pickup_person=pickup_person.strip(),
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                user=user,
                now=now,
                guest=guest,
                language=supported_language(language) if language else customer.language,
            )
    except IntegrityError:
        # A concurrent submit with the same key won the race: return its order.
        existing = replayed_order(
            cart=cart, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if existing is not None:
            return existing
        raise


def _place(
    *,
    cart,
    store,
    slot,
    customer,
    channel,
    payment_method,
    contact,
    pickup_person,
    idempotency_key,
    fingerprint,
    user,
    now,
    guest,
    language,
) -> Order:
    # The cart row lock serialises two submits of the same checkout.
    Cart.objects.select_for_update().filter(pk=cart.pk).first()
    existing = replayed_order(cart=cart, idempotency_key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return existing
    lines = list(
        CartLine.objects.filter(cart=cart).select_related("variant__product").order_by("variant_id")
    )
    if not lines:
        raise OrderError("empty_cart", _("Your cart is empty."), status=400)
    withdrawn = [ln for ln in lines if not (ln.variant.is_active and ln.variant.product.is_active)]
    if withdrawn:
        raise OrderError(
            "unavailable",
            _("No longer sold: %(items)s. Please remove it from your cart.")
            % {"items": ", ".join(f"{ln.variant} ({ln.variant.sku})" for ln in withdrawn)},
            skus=[ln.variant.sku for ln in withdrawn],
        )
    currencies = {line.variant.currency for line in lines}
    if len(currencies) != 1:
        raise OrderError(
            "mixed_currency",
            _("Items in different currencies cannot be ordered together."),
            status=400,
        )
    if not book_slot(store=store, start=slot.start):
        raise StoreError(
            "slot_full", _("That pickup time has just filled up. Please choose another.")
        )
    short = [
        line
        for line in lines  # sorted by variant: every checkout locks stock rows in the same order
        if not reserve_stock(store_id=store.pk, variant_id=line.variant_id, quantity=line.quantity)
    ]
    if short:
        names = ", ".join(f"{ln.variant} ({ln.variant.sku})" for ln in short)
        raise StoreError(
            "out_of_stock",
            _("Not enough stock at %(store)s for: %(items)s.")
            % {"store": store.name, "items": names},
            skus=[ln.variant.sku for ln in short],
        )
    name, email, phone = contact
    code = random_code()
    while Order.objects.filter(store=store, pickup_code=code).exists():
        code = random_code()
    order = Order.objects.create(
        customer=customer,
        store=store,
        cart=cart,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint if idempotency_key else "",
        channel=channel,
        status=(
            OrderStatus.PENDING_PAYMENT
            if payment_method == PaymentMethod.ONLINE
            else OrderStatus.PLACED
        ),
        payment_method=payment_method,
        currency=currencies.pop(),
        total=sum((ln.line_total for ln in lines), Decimal("0.00")),
        slot_start=slot.start,
        slot_end=slot.end,
        contact_name=name,
        contact_email=email,
        contact_phone=phone,
        pickup_person=pickup_person,
        pickup_code=code,
        created_at=now,
        guest_checkout=guest,
        language=language,
    )
    with translation.override(language):  # the lines' names as the customer read them
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    variant=ln.variant,
                    sku=ln.variant.sku,
                    name=str(ln.variant),
                    unit_price=ln.variant.price,
                    quantity=ln.quantity,
                )
                for ln in lines
            ]
        )
    actor = Actor.STAFF if channel == Channel.STORE else Actor.CUSTOMER
    OrderEvent.objects.create(
        order=order,
        from_status="",
        to_status=order.status,
        actor=actor,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        created_at=now,
    )
    record_touchpoint(
        customer=customer,
        channel=channel,
        kind="order_placed",
        payload={"order": order.number, "store": store.code, "total": str(order.total)},
    )
    # Online orders are confirmed once their card is authorised (the move to "placed").
    _notify_transition(order, now=now)
    empty_cart(cart=cart)
    return order


# --- The state machine --------------------------------------------------------------------


def _note_event(
    order: Order,
    *,
    note: str,
    user=None,
    actor: str = Actor.STAFF,
    channel: str = Channel.STORE,
    at: datetime | None = None,
) -> OrderEvent:
    """An event on the order's history that is not a status change (same status twice)."""
    return OrderEvent.objects.create(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        note=note,
        created_at=at or timezone.now(),
    )


def _lock(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("store", "customer")
        .get(pk=order.pk)
    )


def _transition(
    *,
    order: Order,
    to: str,
    actor: str,
    channel: str,
    user=None,
    note: str = "",
    now: datetime | None = None,
    extra_fields=(),
) -> Order:
    """The one place an order changes status. ``order`` must be locked by the caller."""
    if to not in TRANSITIONS[order.status]:
        raise OrderError(
            "illegal_transition",
            _("Order %(number)s is %(status)s and cannot become %(to)s.")
            % {
                "number": order.number,
                "status": OrderStatus(order.status).label,
                "to": OrderStatus(to).label,
            },
            current=order.status,
        )
    previous = order.status
    order.status = to
    order.save(update_fields=["status", "updated_at", *extra_fields])
    OrderEvent.objects.create(
        order=order,
        from_status=previous,
        to_status=to,
        actor=actor,
        channel=channel,
        user=user if getattr(user, "is_authenticated", False) else None,
        note=note[:255],
        created_at=now or timezone.now(),
    )
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        # Placing was recorded at checkout: a card-paid order going ahead is its confirmation.
        kind=(
            "order_confirmed"
            if (previous, to) == (OrderStatus.PENDING_PAYMENT, OrderStatus.PLACED)
            else f"order_{to}"
        ),
        payload={"order": order.number, "from": previous},
    )
    _notify_transition(order, now=now or timezone.now())
    return order


# --- Messages to the customer (sent by customers.services.notify, DESIGN §6) ------------------

# The message each new status sends.
_STATUS_MESSAGES = {
    OrderStatus.PLACED: NotificationKind.CONFIRMED,
    OrderStatus.READY: NotificationKind.READY,
    OrderStatus.CANCELLED: NotificationKind.CANCELLED,
    OrderStatus.EXPIRED: NotificationKind.EXPIRED,
}


def _message_context(order: Order, **extra) -> dict:
    """What a message about ``order`` shows (JSON: times as ISO strings)."""
    store = order.store
    return {
        "order_number": order.number,
        # Signed: opens this order's page on any device, without logging in (orders/links.py).
        "order_url": order_link(order),
        "store_name": store.name,
        "store_address": f"{store.address}, {store.city}",
        "timezone": store.timezone,
        "slot_start": order.slot_start.isoformat(),
        "slot_end": order.slot_end.isoformat(),
        "hold_until": order.hold_until.isoformat() if order.hold_until else "",
        "total": str(order.total),
        "currency": order.currency,
        "paid_online": order.payment_method == PaymentMethod.ONLINE,
        "pickup_person": order.pickup_person,
        **extra,
    }


def _notify(order: Order, kind: str, *, key: str = "", send_at=None, **extra) -> None:
    """Queue a message about ``order`` (in the caller's transaction); one per (order, kind)
    unless ``key`` tells two apart (each refund, a resent ready message)."""
    notify(
        customer=order.customer,
        kind=kind,
        context=_message_context(order, **extra),
        dedupe_key=f"{order.number}:{kind}{':' + key if key else ''}",
        order_number=order.number,
        origin=order.channel,
        send_at=send_at,
        language=order.language,
    )


def _receipt(order: Order, *, collected_at: datetime) -> dict:
    """What the receipt at handover shows: each line as ordered and handed over, how it was
    paid, and the money (``selectors.money_summary``), read after the collection's writes."""
    money = money_summary(order)
    taken = paid_payment(order)
    if taken is None or taken.provider == Payment.Provider.STRIPE:
        paid_by = "online"
    else:
        paid_by = taken.method or Payment.Method.CARD
    lines = [
        {
            "name": line.name,
            "sku": line.sku,
            "quantity": line.quantity,
            "collected": line.collected_quantity or 0,
            "refused": line.quantity - (line.collected_quantity or 0),
            "unit_price": str(line.unit_price),
            "total": str(line.collected_total),
        }
        for line in order.lines.all()
    ]
    amounts = {
        "ordered": str(money.ordered),
        "collected": str(money.collected if money.collected is not None else Decimal("0.00")),
        "charged": str(money.charged),
        "refunded": str(money.refunded),
        "net": str(money.net),
        "status": money.status,
    }
    return {
        "lines": lines,
        "amounts": amounts,
        "paid_by": paid_by,
        "collected_at": collected_at.isoformat(),
    }


def _notify_transition(order: Order, *, now: datetime) -> None:
    if order.status == OrderStatus.READY:
        _notify(
            order,
            NotificationKind.READY,
            pickup_code=order.pickup_code,
            pickup_token=order.pickup_token,
        )
    elif order.status == OrderStatus.CANCELLED:
        _notify(order, NotificationKind.CANCELLED, reason=order.cancel_reason)
    elif order.status == OrderStatus.COLLECTED:
        _notify(order, NotificationKind.RECEIPT, **_receipt(order, collected_at=now))
        _notify(
            order,
            NotificationKind.NPS,
            send_at=now + timedelta(minutes=settings.NPS_DELAY_MINUTES),
            survey_url=f"{settings.SITE_URL}/survey/{nps_token(order_number=order.number)}/",
        )
    elif order.status in _STATUS_MESSAGES:
        _notify(order, _STATUS_MESSAGES[order.status])
    if order.status in (OrderStatus.COLLECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        # Reminders queued a moment ago (or waiting for quiet hours) no longer apply.
        withdraw_messages(
            order_number=order.number,
            kinds=[NotificationKind.REMINDER, NotificationKind.HOLD_EXPIRING],
            reason=f"order {order.status}",
        )


@transaction.atomic
def mark_preparing(*, order: Order, user, channel: str = Channel.STORE) -> Order:
    order = _lock(order)
    return _transition(
        order=order, to=OrderStatus.PREPARING, actor=Actor.STAFF, channel=channel, user=user
    )


@transaction.atomic
def mark_ready(
    *, order: Order, user, channel: str = Channel.STORE, now: datetime | None = None
) -> Order:
    now = now or timezone.now()
    order = _lock(order)
    # The hold runs from the later of "ready" and the start of the booked slot.
    order.hold_until = max(now, order.slot_start) + timedelta(hours=order.store.hold_hours)
    return _transition(
        order=order,
        to=OrderStatus.READY,
        actor=Actor.STAFF,
        channel=channel,
        user=user,
        now=now,
        extra_fields=["hold_until"],
    )


def advance_order(*, order: Order, to: str, user, channel: str = Channel.STORE) -> Order:
    """Staff move an order along at the store: start preparing it, or mark it ready."""
    if to == OrderStatus.PREPARING:
        return mark_preparing(order=order, user=user, channel=channel)
    if to == OrderStatus.READY:
        return mark_ready(order=order, user=user, channel=channel)
    raise ValueError(f"staff do not move orders to {to!r}")


def _release_all(order: Order) -> None:
    # Same lock order as checkout (slot row, then stock rows by variant) so a cancellation
    # and a checkout on the same slot and items can never deadlock.
    release_slot(store=order.store, start=order.slot_start)
    for line in order.lines.order_by("variant_id"):
        release_stock(store_id=order.store_id, variant_id=line.variant_id, quantity=line.quantity)


def _cancel(*, order: Order, reason: str, actor: str, channel: str, user) -> Order:
    if _capture_started(order):
        raise OrderError(
            "payment_busy",
            _("The card is being charged for this order: it can only be collected now."),
            current=order.status,
        )
    order.cancel_reason = reason[:255]
    _transition(
        order=order,
        to=OrderStatus.CANCELLED,
        actor=actor,
        channel=channel,
        user=user,
        note=reason,
        extra_fields=["cancel_reason"],
    )
    _release_all(order)
    return order


def cancel_order(*, order: Order, reason: str, actor: str, channel: str, user=None) -> Order:
    """Cancel and give stock and slot back; an online order's card hold is released once
    that has committed."""
    reason = (reason or "").strip()
    if not reason:
        raise OrderError("reason_required", _("Please give a reason for cancelling."), status=400)
    with transaction.atomic():
        order = _lock(order)
        order = _cancel(order=order, reason=reason, actor=actor, channel=channel, user=user)
    _void_authorisations(order)
    return order


def cancel_order_by_customer(*, order: Order, channel: str, reason: str = "", user=None) -> Order:
    """The customer changes their mind: allowed only until the store starts preparing."""
    with transaction.atomic():
        order = _cancel_by_customer(order=order, channel=channel, reason=reason, user=user)
    _void_authorisations(order)
    return order


def _cancel_by_customer(*, order: Order, channel: str, reason: str, user) -> Order:
    order = _lock(order)
    if order.status != OrderStatus.PLACED:
        raise OrderError(
            "cancel_not_allowed",
            _(
                "Order %(number)s is %(status)s and can no longer be cancelled here. "
                "Please contact the store."
            )
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )
    reason = (reason or "").strip() or "cancelled by the customer"
    return _cancel(order=order, reason=reason, actor=Actor.CUSTOMER, channel=channel, user=user)


ARRIVAL_STATES = frozenset({OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY})


@transaction.atomic
def mark_arrived(*, order: Order, channel: str, user=None, now: datetime | None = None) -> Order:
    """Check the customer in ("I'm here"); a second check-in keeps the first time.

    Records an event on the order (same status before and after, note "customer arrived")
    and a ``customer_arrived`` touchpoint; the tablet shows arrived orders first.
    """
    now = now or timezone.now()
    order = _lock(order)
    if order.status not in ARRIVAL_STATES:
        raise OrderError(
            "arrival_not_allowed",
            _("Order %(number)s is %(status)s: there is nothing to pick up.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )
    if order.arrived_at is not None:
        return order
    if not order.check_in_open(now):
        raise OrderError(
            "too_early",
            _(
                "You can tell the store you are here once your order is ready or your pickup "
                "time has come."
            ),
            current=order.status,
        )
    order.arrived_at = now
    order.save(update_fields=["arrived_at", "updated_at"])
    _note_event(
        order,
        note="customer arrived",
        actor=Actor.CUSTOMER,
        channel=channel,
        user=user,
        at=order.arrived_at,
    )
    record_touchpoint(
        customer=order.customer,
        channel=channel,
        kind="customer_arrived",
        payload={"order": order.number, "store": order.store.code, "status": order.status},
    )
    return order


def expire_order(*, order: Order, now: datetime | None = None) -> Order | None:
    """A ready order past its hold becomes a no-show; its stock goes back on the shelf and,
    once that has committed, its card hold is released.

    Safe to run twice: an order that is no longer ready-and-overdue is left alone, and so is
    one whose card is being charged at the counter (the collection wins).
    """
    with transaction.atomic():
        expired = _expire(order=order, now=now or timezone.now())
    if expired is not None:
        _void_authorisations(expired)
    return expired


def _expire(*, order: Order, now: datetime) -> Order | None:
    order = _lock(order)
    if order.status != OrderStatus.READY or order.hold_until is None or order.hold_until > now:
        return None
    if _capture_started(order):
        return None
    _transition(
        order=order,
        to=OrderStatus.EXPIRED,
        actor=Actor.SYSTEM,
        channel=Channel.STORE,
        note="hold expired",
        now=now,
    )
    _release_all(order)
    return order


# --- The no-show policy: reminders, a longer hold, the ready message again -------------------

# Each store sets how long a ready order is held (``hold_hours``) and when its customer is
# reminded: ``reminder_minutes`` before the pickup slot starts and ``hold_reminder_hours``
# before the hold ends (0 turns a reminder off). Staff may extend one order's hold or send its
# ready message again.

HOLD_EXTENSION_HOURS = (1, 168)


def _hold_key(hold_until: datetime) -> str:
    """The hold reminder's dedupe key part: an extended hold may be reminded of again."""
    return hold_until.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def _pickup_extra(order: Order) -> dict:
    return {"pickup_code": order.pickup_code, "pickup_token": order.pickup_token}


def send_reminders(*, now: datetime | None = None) -> dict:
    """Queue the due reminders of ready orders: one ``pickup_reminder`` once the slot is less
    than the store's ``reminder_minutes`` away (and has not started), one ``hold_expiring``
    per hold end once it is less than ``hold_reminder_hours`` away. Safe to run twice:
    reminders already queued are skipped. Four queries, plus the inserts of new messages.

    Each store's windows are turned into constant intervals here (one clause per store) rather
    than multiplied in SQL: SQLite, the demo's engine, cannot multiply an interval."""
    now = now or timezone.now()
    windows = list(Store.objects.values_list("pk", "reminder_minutes", "hold_reminder_hours"))
    # An order that became ready inside the window was just told so: no reminder on top.
    ready_at = (
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=OrderStatus.READY)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    slot_due = Q(pk__in=[])
    hold_due = Q(pk__in=[])
    for store_id, reminder_minutes, hold_reminder_hours in windows:
        if reminder_minutes > 0:
            window = timedelta(minutes=reminder_minutes)
            slot_due |= Q(
                store_id=store_id,
                slot_start__lte=now + window,
                ready_at__lt=F("slot_start") - window,
            )
        if hold_reminder_hours > 0:
            hold_due |= Q(
                store_id=store_id, hold_until__lte=now + timedelta(hours=hold_reminder_hours)
            )
    ready = Order.objects.filter(status=OrderStatus.READY).select_related("store", "customer")
    pickups = list(ready.annotate(ready_at=Subquery(ready_at)).filter(slot_due, slot_start__gt=now))
    holds = list(ready.filter(hold_due, hold_until__gt=now))
    numbers = {order.number for order in pickups + holds}
    queued = set(
        Notification.objects.filter(
            order_number__in=numbers,
            kind__in=[NotificationKind.REMINDER, NotificationKind.HOLD_EXPIRING],
        ).values_list("dedupe_key", flat=True)
    )
    due = [(order, NotificationKind.REMINDER, "") for order in pickups]
    due += [(order, NotificationKind.HOLD_EXPIRING, _hold_key(order.hold_until)) for order in holds]
    due = [
        (order, kind, key)
        for order, kind, key in due
        if f"{order.number}:{kind}{':' + key if key else ''}" not in queued
    ]
    sent = {NotificationKind.REMINDER.value: 0, NotificationKind.HOLD_EXPIRING.value: 0}
    if due:
        with transaction.atomic():
            for order, kind, key in due:
                _notify(order, kind, key=key, **_pickup_extra(order))
                sent[kind] += 1
    return sent


def _check_ready(order: Order, message: str) -> None:
    """Refuse (409) unless ``order`` is ready; ``message`` gets its number and status."""
    if order.status != OrderStatus.READY:
        raise OrderError(
            "not_ready",
            message % {"number": order.number, "status": OrderStatus(order.status).label},
            current=order.status,
        )


@transaction.atomic
def extend_hold(*, order: Order, hours: int, user, now: datetime | None = None) -> Order:
    """Staff: keep a ready order ``hours`` longer (1–168), counted from the current hold end,
    or from now if that has already passed."""
    low, high = HOLD_EXTENSION_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not low <= hours <= high:
        raise OrderError(
            "invalid_hours",
            _("A hold can be extended by %(low)d to %(high)d hours.") % {"low": low, "high": high},
            status=400,
        )
    now = now or timezone.now()
    order = _lock(order)
    _check_ready(order, _("Order %(number)s is %(status)s: only a ready order's hold can change."))
    order.hold_until = max(order.hold_until or now, now) + timedelta(hours=hours)
    order.save(update_fields=["hold_until", "updated_at"])
    _note_event(order, note=f"hold extended by {hours} h", user=user, at=now)
    return order


@transaction.atomic
def resend_ready_message(*, order: Order, user) -> Order:
    """Staff: send the "ready for pickup" message again (the customer lost it), at most
    ``READY_RESENDS`` times per order."""
    order = _lock(order)
    _check_ready(
        order,
        _("Order %(number)s is %(status)s: the ready message goes only to a ready order."),
    )
    messages = list(messages_about(customer=order.customer, order_number=order.number))
    if not ready_resends_left(messages):
        raise OrderError(
            "resend_limit",
            ngettext(
                "The ready message was already sent again %(count)d time: no more resends.",
                "The ready message was already sent again %(count)d times: no more resends.",
                READY_RESENDS,
            )
            % {"count": READY_RESENDS},
            current=order.status,
        )
    sent = sum(1 for message in messages if message.kind == NotificationKind.READY)
    _notify(order, NotificationKind.READY, key=f"again-{sent}", **_pickup_extra(order))
    _note_event(order, note="ready message sent again", user=user)
    return order


@transaction.atomic
def send_order_message_again(*, order: Order, message_id: int, user) -> Notification:
    """Staff: try a failed message about ``order`` again. Only that order's messages to its
    customer are found (404 for any other)."""
    message = (
        messages_about(customer=order.customer, order_number=order.number)
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise OrderError("unknown_message", _("No such message for this order."), status=404)
    if not send_again(notification=message):
        raise OrderError(
            "message_not_failed",
            _("Only a failed message can be sent again."),
        )
    _note_event(order, note="message sent again", user=user)
    message.refresh_from_db()
    return message


# --- The counter --------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:16]


def _clerk_key(store: Store, user) -> str:
    return f"pickup-code-failures:{store.pk}:{user.pk}"


def _too_many_attempts() -> OrderError:
    return OrderError(
        "too_many_attempts",
        _("Too many wrong pickup codes. Wait a few minutes or scan the customer's QR code."),
        status=429,
    )


def _check_clerk_limit(store: Store, user) -> None:
    if counters.current(_clerk_key(store, user)) >= settings.PICKUP_CODE_CLERK_LIMIT:
        raise _too_many_attempts()


def _count_clerk_failure(store: Store, user) -> int:
    """Count one wrong code atomically (Redis INCR); returns the clerk's count so far (0 when
    the cache is unreachable: each order's own lock, in the database, still holds)."""
    key = _clerk_key(store, user)
    return counters.increment(key, timeout=settings.PICKUP_CODE_CLERK_WINDOW) or 0


def _code_locked() -> OrderError:
    return OrderError(
        "code_locked",
        _(
            "This order's pickup code is locked after too many wrong tries. "
            "Ask a manager to unlock it, or scan the QR code."
        ),
        status=423,
    )


def find_by_pickup_code(*, store: Store, user, code: str) -> Order:
    """A clerk typed a short code at ``store``: the order it opens, or a clear refusal.

    Wrong codes count against the clerk at this store; too many stop them for a while.
    """
    _check_clerk_limit(store, user)
    code = normalise_code(code)
    order = (
        Order.objects.filter(store=store, pickup_code=code).order_by("-created_at").first()
        if len(code) == 8
        else None
    )
    if order is None:
        # Attempts racing past the check above are counted one by one: only the first
        # ``limit`` wrong codes are answered "wrong code", whatever arrives at once.
        if _count_clerk_failure(store, user) > settings.PICKUP_CODE_CLERK_LIMIT:
            raise _too_many_attempts()
        raise OrderError(
            "wrong_code", _("No order with this pickup code at this store."), status=404
        )
    if order.code_locked:
        raise _code_locked()
    return order


def verify_pickup_code(*, order: Order, user, code: str) -> Order:
    """The clerk checks the code the customer says for an order already on screen.

    Wrong tries count against this order; at the limit its code locks until a manager resets it.
    """
    store = order.store
    _check_clerk_limit(store, user)
    with transaction.atomic():
        order = _lock(order)
        if order.code_locked:
            raise _code_locked()
        if normalise_code(code) == order.pickup_code:
            if order.code_failures:
                order.code_failures = 0
                order.save(update_fields=["code_failures", "updated_at"])
            return order
        order.code_failures = F("code_failures") + 1
        order.save(update_fields=["code_failures", "updated_at"])
        order.refresh_from_db(fields=["code_failures"])
        if order.code_failures >= settings.PICKUP_CODE_ORDER_LIMIT:
            order.code_locked_at = timezone.now()
            order.save(update_fields=["code_locked_at", "updated_at"])
            _note_event(order, note="pickup code locked after wrong tries", user=user)
    _count_clerk_failure(store, user)
    left = max(settings.PICKUP_CODE_ORDER_LIMIT - order.code_failures, 0)
    if left == 0:
        raise OrderError(
            "code_locked",
            _(
                "Wrong code again: this order's pickup code is now locked. "
                "Scan the QR code, or ask a manager to unlock it."
            ),
            status=423,
        )
    raise OrderError(
        "wrong_code",
        ngettext(
            "That is not this order's pickup code (%(left)d try left).",
            "That is not this order's pickup code (%(left)d tries left).",
            left,
        )
        % {"left": left},
        status=400,
    )


@transaction.atomic
def unlock_pickup_code(*, order: Order, user) -> Order:
    order = _lock(order)
    if not is_manager(user, order.store):
        raise OrderError(
            "not_manager", _("Only a store manager can unlock a pickup code."), status=403
        )
    order.code_failures = 0
    order.code_locked_at = None
    order.save(update_fields=["code_failures", "code_locked_at", "updated_at"])
    _note_event(order, note="pickup code unlocked by manager", user=user)
    return order


# A successful lookup (QR token or pickup code) lets that clerk hand the order over for a
# while. Kept in the database, not in a session or on the device: any app server answers, and
# it holds when the cache is down.
VERIFICATION_SECONDS = 15 * 60


def mark_pickup_verified(*, order: Order, user, method: str) -> None:
    if method not in Handover.Verification.values:
        raise ValueError(f"unknown verification {method!r}")
    PickupVerification.objects.update_or_create(
        order=order, user=user, defaults={"method": method, "verified_at": timezone.now()}
    )


def pickup_verification(*, order: Order, user) -> str:
    """How this clerk verified this order recently ("qr", "code"), or "" if they did not."""
    since = timezone.now() - timedelta(seconds=VERIFICATION_SECONDS)
    found = PickupVerification.objects.filter(order=order, user=user, verified_at__gte=since)
    return found.values_list("method", flat=True).first() or ""


def forget_pickup_verification(*, order: Order, user) -> None:
    PickupVerification.objects.filter(order=order, user=user).delete()


def _collection_lines(
    order: Order, *, user, quantities: dict[str, int], collector: str
) -> tuple[list[OrderLine], Decimal]:
    """Check a handover of ``order`` (locked) and return its lines with ``collected_quantity``
    set, and the collected total."""
    if order.status != OrderStatus.READY:
        # Give the illegal-transition message for every non-ready state.
        _transition(
            order=order,
            to=OrderStatus.COLLECTED,
            actor=Actor.STAFF,
            channel=Channel.STORE,
            user=user,
        )
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
    *, order: Order, user, quantities: dict[str, int], collector: str, provider
) -> None:
    """Online orders: take exactly the collected total before anything is handed over.

    The capture is claimed on the payment under the order's lock, so cancellation and expiry
    (which refuse an order with a capture in flight or done) cannot win in between; the
    network call then runs outside any lock. If the card refuses, nothing is handed over; if
    it succeeds, the handover that follows cannot be refused for a reason it was not checked
    for here, and a retry after a crash finds the capture done and only records the handover.
    """
    with transaction.atomic():
        locked = _lock(order)
        _lines, total = _collection_lines(
            locked, user=user, quantities=quantities, collector=collector
        )
        payment = _online_payment(locked)
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
        payment = _claim(payment, operation, allowed={PaymentStatus.AUTHORISED})
        _capture_ceiling(payment, total)
        _mark_pending(payment, operation)
    capture_payment(payment=payment, amount=total, provider=provider)


def _counter_pays(order: Order) -> bool:
    """Payment is taken at the counter: the order was placed to pay there, or its card hold is
    gone (see ``selectors.card_payment``)."""
    card = card_payment(order)
    return card is None or card.counter_pays


def _online_payment(order: Order) -> Payment | None:
    return (
        order.payments.filter(provider=Payment.Provider.STRIPE, refund_of__isnull=True)
        .exclude(status=PaymentStatus.UNPAID)
        .order_by("-pk")
        .first()
    )


def _capture_started(order: Order) -> bool:
    """A capture is in flight or done: the order can only be collected now."""
    return order.payments.filter(
        Q(pending_operation__startswith="capture:") | Q(status=PaymentStatus.PAID),
        provider=Payment.Provider.STRIPE,
    ).exists()


def _void_authorisations(order: Order, provider=None) -> None:
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
            order=order,
            user=user,
            quantities=quantities,
            collector=collector,
            provider=provider,
        )
    with transaction.atomic():
        order = _lock(order)
        lines, collected_total = _collection_lines(
            order, user=user, quantities=quantities, collector=collector
        )
        reference = (reference or "").strip()[:120]
        counter_pays = _counter_pays(order)
        if order.payment_method == PaymentMethod.ONLINE and not counter_pays:
            payment = _online_payment(order)
            if payment.status != PaymentStatus.PAID or payment.pending_operation:
                # Authorised after the check above (a late webhook): capture it first.
                raise OrderError(
                    "payment_changed",
                    _("The card payment changed meanwhile. Please confirm the handover again."),
                    current=payment.status,
                )
        if counter_pays:
            if payment_method not in Payment.Method.values:
                raise OrderError("bad_payment", _("Choose card or cash."), status=400)
            if payment_method == Payment.Method.CARD and not reference:
                raise OrderError(
                    "reference_required", _("Enter the card terminal receipt number."), status=400
                )
        for line in lines:
            consume_stock(
                store_id=order.store_id,
                variant_id=line.variant_id,
                quantity=line.collected_quantity,
            )
            release_stock(
                store_id=order.store_id,
                variant_id=line.variant_id,
                quantity=line.quantity - line.collected_quantity,
            )
        OrderLine.objects.bulk_update(lines, ["collected_quantity"])
        if counter_pays:
            Payment.objects.create(
                order=order,
                provider=Payment.Provider.IN_STORE,
                method=payment_method,
                reference=reference,
                currency=order.currency,
                amount_authorised=collected_total,
                amount_captured=collected_total,
                status=PaymentStatus.PAID,
                created_at=now,
                captured_at=now,
            )
            order.payment_status = PaymentStatus.PAID
        Handover.objects.create(
            order=order,
            collector=collector,
            collector_name=order.pickup_person
            if collector == Handover.Collector.DELEGATE
            else order.contact_name,
            verified_by=verified_by,
            clerk=user,
            device=(device or "unknown")[:200],
            collected_at=now,
        )
        refused = [ln.sku for ln in lines if ln.collected_quantity < ln.quantity]
        note = ("refused: " + ", ".join(refused)) if refused else ""
        _transition(
            order=order,
            to=OrderStatus.COLLECTED,
            actor=Actor.STAFF,
            channel=Channel.STORE,
            user=user,
            note=note,
            now=now,
            extra_fields=["payment_status"],
        )
        return order


# --- Online payments (DESIGN §4) -------------------------------------------------------------
#
# Each operation runs in three steps so that no network call happens inside the locking
# transaction: (1) lock the payment, check the rule and claim the operation
# (``pending_operation``); (2) call the provider with an idempotency key; (3) lock again and
# record what the provider answered. A payment only moves forward (see ``_PAYMENT_RANK``), so a
# late or repeated answer, or a webhook that got there first, cannot undo a later state.

_PAYMENT_RANK = {
    PaymentStatus.UNPAID: 0,
    PaymentStatus.AUTHORISED: 1,
    PaymentStatus.PAID: 2,
    PaymentStatus.VOIDED: 2,
    PaymentStatus.REFUNDED: 3,
}

# A Stripe PaymentMethod (pm_…) or card (card_…) id, and nothing else: \Z, not $, which would
# let a trailing newline through into the idempotency header.
PAYMENT_METHOD_ID = re.compile(r"\A(pm|card)_[A-Za-z0-9_]{1,120}\Z")


def _lock_payment(payment: Payment) -> Payment:
    return Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)


# Card payment changes the customer sees on their timeline (refunds record their own).
_PAYMENT_TOUCHPOINTS = {
    PaymentStatus.AUTHORISED: "payment_authorised",
    PaymentStatus.PAID: "payment_captured",
    PaymentStatus.VOIDED: "payment_voided",
}


def _set_order_payment_status(order: Order, status: str) -> None:
    """Keep the order's payment status in step with its payment (in the caller's
    transaction), and put the change on the customer's timeline."""
    if order.payment_status != status:
        order.payment_status = status
        order.save(update_fields=["payment_status", "updated_at"])
        if status in _PAYMENT_TOUCHPOINTS:
            record_touchpoint(
                customer=order.customer,
                channel=Channel.STORE if status == PaymentStatus.PAID else order.channel,
                kind=_PAYMENT_TOUCHPOINTS[status],
                payload={"order": order.number},
            )


def _order_follows(payment: Payment) -> None:
    """Keep the order's payment status in step with ``payment`` (locked), if that is the
    payment the order uses: an extra card hold released later (see ``void_extra_holds``) must
    not make an order with its card held look voided."""
    newer = payment.order.payments.filter(
        provider=Payment.Provider.STRIPE, refund_of__isnull=True, pk__gt=payment.pk
    ).exclude(status=PaymentStatus.UNPAID)
    if payment.provider == Payment.Provider.STRIPE and newer.exists():
        return
    _set_order_payment_status(payment.order, payment.status)


def _apply_provider_state(payment: Payment, state: ProviderState) -> bool:
    """Move ``payment`` (locked) forward to what the provider said. True if it changed."""
    if _PAYMENT_RANK[state.status] <= _PAYMENT_RANK[payment.status]:
        return False
    if payment.status == PaymentStatus.REFUNDED:
        return False
    payment.status = state.status
    if state.amount_authorised is not None and state.amount_authorised > payment.amount_authorised:
        payment.amount_authorised = state.amount_authorised
    if state.status == PaymentStatus.PAID and state.amount_captured is not None:
        payment.amount_captured = state.amount_captured
    if state.status == PaymentStatus.PAID and payment.captured_at is None:
        payment.captured_at = timezone.now()
    return True


def _payment_amount(amount, payment: Payment) -> Decimal:
    try:
        value = Decimal(amount)
        to_minor_units(value, payment.currency)
    except (ArithmeticError, TypeError, ValueError):
        value = Decimal("-1")
    if value <= 0:
        raise OrderError(
            "bad_amount", _("Enter an amount greater than zero, in cents at most."), status=400
        )
    return value


def _claim(payment: Payment, operation: str, *, allowed: set[str]) -> Payment:
    """Step 1: lock, check the payment may do ``operation`` now, and mark it in flight."""
    payment = _lock_payment(payment)
    if payment.status not in allowed or not payment.provider_reference:
        raise OrderError(
            "illegal_payment_operation",
            _("This payment is %(status)s: that cannot be done now.")
            % {"status": PaymentStatus(payment.status).label},
            current=payment.status,
        )
    if payment.pending_operation and payment.pending_operation != operation:
        raise OrderError("payment_busy", _("Another operation on this payment is still running."))
    return payment


def _mark_pending(payment: Payment, operation: str) -> None:
    payment.pending_operation = operation
    payment.pending_since = timezone.now() if operation else None
    payment.save(update_fields=["pending_operation", "pending_since"])


def _release_claim(payment: Payment, operation: str) -> None:
    """The provider refused: forget the claim, so nothing stays written."""
    with transaction.atomic():
        payment = _lock_payment(payment)
        if payment.pending_operation == operation:
            _mark_pending(payment, "")


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
        _drop_attempt(claim)
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
        locked = _lock(order)
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


def _drop_attempt(claim: Payment) -> None:
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
        order = _lock(claim.order)
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
            _set_order_payment_status(order, PaymentStatus.AUTHORISED)
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
    attempt, state = _sync_payment(attempt, provider)
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


def _call_claimed(locked: Payment, operation: str, call):
    """Run a provider call for a claimed operation, outside any transaction; a refusal gives
    the claim back so another operation may run."""
    try:
        return call()
    except OrderError:
        _release_claim(locked, operation)
        raise


def _record_state(locked: Payment, state: ProviderState, *, fields: list[str]) -> Payment:
    """Record what the provider answered and end the claimed operation."""
    with transaction.atomic():
        payment = _lock_payment(locked)
        if _apply_provider_state(payment, state):
            _order_follows(payment)
        payment.pending_operation = ""
        payment.save(update_fields=[*fields, "pending_operation"])
    return payment


def capture_payment(
    *, payment: Payment, amount, provider: PaymentProvider | None = None
) -> Payment:
    """Take ``amount`` (at most what was authorised) of an authorised payment; the rest of the
    authorisation is released."""
    amount = _payment_amount(amount, payment)
    operation = f"capture:{amount}"
    with transaction.atomic():
        locked = _claim(payment, operation, allowed={PaymentStatus.AUTHORISED})
        _capture_ceiling(locked, amount)
        _mark_pending(locked, operation)
    provider = provider or provider_for(locked)
    state = _call_claimed(locked, operation, lambda: provider.capture(locked, amount))
    if state.amount_captured is None:
        state = ProviderState(status=state.status, amount_captured=amount)
    return _record_state(locked, state, fields=["status", "amount_captured", "captured_at"])


def cancel_payment(*, payment: Payment, provider: PaymentProvider | None = None) -> Payment:
    """Release an authorisation that will not be captured (order cancelled or not collected)."""
    operation = "cancel"
    with transaction.atomic():
        locked = _claim(
            payment, operation, allowed={PaymentStatus.UNPAID, PaymentStatus.AUTHORISED}
        )
        _mark_pending(locked, operation)
    provider = provider or provider_for(locked)
    state = _call_claimed(locked, operation, lambda: provider.cancel(locked))
    return _record_state(locked, state, fields=["status"])


def _capture_ceiling(payment: Payment, amount: Decimal) -> None:
    if amount > payment.amount_authorised:
        raise OrderError(
            "capture_too_large",
            _("At most %(amount)s was authorised.")
            % {"amount": money(payment.amount_authorised, payment.currency)},
            status=400,
        )


def _refund_ceiling(payment: Payment, amount: Decimal) -> None:
    if amount > payment.refundable:
        raise OrderError(
            "refund_too_large",
            _("At most %(amount)s can still be refunded.")
            % {"amount": money(payment.refundable, payment.currency)},
            status=400,
        )


def _claim_refund(
    payment: Payment, amount: Decimal, *, exclusive: bool = False
) -> tuple[Payment, str]:
    """Step 1 of a refund, inside the caller's transaction: lock, check the ceiling (ours to
    enforce: the provider is not trusted to) and claim. ``exclusive`` refuses while any
    operation is in flight, the same one included: two people refunding at once must not both
    reach the provider."""
    locked = _lock_payment(payment)
    # The refunded total so far makes the key: a retry repeats it, the next refund does not.
    operation = f"refund:{locked.amount_refunded}:{amount}"
    if exclusive and locked.pending_operation:
        raise OrderError("payment_busy", _("Another operation on this payment is still running."))
    locked = _claim(locked, operation, allowed={PaymentStatus.PAID})
    _refund_ceiling(locked, amount)
    _mark_pending(locked, operation)
    return locked, operation


def _call_refund(locked: Payment, operation: str, amount: Decimal, provider) -> Refund:
    """Step 2: the provider call, outside any transaction, with an idempotency key."""
    provider = provider or provider_for(locked)
    key = f"{locked.provider_reference or locked.pk}:{operation}"
    return _call_claimed(locked, operation, lambda: provider.refund(locked, amount, key=key))


def _record_refund(
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
        _set_order_payment_status(payment.order, PaymentStatus.REFUNDED)
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


def refund_payment(*, payment: Payment, amount, provider: PaymentProvider | None = None) -> Payment:
    """Give back ``amount`` of what was captured (a refund row records it). Returns the
    original payment. The ceiling (captured minus already refunded) is ours to enforce."""
    amount = _payment_amount(amount, payment)
    with transaction.atomic():
        locked, operation = _claim_refund(payment, amount)
    refund = _call_refund(locked, operation, amount, provider)
    with transaction.atomic():
        payment = _lock_payment(locked)
        if payment.pending_operation == operation:
            _record_refund(payment, before=locked.amount_refunded, refund=refund)
    return payment


# --- Refunds of collected orders -------------------------------------------------------------
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


def _note_refund(
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
    _notify(
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
    if paid.provider == Payment.Provider.IN_STORE:
        if method not in Payment.Method.values:
            raise OrderError("bad_payment", _("Choose card or cash."), status=400)
        if method == Payment.Method.CARD and not reference:
            raise OrderError(
                "reference_required", _("Enter the card terminal receipt number."), status=400
            )
        with transaction.atomic():
            locked = _lock(order)
            picked, amount = _refund_plan(locked, quantities)
            payment = _lock_payment(paid)
            if payment.status != PaymentStatus.PAID:
                raise OrderError("already_refunded", _("This payment was refunded in full."))
            _refund_ceiling(payment, amount)
            _write_refund_lines(locked, picked, restock=restock)
            refund = _record_refund(
                payment,
                before=payment.amount_refunded,
                refund=Refund(reference="", amount=amount),
                method=method,
                reference=reference,
                user=user,
                note=reason,
            )
            _note_refund(locked, refund, picked, channel=channel)
        return refund

    with transaction.atomic():
        locked = _lock(order)
        picked, amount = _refund_plan(locked, quantities)
        claimed, operation = _claim_refund(paid, amount, exclusive=True)
    answer = _call_refund(claimed, operation, amount, provider)
    with transaction.atomic():
        locked = _lock(order)
        payment = _lock_payment(claimed)
        if payment.pending_operation != operation:
            # Only the claim's holder records it; nothing else clears a refund claim.
            logger.error("refund %s of %s found its claim gone", answer.reference, order.number)
            raise OrderError(
                "payment_busy", _("Another operation on this payment is still running.")
            )
        _write_refund_lines(locked, picked, restock=restock)
        refund = _record_refund(
            payment,
            before=claimed.amount_refunded,
            refund=answer,
            method=Payment.Method.CARD,
            user=user,
            note=reason,
        )
        _note_refund(locked, refund, picked, channel=channel)
    return refund


def refresh_payment(*, payment: Payment, provider: PaymentProvider | None = None) -> Payment:
    """Ask the provider where the payment stands and move ours forward to match."""
    return _sync_payment(payment, provider or provider_for(payment))[0]


def _sync_payment(payment: Payment, provider) -> tuple[Payment, ProviderState]:
    """``refresh_payment``, also returning what the provider said (the call runs outside any
    transaction; the answer is recorded under the payment's lock)."""
    state = provider.status(payment)
    with transaction.atomic():
        payment = _lock_payment(payment)
        if _apply_provider_state(payment, state):
            payment.save(
                update_fields=["status", "amount_authorised", "amount_captured", "captured_at"]
            )
            _order_follows(payment)
    return payment, state


def confirm_online_order(*, order: Order, channel: str = "") -> Order:
    """An online order waiting for payment becomes ``placed`` once its card is authorised
    (or already captured). Called after checkout and by the webhook; a no-op otherwise, so
    it is safe to call twice."""
    with transaction.atomic():
        order = _lock(order)
        if (
            order.status == OrderStatus.PENDING_PAYMENT
            and order.payments.filter(
                status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]
            ).exists()
        ):
            _transition(
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
                locked = _lock(order)
                if locked.status == OrderStatus.PENDING_PAYMENT:
                    _cancel(
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
        attempt, state = _sync_payment(attempt, provider or provider_for(attempt))
        waiting = state.action_secret
    if attempt.status in (PaymentStatus.AUTHORISED, PaymentStatus.PAID):
        order = confirm_online_order(order=order, channel=channel)
    return order, waiting if order.status == OrderStatus.PENDING_PAYMENT else ""


def pay_at_counter_instead(*, order: Order, channel: str, user=None) -> Order:
    """An online order not paid yet switches to paying at the counter: it is placed, keeping
    its stock and pickup time. Refused once a card authorisation has been recorded. Any card
    attempt still open is released after commit (and by the payment sweep if that fails)."""
    with transaction.atomic():
        locked = _lock(order)
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
        _transition(
            order=locked,
            to=OrderStatus.PLACED,
            actor=Actor.CUSTOMER,
            channel=channel,
            user=user,
            note="pay at the counter",
            extra_fields=["payment_method"],
        )
    _void_authorisations(locked)
    return locked


def cancel_unpaid_order(*, order: Order, now: datetime | None = None) -> Order | None:
    """An online order still waiting for payment after ONLINE_PAYMENT_TIMEOUT_MINUTES is
    cancelled, giving its stock and slot back, and any card hold is released once that has
    committed. An order whose authorisation did arrive (a webhook lost) is placed instead.
    Safe to run twice: returns the cancelled order, or None if it was left alone."""
    now = now or timezone.now()
    deadline = now - timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES)
    with transaction.atomic():
        locked = _lock(order)
        if locked.status != OrderStatus.PENDING_PAYMENT or locked.created_at > deadline:
            return None
        if locked.payments.filter(
            status__in=[PaymentStatus.AUTHORISED, PaymentStatus.PAID]
        ).exists():
            cancelled = None
        else:
            cancelled = _cancel(
                order=locked,
                reason="payment not completed in time",
                actor=Actor.SYSTEM,
                channel=locked.channel,
                user=None,
            )
    if cancelled is None:
        confirm_online_order(order=order)
        return None
    _void_authorisations(cancelled)
    return cancelled


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
                order = _lock(payment.order)
                _note_event(order, note=note(payment), actor=Actor.SYSTEM, channel=order.channel)
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
        _drop_attempt(payment)
        return payment
    provider = provider or provider_for(payment)
    is_refund = operation.startswith("refund:")
    if is_refund:
        refunded = provider.refunded(payment)
    else:
        state = provider.status(payment)
    with transaction.atomic():
        locked = _lock_payment(payment)
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
            if _apply_provider_state(locked, state):
                _order_follows(locked)
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
        _record_refund(
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


# --- Stripe webhooks --------------------------------------------------------------------------
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
    order = _lock(adopt)
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
    if to != PaymentStatus.UNPAID and _apply_provider_state(payment, state):
        fields |= {"status", "amount_captured", "captured_at"}
    if fields:
        payment.save(update_fields=sorted(fields))
        _order_follows(payment)
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
    refund = _record_refund(
        payment,
        before=payment.amount_refunded,
        refund=Refund(reference="", amount=total - payment.amount_refunded),
        note="refunded in Stripe",
    )
    _note_refund(payment.order, refund, [], channel=payment.order.channel)
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
