"""Every write to stock and slot counters.

Counters only ever change through one conditional UPDATE each (DESIGN §3): the database
decides, under its row lock, whether the change still fits — never Python reading first.
"""

from datetime import datetime

from django.db import connection
from django.db.models import F

from stores.models import SlotBooking, StockLevel, Store


def set_on_hand(*, store_id: int, variant_id: int, on_hand: int) -> bool:
    """A stock count: set what is on the shelf, never below what open orders hold.

    One conditional UPDATE, so a checkout reserving at the same moment is never overwritten.
    """
    if on_hand < 0:
        return False
    updated = StockLevel.objects.filter(
        store_id=store_id, variant_id=variant_id, reserved__lte=on_hand
    ).update(on_hand=on_hand)
    return updated == 1


def reserve_stock(*, store_id: int, variant_id: int, quantity: int) -> bool:
    """Hold ``quantity`` units for an order; False if fewer are available."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    updated = StockLevel.objects.filter(
        store_id=store_id, variant_id=variant_id, on_hand__gte=F("reserved") + quantity
    ).update(reserved=F("reserved") + quantity)
    return updated == 1


def release_stock(*, store_id: int, variant_id: int, quantity: int) -> None:
    """Give reserved units back (cancel, expiry, lines refused at the counter)."""
    if quantity <= 0:
        return
    updated = StockLevel.objects.filter(
        store_id=store_id, variant_id=variant_id, reserved__gte=quantity
    ).update(reserved=F("reserved") - quantity)
    if updated != 1:
        raise RuntimeError(f"stock {store_id}/{variant_id}: cannot release {quantity}")


def consume_stock(*, store_id: int, variant_id: int, quantity: int) -> None:
    """Reserved units leave the store with the customer."""
    if quantity <= 0:
        return
    updated = StockLevel.objects.filter(
        store_id=store_id, variant_id=variant_id, reserved__gte=quantity, on_hand__gte=quantity
    ).update(reserved=F("reserved") - quantity, on_hand=F("on_hand") - quantity)
    if updated != 1:
        raise RuntimeError(f"stock {store_id}/{variant_id}: cannot consume {quantity}")


def return_stock(*, store_id: int, variant_id: int, quantity: int) -> None:
    """Units a customer brought back (a refund) go back on the shelf."""
    if quantity <= 0:
        return
    updated = StockLevel.objects.filter(store_id=store_id, variant_id=variant_id).update(
        on_hand=F("on_hand") + quantity
    )
    if updated != 1:
        raise RuntimeError(f"stock {store_id}/{variant_id}: cannot return {quantity}")


# SlotBooking's table (stores_slotbooking) and its unique (store, start).
_BOOK_SLOT = (
    "INSERT INTO stores_slotbooking (store_id, start, booked) VALUES (%s, %s, 1) "
    "ON CONFLICT (store_id, start) DO UPDATE SET booked = stores_slotbooking.booked + 1 "
    "WHERE stores_slotbooking.booked < %s RETURNING 1"
)


def book_slot(*, store: Store, start: datetime) -> bool:
    """Take one place in a pickup slot; False when the slot is already full.

    One statement: the slot's first booking inserts its row, later ones add one to it while
    it is under the store's capacity (PostgreSQL and SQLite both upsert).
    """
    if store.slot_capacity <= 0:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            _BOOK_SLOT,
            [store.pk, connection.ops.adapt_datetimefield_value(start), store.slot_capacity],
        )
        return cursor.fetchone() is not None


def release_slot(*, store: Store, start: datetime) -> None:
    SlotBooking.objects.filter(store=store, start=start, booked__gt=0).update(
        booked=F("booked") - 1
    )
