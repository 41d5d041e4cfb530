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
from django.db.models import FilteredRelation, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import Channel, Customer
from customers.services import (
    customer_for_contact,
    supported_language,
)
from orders.errors import OrderError
from orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    random_code,
)
from orders.services.lifecycle import open_history
from shop.models import Cart, CartLine
from shop.services import cart_for_customer, empty_cart
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


# A new random pickup code that is already taken at the store (one in billions) makes the
# checkout start again with another, this many times in all.
PICKUP_CODE_TRIES = 3
PICKUP_CODE_CONSTRAINT = "order_pickup_code_unique"


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
    return _replay(existing, fingerprint)


def cart_and_replay(
    *, customer: Customer, idempotency_key: str, fingerprint: str
) -> tuple[Cart, Order | None]:
    """The customer's one cart (created on first use) and, like ``replayed_order``, the order
    already placed from it with this key: one query for both (the order joined to the cart
    on the key's unique index)."""
    cart = (
        Cart.objects.filter(customer=customer)
        .annotate(
            replay=FilteredRelation("orders", condition=Q(orders__idempotency_key=idempotency_key))
        )
        .select_related("replay")
        .first()
    )
    if cart is None:
        return cart_for_customer(customer=customer), None
    # Django sets ``replay`` only when the join found an order.
    return cart, _replay(getattr(cart, "replay", None), fingerprint)


def _replay(existing: Order | None, fingerprint: str) -> Order | None:
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


@dataclass(frozen=True)
class _Checkout:
    """What one checkout asks for, checked before any row is locked."""

    store: Store
    slot: object  # stores.selectors.Slot
    customer: Customer
    guest: bool
    contact: Contact
    channel: str
    payment_method: str
    pickup_person: str
    idempotency_key: str | None
    fingerprint: str
    user: object
    now: datetime
    language: str


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

    Writes the order, its lines, the first event, a touchpoint and the confirmation, empties
    the cart, then books a place in the slot and reserves every line with one conditional
    UPDATE each — all or nothing.
    ``language``: the one the order is placed in (its messages speak it); without one, the
    customer's. The same ``idempotency_key`` returns the order already placed (``replayed``)
    if ``fingerprint`` (``request_fingerprint``) matches, and raises ``idempotency_mismatch``
    if not; ``replay_checked``: the caller has just looked the key up and found no order.
    """
    now = now or timezone.now()
    if not replay_checked:
        existing = replayed_order(
            cart=cart, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if existing is not None:
            return existing
    _check_payment_method(payment_method, allow_online=allow_online)
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    slot = _bookable_slot(store=store, slot_start=slot_start, now=now)
    if customer is None and contact is None:
        raise OrderError("contact_required", _("Please give your name and email."), status=400)
    for attempt in range(PICKUP_CODE_TRIES):
        try:
            with transaction.atomic():
                checkout = _Checkout(
                    store=store,
                    slot=slot,
                    **_who_orders(customer=customer, contact=contact, language=language),
                    channel=channel,
                    payment_method=payment_method,
                    pickup_person=pickup_person.strip(),
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                    user=user,
                    now=now,
                )
                return _place(cart=cart, checkout=checkout)
        except IntegrityError as error:
            if PICKUP_CODE_CONSTRAINT in str(error) and attempt + 1 < PICKUP_CODE_TRIES:
                continue  # the random pickup code is taken at this store: again, with another
            # A concurrent submit with the same key won the race: return its order.
            existing = replayed_order(
                cart=cart, idempotency_key=idempotency_key, fingerprint=fingerprint
            )
            if existing is not None:
                return existing
            raise
    raise AssertionError("unreachable")  # the last try returns or raises


def _check_payment_method(payment_method: str, *, allow_online: bool) -> None:
    online = (
        payment_method == PaymentMethod.ONLINE and allow_online and bool(settings.STRIPE_SECRET_KEY)
    )
    if payment_method != PaymentMethod.IN_STORE and not online:
        raise OrderError(
            "payment_unavailable", _("Online payment is not available yet."), status=400
        )


def _bookable_slot(*, store: Store, slot_start: datetime, now: datetime):
    """The slot starting at ``slot_start`` if the store takes orders for it now."""
    slot = (
        # Whether it has room is the booking's to decide (book_slot), under its row lock.
        bookable_slot(store=store, start=slot_start, now=now, count_bookings=False)
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
    return slot


def _who_orders(*, customer: Customer | None, contact: Contact | None, language: str) -> dict:
    """The customer (a guest's record found or made from the contact), the contact the order
    keeps, and the language it speaks."""
    if customer is None:
        customer = customer_for_contact(
            email=contact.email, name=contact.name, phone=contact.phone, language=language
        )
        kept, guest = contact, True
    else:
        kept = Contact(
            name=(contact.name if contact else "") or customer.name or customer.email,
            email=customer.email,
            phone=(contact.phone if contact else "") or customer.phone,
        )
        guest = False
    return {
        "customer": customer,
        "guest": guest,
        "contact": kept,
        "language": supported_language(language) if language else customer.language,
    }


def _place(*, cart: Cart, checkout: _Checkout) -> Order:
    lines = _locked_lines(cart)
    if not lines:
        # Emptied by the submit this one retries (same key), which has just committed?
        existing = replayed_order(
            cart=cart, idempotency_key=checkout.idempotency_key, fingerprint=checkout.fingerprint
        )
        if existing is not None:
            return existing
        raise OrderError("empty_cart", _("Your cart is empty."), status=400)
    currency = _orderable(lines)
    order, order_lines = _write_order(cart, checkout, lines, currency)
    event = open_history(order, channel=checkout.channel, user=checkout.user, now=checkout.now)
    empty_cart(cart=cart)
    # Last, just before COMMIT: the slot's and the items' counters are the rows every checkout
    # of the same slot or item waits for, so they stay locked for as short a time as possible.
    # Every checkout takes them in the same order (the slot, then stock by variant).
    _reserve(checkout.store, checkout.slot, lines)
    # What was just written, for an answer that needs no re-read (``with_written_rows``).
    order.written_rows = {"lines": order_lines, "events": [event], "payments": []}
    return order


def with_written_rows(order: Order) -> Order | None:
    """The order just placed with its lines, first event and (no) payments as they were
    written, as if prefetched; None for an order read from the database (a replay)."""
    rows = getattr(order, "written_rows", None)
    if rows is None:
        return None
    cache = {}
    for name, objs in rows.items():
        queryset = getattr(order, name).all()
        queryset._result_cache = list(objs)
        queryset._prefetch_done = True
        cache[name] = queryset
    order._prefetched_objects_cache = cache
    return order


def _locked_lines(cart: Cart) -> list[CartLine]:
    """The cart's lines, sorted by variant (every checkout locks stock rows in that order),
    with the cart row and the lines locked: two submits of the same checkout are serialised,
    and the second finds the lines the first ordered gone (a locked row that was deleted
    meanwhile is left out), so one key is looked up once per new checkout."""
    return list(
        CartLine.objects.filter(cart=cart)
        .select_related("cart", "variant__product")
        .select_for_update(of=("self", "cart"))
        .order_by("variant_id")
    )


def _orderable(lines: list[CartLine]) -> str:
    """The lines' one currency, once every line is still sold."""
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
    return currencies.pop()


def _reserve(store: Store, slot, lines: list[CartLine]) -> None:
    """A place in the slot and every line's units, or nothing (the transaction rolls back)."""
    if not book_slot(store=store, start=slot.start):
        raise StoreError(
            "slot_full", _("That pickup time has just filled up. Please choose another.")
        )
    short = [
        line
        for line in lines
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


def _write_order(
    cart: Cart, checkout: _Checkout, lines: list[CartLine], currency: str
) -> tuple[Order, list[OrderLine]]:
    # Unique per store (a constraint): a code already taken fails the insert, and
    # ``place_order`` tries again with a new one — rarer than a query on every checkout.
    code = random_code()
    online = checkout.payment_method == PaymentMethod.ONLINE
    order = Order.objects.create(
        customer=checkout.customer,
        store=checkout.store,
        cart=cart,
        idempotency_key=checkout.idempotency_key or None,
        request_fingerprint=checkout.fingerprint if checkout.idempotency_key else "",
        channel=checkout.channel,
        # Online orders are placed once their card is authorised.
        status=OrderStatus.PENDING_PAYMENT if online else OrderStatus.PLACED,
        payment_method=checkout.payment_method,
        currency=currency,
        total=sum((ln.line_total for ln in lines), Decimal("0.00")),
        slot_start=checkout.slot.start,
        slot_end=checkout.slot.end,
        contact_name=checkout.contact.name,
        contact_email=checkout.contact.email,
        contact_phone=checkout.contact.phone,
        pickup_person=checkout.pickup_person,
        pickup_code=code,
        created_at=checkout.now,
        guest_checkout=checkout.guest,
        language=checkout.language,
    )
    with translation.override(checkout.language):  # the names as the customer read them
        order_lines = OrderLine.objects.bulk_create(
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
    return order, order_lines
