"""Reads about stores shared by the shop, the API and the tablet."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import F, Prefetch
from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from core.display import label_of
from customers.phones import country_for_timezone
from stores import cache as store_cache
from stores.models import Closure, OpeningHours, SlotBooking, StaffMembership, StockLevel, Store


@dataclass(frozen=True)
class Slot:
    store_id: int
    start: datetime  # aware
    end: datetime
    capacity: int
    remaining: int

    @property
    def is_full(self) -> bool:
        return self.remaining <= 0


def active_stores():
    """Active stores with their hours and upcoming closures, for slot computations."""
    return Store.objects.filter(is_active=True).prefetch_related(
        Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
        Prefetch(
            "closures",
            queryset=Closure.objects.filter(date__gte=timezone.now().date() - timedelta(days=1)),
        ),
    )


def active_store_by_code(code: str) -> Store | None:
    """The active store with this code, with its hours and closures (as ``active_stores``):
    from the cache when it has a copy as of the last change (stores/cache.py), else from the
    database (three queries)."""
    day = timezone.now().date()
    version, store = store_cache.read(code, day)
    if store is not None:
        return store if store.is_active else None
    store = Store.objects.filter(code=code).prefetch_related(
        Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
        Prefetch("closures", queryset=Closure.objects.filter(date__gte=day - timedelta(days=1))),
    )
    store = store.first()
    if store is not None and version is not None:
        store_cache.write(code, day, version, store)
    return store if store is not None and store.is_active else None


def store_time_zones() -> set[str]:
    """The time zones of the active stores."""
    return set(Store.objects.filter(is_active=True).values_list("timezone", flat=True))


def active_store(store_id: int | None) -> Store | None:
    """The active store with this id (a shopper's chosen store), without its hours."""
    if not store_id:
        return None
    return Store.objects.filter(pk=store_id, is_active=True).first()


def store_country(*, code: str = "", store_id: int | None = None) -> str:
    """The country of the active store with this code or id ("" when there is none): where
    a phone number typed without a country code is from."""
    if not code and not store_id:
        return ""
    stores = Store.objects.filter(is_active=True)
    stores = stores.filter(code=code) if code else stores.filter(pk=store_id)
    return country_for_timezone(stores.values_list("timezone", flat=True).first() or "")


def store_by_code(code: str) -> Store:
    store = active_stores().filter(code=code).first()
    if store is None:
        raise Http404("No such store")
    return store


# --- Staff access ----------------------------------------------------------------------------


def staff_stores(user):
    """Stores the user works at (all for a manager membership's stores)."""
    if not user.is_authenticated:
        return Store.objects.none()
    return active_stores().filter(staff__user=user).distinct()


def store_for_staff(user, code: str) -> Store:
    """The store with this code if the user works there; 404 otherwise (no existence leak).
    The store comes from the store cache; the membership is one indexed lookup."""
    store = active_store_by_code(code) if user.is_authenticated else None
    if store is None or not StaffMembership.objects.filter(user=user, store=store).exists():
        raise Http404("No such store")
    return store


def managed_stores(user):
    """Active stores the user manages (their reports and reconciliation); every active store
    for a superuser. Without hours or closures (``active_stores`` has them)."""
    if not user.is_authenticated:
        return Store.objects.none()
    stores = Store.objects.filter(is_active=True).order_by("code")
    if user.is_superuser:
        return stores
    return stores.filter(staff__user=user, staff__role=StaffMembership.Role.MANAGER).distinct()


def is_manager(user, store: Store | None = None) -> bool:
    if not user.is_authenticated:
        return False
    memberships = StaffMembership.objects.filter(user=user, role=StaffMembership.Role.MANAGER)
    if store is not None:
        memberships = memberships.filter(store=store)
    return memberships.exists()


# --- Stock -----------------------------------------------------------------------------------


def availability(*, variant_ids, store_ids=None) -> dict[tuple[int, int], int]:
    """{(store_id, variant_id): available units} for the given variants, in one query."""
    levels = StockLevel.objects.filter(variant_id__in=list(variant_ids))
    if store_ids is not None:
        levels = levels.filter(store_id__in=list(store_ids))
    return {
        (store_id, variant_id): on_hand - reserved
        for store_id, variant_id, on_hand, reserved in levels.values_list(
            "store_id", "variant_id", "on_hand", "reserved"
        )
    }


def stores_with_stock(*, variant_id: int) -> list[Store]:
    """The active stores with at least one unit of the variant available, in store order."""
    return list(
        Store.objects.filter(
            is_active=True,
            stock_levels__variant_id=variant_id,
            stock_levels__on_hand__gt=F("stock_levels__reserved"),
        )
    )


# --- Pickup slots ----------------------------------------------------------------------------


def _opening_intervals(store: Store, day: date):
    """The store's opening intervals on one local day as aware (start, end) pairs.

    Local wall times become instants first; slots are then counted in real elapsed time, so a
    day with a DST change gets neither duplicate nor stretched slots.
    """
    if any(closure.date == day for closure in store.closures.all()):
        return
    tz = store.tz
    for hours in store.opening_hours.all():
        if hours.weekday == day.weekday():
            opens = datetime.combine(day, hours.opens, tzinfo=tz).astimezone(UTC)
            closes = datetime.combine(day, hours.closes, tzinfo=tz).astimezone(UTC)
            if closes > opens:
                yield opens, closes


def _bookings(store_ids, start: datetime, end: datetime) -> dict[tuple[int, datetime], int]:
    rows = SlotBooking.objects.filter(
        store_id__in=list(store_ids), start__gte=start, start__lt=end
    ).values_list("store_id", "start", "booked")
    return {(store_id, slot_start): booked for store_id, slot_start, booked in rows}


def _slots(store: Store, days: list[date], now: datetime, booked: dict) -> list[Slot]:
    earliest = now + timedelta(minutes=store.lead_time_minutes)
    length = timedelta(minutes=store.slot_minutes)
    slots = []
    for day in days:
        for opens, closes in _opening_intervals(store, day):
            start = opens
            while start + length <= closes:
                if start >= earliest:
                    taken = booked.get((store.pk, start), 0)
                    slots.append(
                        Slot(
                            store_id=store.pk,
                            start=start,
                            end=start + length,
                            capacity=store.slot_capacity,
                            remaining=max(store.slot_capacity - taken, 0),
                        )
                    )
                start += length
    return slots


def _local_days(store: Store, now: datetime, count: int) -> list[date]:
    today = now.astimezone(store.tz).date()
    return [today + timedelta(days=i) for i in range(count)]


def pickup_slots(
    *, store: Store, now: datetime | None = None, days: int | None = None
) -> list[Slot]:
    """Bookable slots from now + lead time, inside opening hours, over the next ``days``."""
    now = now or timezone.now()
    local_days = _local_days(store, now, days or settings.PICKUP_SLOT_SEARCH_DAYS)
    booked = _bookings([store.pk], now, now + timedelta(days=len(local_days) + 1))
    return _slots(store, local_days, now, booked)


def slots_by_day(*, store: Store, slots: list[Slot]) -> list[tuple[date, list[Slot]]]:
    """``slots`` (in time order) grouped by the store's local day: the days in order, each with
    its slots — the pickup time pickers show one day at a time."""
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(store.tz).date(), []).append(slot)
    return list(days.items())


def slots_on(
    *, store: Store, day: date, now: datetime | None = None, count_bookings: bool = True
) -> list[Slot]:
    """The slots of one local day (for `GET /stores/{code}/slots/?date=`); without
    ``count_bookings``, every slot's ``remaining`` is its capacity (no query)."""
    now = now or timezone.now()
    start = datetime.combine(day, datetime.min.time()).replace(tzinfo=store.tz)
    booked = (
        _bookings([store.pk], start, start + timedelta(days=1, hours=2)) if count_bookings else {}
    )
    return _slots(store, [day], now, booked)


def bookable_slot(
    *, store: Store, start: datetime, now: datetime | None = None, count_bookings: bool = True
) -> Slot | None:
    """The slot starting exactly at ``start`` if it is a real, future, bookable slot.

    Without ``count_bookings`` the slot is checked against the store's hours only (no query;
    its ``remaining`` is its capacity): for a booking, whose upsert decides whether it fits.
    """
    now = now or timezone.now()
    if timezone.is_naive(start) or abs(start - now) > timedelta(days=366):
        return None  # also keeps year 1 / 9999 away from timezone arithmetic
    day = start.astimezone(store.tz).date()
    for slot in slots_on(store=store, day=day, now=now, count_bookings=count_bookings):
        if slot.start == start:
            return slot
    return None


def earliest_pickups(*, stores, now: datetime | None = None) -> dict[int, Slot | None]:
    """For each store (hours prefetched), its first slot with room left — one query in all."""
    now = now or timezone.now()
    stores = list(stores)
    count = settings.PICKUP_SLOT_SEARCH_DAYS
    booked = _bookings([s.pk for s in stores], now, now + timedelta(days=count + 1))
    result: dict[int, Slot | None] = {}
    for store in stores:
        result[store.pk] = next(
            (
                s
                for s in _slots(store, _local_days(store, now, count), now, booked)
                if not s.is_full
            ),
            None,
        )
    return result


def describe_pickup(*, slot: Slot | None, store: Store, now: datetime | None = None) -> str:
    """“today from 17:30”, “tomorrow from 10:00”, “Thursday 26 from 10:00”, in the store's time
    (with its zone where that reads differently from the shop's: “today from 10:00 CST”)."""
    if slot is None:
        return _("no pickup slots in the next days")
    now = now or timezone.now()
    local = slot.start.astimezone(store.tz)
    today = now.astimezone(store.tz).date()
    time = formats.time_format(local, "H:i") + label_of(local)
    if local.date() == today:
        return _("today from %(time)s") % {"time": time}
    if local.date() == today + timedelta(days=1):
        return _("tomorrow from %(time)s") % {"time": time}
    return _("%(day)s from %(time)s") % {"day": formats.date_format(local, "l j"), "time": time}
