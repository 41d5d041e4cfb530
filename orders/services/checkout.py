"""Checkout: a cart becomes an order, once per idempotency key.

Stock and the pickup slot are reserved in the same transaction as the order is written;
a replayed request (same key, same body) gets the order it placed the first time.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import Channel, Customer
from customers.services import (
    customer_for_contact,
    record_touchpoint,
    supported_language,
)
from orders.errors import OrderError
from orders.models import (
    Actor,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    random_code,
)
from orders.services.messages import notify_transition
from shop.models import Cart, CartLine
from shop.services import empty_cart
from stores.errors import StoreError
from stores.models import Store
from stores.selectors import bookable_slot
from stores.services import (
    book_slot,
    reserve_stock,
)


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str = ""


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
    notify_transition(order, now=now)
    empty_cart(cart=cart)
    return order
