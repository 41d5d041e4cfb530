"""Every write to the catalogue's carts. Web, API and tablet all change carts through here."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import Customer
from customers.services import queue_touchpoint, record_touchpoint
from shop.errors import CartError
from shop.models import Cart, CartHandoff, CartLine, Variant
from stores.models import Store
from stores.selectors import active_store, active_store_by_code, stores_with_stock


def _check_quantity(quantity, *, allow_zero: bool = False) -> int:
    limit = settings.CART_MAX_LINE_QUANTITY
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise CartError("bad_quantity", _("Quantity must be a whole number."))
    low = 0 if allow_zero else 1
    if quantity < low or quantity > limit:
        raise CartError(
            "bad_quantity",
            _("Quantity must be between %(low)d and %(high)d.") % {"low": low, "high": limit},
        )
    return quantity


def _touch(cart: Cart, channel: str, kind: str, payload: dict) -> None:
    if cart.customer_id is not None:
        record_touchpoint(customer=cart.customer, channel=channel, kind=kind, payload=payload)


def cart_for_customer(*, customer: Customer) -> Cart:
    """The customer's one cart, created on first use (safe against two devices at once)."""
    cart = Cart.objects.filter(customer=customer).first()
    if cart is not None:
        return cart
    try:
        with transaction.atomic():
            return Cart.objects.create(customer=customer)
    except IntegrityError:
        return Cart.objects.get(customer=customer)


def create_anonymous_cart(*, store_id: int | None = None) -> Cart:
    return Cart.objects.create(store_id=store_id)


def _open_cart(*, cart: Cart | None, customer: Customer | None, new_cart_store: int | None):
    """The cart a write goes to: ``cart``, else the customer's (made on first use), else a new
    anonymous cart at ``new_cart_store``. Called inside the write's transaction, so a refused
    write leaves no new, empty cart behind."""
    if cart is not None:
        return cart
    if customer is not None:
        return cart_for_customer(customer=customer)
    return create_anonymous_cart(store_id=new_cart_store)


def _check_in_stock(variant: Variant, store_id: int | None) -> None:
    """Refuse an item the shopper's store has none of (any store, while none is chosen),
    naming the stores that have it."""
    stocked = stores_with_stock(variant_id=variant.pk)
    if store_id is None and stocked:
        return
    if any(store.pk == store_id for store in stocked):
        return
    store = active_store(store_id)
    if store is None and stocked:
        return  # the chosen store is closed for good: checkout asks for another one
    if not stocked:
        message = _("%(item)s is out of stock at every store.") % {"item": variant}
    else:
        message = ngettext(
            "%(item)s is out of stock at %(store)s — available at %(stores)s. "
            "Choose that store to add it.",
            "%(item)s is out of stock at %(store)s — available at %(stores)s. "
            "Choose one of those stores to add it.",
            len(stocked),
        ) % {
            "item": variant,
            "store": store.name,
            "stores": ", ".join(s.name for s in stocked),
        }
    raise CartError("out_of_stock", message, status=409, stores=[store.code for store in stocked])


@transaction.atomic
def add_to_cart(
    *,
    sku: str,
    quantity: int,
    channel: str,
    cart: Cart | None = None,
    customer: Customer | None = None,
    new_cart_store: int | None = None,
    store_id: int | None = None,
) -> CartLine:
    """Add units of an item (quantities add up) to ``cart``, else to ``customer``'s, else to a
    new anonymous cart at ``new_cart_store`` (``line.cart``). Refused when the store the
    shopper collects at (``store_id``, by default the cart's) has none of it, or no store has
    any; a refusal writes nothing."""
    quantity = _check_quantity(quantity)
    cart = _open_cart(cart=cart, customer=customer, new_cart_store=new_cart_store)
    variant = (
        Variant.objects.filter(sku=sku, is_active=True, product__is_active=True)
        .select_related("product")
        .first()
    )
    if variant is None:
        raise CartError(
            "unknown_sku", _("We do not sell an item with code %(sku)s.") % {"sku": sku}
        )
    _check_in_stock(variant, cart.store_id if store_id is None else store_id)
    # Lock the cart first: two adds of a new item at once (a double tap) would otherwise both
    # insert the line and one would fail on the unique (cart, variant) constraint.
    Cart.objects.select_for_update().filter(pk=cart.pk).first()
    line = CartLine.objects.select_for_update().filter(cart=cart, variant=variant).first()
    if line is None:
        line = CartLine.objects.create(
            cart=cart, variant=variant, quantity=quantity, channel=channel
        )
    else:
        line.quantity = _check_quantity(line.quantity + quantity)
        line.channel = channel
        line.save(update_fields=["quantity", "channel", "updated_at"])
    Cart.objects.filter(pk=cart.pk).update(updated_at=line.updated_at)
    _touch(cart, channel, "cart_changed", {"sku": sku, "quantity": line.quantity, "action": "add"})
    return line


def _line_in_cart(cart: Cart, line_id) -> CartLine:
    try:
        line_id = int(line_id)
    except (TypeError, ValueError):
        line_id = None
    line = (
        CartLine.objects.select_for_update(of=("self",))
        .select_related("variant")
        .filter(cart=cart, pk=line_id)
        .first()
        if line_id is not None
        else None
    )
    if line is None:
        raise CartError("unknown_line", _("That item is not in your cart."), status=404)
    return line


@transaction.atomic
def set_line_quantity(
    *, line_id, quantity: int, channel: str, cart: Cart | None = None, customer=None
) -> CartLine | None:
    """Change a line's quantity in ``cart`` (or ``customer``'s); 0 removes it. Returns the
    line, or None when removed."""
    quantity = _check_quantity(quantity, allow_zero=True)
    cart = _open_cart(cart=cart, customer=customer, new_cart_store=None)
    line = _line_in_cart(cart, line_id)
    if quantity == 0:
        return remove_line(cart=cart, line_id=line.pk, channel=channel)
    line.quantity = quantity
    line.channel = channel
    line.save(update_fields=["quantity", "channel", "updated_at"])
    _touch(
        cart,
        channel,
        "cart_changed",
        {"sku": line.variant.sku, "quantity": quantity, "action": "set"},
    )
    return line


@transaction.atomic
def remove_line(*, line_id, channel: str, cart: Cart | None = None, customer=None) -> None:
    """Take a line out of ``cart`` (or ``customer``'s)."""
    cart = _open_cart(cart=cart, customer=customer, new_cart_store=None)
    line = _line_in_cart(cart, line_id)
    sku = line.variant.sku
    line.delete()
    _touch(cart, channel, "cart_changed", {"sku": sku, "quantity": 0, "action": "remove"})
    return None


def pickup_store(*, code: str) -> Store:
    """The active store with this code, where a cart can be collected; unknown_store otherwise."""
    store = active_store_by_code(code) if code else None
    if store is None:
        raise CartError("unknown_store", _("We have no store with that code."), status=400)
    return store


@transaction.atomic
def choose_store(
    *, store_id: int | None, channel: str, cart: Cart | None = None, customer=None
) -> None:
    """Where ``cart`` (or ``customer``'s) will be collected."""
    cart = _open_cart(cart=cart, customer=customer, new_cart_store=None)
    Cart.objects.filter(pk=cart.pk).update(store_id=store_id)
    cart.store_id = store_id
    _touch(cart, channel, "store_chosen", {"store_id": store_id})


@dataclass(frozen=True)
class MovedLine:
    """Units of one item moved into a cart, and how many of it the cart holds now."""

    variant: Variant
    quantity: int
    total: int

    @property
    def merged(self) -> bool:
        """The cart already had some of this item."""
        return self.total != self.quantity


def _merge(
    *, source: Cart, target: Cart, channel: str, drop_source: bool
) -> tuple[Cart, list[MovedLine]]:
    if source.pk == target.pk:
        return target, []
    limit = settings.CART_MAX_LINE_QUANTITY
    existing = {
        line.variant_id: line
        for line in CartLine.objects.select_for_update().filter(cart=target).order_by("pk")
    }
    moved = []
    for line in (
        CartLine.objects.select_for_update(of=("self",))
        .select_related("variant__product")
        .filter(cart=source)
        .order_by("pk")
    ):
        mine = existing.get(line.variant_id)
        if mine is None:
            line.cart = target
            line.channel = channel
            line.save(update_fields=["cart", "channel", "updated_at"])
            total = line.quantity
        else:
            mine.quantity = total = min(mine.quantity + line.quantity, limit)
            mine.channel = channel
            mine.save(update_fields=["quantity", "channel", "updated_at"])
            line.delete()
        moved.append(MovedLine(variant=line.variant, quantity=line.quantity, total=total))
    if target.store_id is None and source.store_id is not None:
        target.store_id = source.store_id
        target.save(update_fields=["store", "updated_at"])
    if drop_source:
        source.delete()
    _touch(target, channel, "cart_merged", {})
    return target, moved


@transaction.atomic
def merge_carts(*, source: Cart, target: Cart, channel: str, drop_source: bool = True) -> Cart:
    """Move every line of ``source`` into ``target`` (quantities add up, capped).

    The emptied ``source`` is deleted unless ``drop_source`` is False (a customer's own cart
    handed to someone else stays theirs, empty).
    """
    return _merge(source=source, target=target, channel=channel, drop_source=drop_source)[0]


@transaction.atomic
def attach_cart_on_login(*, anonymous: Cart | None, customer: Customer, channel: str) -> Cart:
    """Logging in: the device's anonymous cart joins the customer's one cart."""
    own = Cart.objects.select_for_update().filter(customer=customer).first()
    if anonymous is None or anonymous.customer_id is not None:
        return own or cart_for_customer(customer=customer)
    if own is None:
        anonymous.customer = customer
        anonymous.save(update_fields=["customer", "updated_at"])
        return anonymous
    return merge_carts(source=anonymous, target=own, channel=channel)


def empty_cart(*, cart: Cart) -> None:
    CartLine.objects.filter(cart=cart).delete()


def record_product_view(*, customer: Customer | None, product, channel: str, now=None) -> None:
    """A known customer looked at a product (anonymous views are not tracked). Queued, not
    written: the page stays a read; the timeline shows it after the next flush (at most a
    minute later, customers.tasks.flush_touchpoints)."""
    if customer is not None:
        queue_touchpoint(
            customer=customer,
            channel=channel,
            kind="product_viewed",
            payload={"product": product.slug},
            now=now,
        )


HANDOFF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed
HANDOFF_CODE_LENGTH = 8


def normalize_handoff_code(code: str) -> str:
    """A code as typed ("abcd-efgh ", "ABCD EFGH") in its stored form ("ABCDEFGH")."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


@transaction.atomic
def start_handoff(*, cart: Cart | None, channel: str, now=None) -> CartHandoff:
    """A code, valid for a few minutes, to continue this cart on another device.

    No cart, or an empty one, has nothing to hand over (empty_cart, 409).
    """
    now = now or timezone.now()
    if cart is None or not CartLine.objects.filter(cart=cart).exists():
        raise CartError(
            "empty_cart", _("Your cart is empty: there is nothing to hand over."), status=409
        )
    expires_at = now + timedelta(seconds=settings.CART_HANDOFF_SECONDS)
    for _attempt in range(5):
        code = "".join(secrets.choice(HANDOFF_ALPHABET) for _ in range(HANDOFF_CODE_LENGTH))
        try:
            with transaction.atomic():
                handoff = CartHandoff.objects.create(
                    code=code, cart=cart, channel=channel, expires_at=expires_at
                )
                break
        except IntegrityError:
            continue
    else:  # pragma: no cover - 31**8 codes
        raise RuntimeError("could not draw a free handoff code")
    _touch(cart, channel, "cart_handoff_started", {"expires_at": expires_at.isoformat()})
    return handoff


@dataclass(frozen=True)
class HandoffClaim:
    """A claimed handoff: the claiming device's cart and what moved into it."""

    cart: Cart
    moved: tuple[MovedLine, ...]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.moved)


@transaction.atomic
def claim_handoff(
    *,
    code: str,
    channel: str,
    cart: Cart | None = None,
    customer: Customer | None = None,
    new_cart_store: int | None = None,
    now=None,
) -> HandoffClaim:
    """Move the handed-off cart's lines into the claiming device's cart (``cart``, else
    ``customer``'s, else a new anonymous one at ``new_cart_store``), once.

    Unknown, expired and already-claimed codes get the same answer, so codes cannot be probed.
    The emptied source cart is kept (anonymous ones too), so the device that made the code
    can tell its shopper where the items went.
    """
    now = now or timezone.now()
    code = normalize_handoff_code(code)
    handoff = (
        CartHandoff.objects.select_for_update(of=("self",))
        .select_related("cart")
        .filter(code=code, claimed_at__isnull=True, expires_at__gt=now)
        .first()
        if len(code) == HANDOFF_CODE_LENGTH
        else None
    )
    if handoff is None:
        raise CartError("bad_handoff", _("This code is wrong or has expired."), status=404)
    cart = _open_cart(cart=cart, customer=customer, new_cart_store=new_cart_store)
    handoff.claimed_at = now
    handoff.save(update_fields=["claimed_at"])
    source = handoff.cart
    if source.pk == cart.pk:
        return HandoffClaim(cart=cart, moved=())
    _touch(source, channel, "cart_handed_off", {"to_cart": cart.pk})
    merged, moved = _merge(source=source, target=cart, channel=channel, drop_source=False)
    _touch(merged, channel, "cart_claimed", {"from_channel": handoff.channel})
    return HandoffClaim(cart=merged, moved=tuple(moved))
