"""Pickup slots: opening hours, lead time, closures, capacity and time zones (DST included)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import override

from orders.services import place_order
from stores.models import Closure, OpeningHours, SlotBooking
from stores.selectors import (
    describe_pickup,
    earliest_pickups,
    pickup_slots,
    slots_by_day,
    slots_on,
)
from tests.conftest import MADRID, NOW, make_cart
from tests.support.factories import StockLevelFactory, StoreFactory

MEXICO = ZoneInfo("America/Mexico_City")
SLOTS_PER_DAY = (22 - 8) * 2  # the factory's 08:00–22:00 in 30-minute slots


def _local(slots, tz):
    return [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]


def _hours(store, weekday, opens, closes):
    OpeningHours.objects.create(store=store, weekday=weekday, opens=opens, closes=closes)


def _by_local_day(slots, tz):
    days: dict[date, list] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    return days


# --- Hours, length, lead time, closures --------------------------------------------------------


def test_slots_follow_the_opening_hours_of_the_day(db):
    # given a store open on Wednesdays 10:00–12:00 and 17:00–18:00 only
    store = StoreFactory(hours=False)
    _hours(store, OpeningHours.Weekday.WEDNESDAY, time(10), time(12))
    _hours(store, OpeningHours.Weekday.WEDNESDAY, time(17), time(18))

    # when the slots of the coming week are listed on a Wednesday morning
    slots = pickup_slots(store=store, now=NOW)

    # then there are 30-minute slots inside those hours, today only
    assert _local(slots, MADRID) == ["10:00", "10:30", "11:00", "11:30", "17:00", "17:30"]
    assert {slot.start.astimezone(MADRID).date() for slot in slots} == {date(2025, 1, 15)}
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)
    assert all((slot.capacity, slot.remaining) == (5, 5) for slot in slots)
    assert all(slot.start.tzinfo is not None for slot in slots)


def test_slot_length_comes_from_the_store(db):
    store = StoreFactory(hours=False, slot_minutes=45)
    _hours(store, OpeningHours.Weekday.WEDNESDAY, time(10), time(12))

    slots = pickup_slots(store=store, now=NOW, days=1)

    # 11:30 + 45 minutes would end after closing time
    assert _local(slots, MADRID) == ["10:00", "10:45"]
    assert [slot.end.astimezone(MADRID).strftime("%H:%M") for slot in slots] == ["10:45", "11:30"]


@pytest.mark.parametrize(
    ("lead_minutes", "first"),
    [(0, "09:00"), (30, "09:30"), (60, "10:00"), (61, "10:30"), (90, "10:30"), (180, "12:00")],
)
def test_first_slot_respects_the_preparation_lead_time(db, lead_minutes, first):
    store = StoreFactory(lead_time_minutes=lead_minutes)

    slots = pickup_slots(store=store, now=NOW, days=1)

    assert _local(slots, MADRID)[0] == first
    assert _local(slots, MADRID)[-1] == "21:30"


@pytest.mark.parametrize("search_days", [None, 3], ids=["as-configured", "3-days"])
def test_the_configured_days_of_slots_by_default(store, settings, search_days):
    if search_days is not None:
        settings.PICKUP_SLOT_SEARCH_DAYS = search_days
    search_days = settings.PICKUP_SLOT_SEARCH_DAYS

    slots = pickup_slots(store=store, now=NOW)

    days = _by_local_day(slots, MADRID)
    assert sorted(days) == [date(2025, 1, 15) + timedelta(days=i) for i in range(search_days)]
    assert len(days[date(2025, 1, 15)]) == 24  # from 10:00 (09:00 + 60 min lead)
    assert all(len(days[day]) == SLOTS_PER_DAY for day in sorted(days)[1:])


def test_closure_days_have_no_slots(store):
    Closure.objects.create(store=store, date=date(2025, 1, 16), reason="Stocktake")

    slots = pickup_slots(store=store, now=NOW, days=3)

    assert sorted(_by_local_day(slots, MADRID)) == [date(2025, 1, 15), date(2025, 1, 17)]


def test_days_without_opening_hours_have_no_slots(db):
    store = StoreFactory(hours=False)
    _hours(store, OpeningHours.Weekday.MONDAY, time(9), time(10))

    slots = pickup_slots(store=store, now=NOW)

    assert [slot.start.astimezone(MADRID) for slot in slots] == [
        datetime(2025, 1, 20, 9, 0, tzinfo=MADRID),
        datetime(2025, 1, 20, 9, 30, tzinfo=MADRID),
    ]


def test_remaining_places_count_the_bookings(store):
    first, second = pickup_slots(store=store, now=NOW, days=1)[:2]
    SlotBooking.objects.create(store=store, start=first.start, booked=2)
    SlotBooking.objects.create(store=store, start=second.start, booked=5)

    slots = pickup_slots(store=store, now=NOW, days=1)

    assert [(s.remaining, s.is_full) for s in slots[:3]] == [(3, False), (0, True), (5, False)]


def test_earliest_pickup_skips_full_slots(store, other_store):
    first = pickup_slots(store=store, now=NOW, days=1)[0]
    SlotBooking.objects.create(store=store, start=first.start, booked=store.slot_capacity)

    earliest = earliest_pickups(stores=[store, other_store], now=NOW)

    assert earliest[store.pk].start == first.start + timedelta(minutes=30)
    assert earliest[other_store.pk].start == first.start


def test_slots_of_one_day(store):
    slots = slots_on(store=store, day=date(2025, 1, 16), now=NOW)

    assert len(slots) == SLOTS_PER_DAY
    assert slots[0].start == datetime(2025, 1, 16, 8, 0, tzinfo=MADRID)


# --- Time zones and daylight saving time -------------------------------------------------------


def test_spring_forward_keeps_local_wall_times(store):
    # given a Madrid store, seen from the Saturday before clocks go forward (29 March 2026)
    now = datetime(2026, 3, 28, 0, 0, tzinfo=MADRID)

    slots = pickup_slots(store=store, now=now, days=2)

    # then both days have every slot at the same local times, 30 real minutes long
    days = _by_local_day(slots, MADRID)
    assert sorted(days) == [date(2026, 3, 28), date(2026, 3, 29)]
    for day_slots in days.values():
        assert len(day_slots) == SLOTS_PER_DAY
        assert _local(day_slots, MADRID)[:2] == ["08:00", "08:30"]
        assert _local(day_slots, MADRID)[-1] == "21:30"
        assert all(s.end - s.start == timedelta(minutes=30) for s in day_slots)
    # 10:00 local is 09:00 UTC in winter time and 08:00 UTC in summer time
    at_ten = [s.start for s in slots if s.start.astimezone(MADRID).time() == time(10)]
    assert at_ten == [
        datetime(2026, 3, 28, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
    ]


def test_fall_back_keeps_local_wall_times(store):
    # given a Madrid store, seen from the Saturday before clocks go back (25 October 2026)
    now = datetime(2026, 10, 24, 0, 0, tzinfo=MADRID)

    slots = pickup_slots(store=store, now=now, days=2)

    days = _by_local_day(slots, MADRID)
    assert sorted(days) == [date(2026, 10, 24), date(2026, 10, 25)]
    for day_slots in days.values():
        assert len(day_slots) == SLOTS_PER_DAY
        assert _local(day_slots, MADRID)[0] == "08:00"
        assert all(s.end - s.start == timedelta(minutes=30) for s in day_slots)
    at_ten = [s.start for s in slots if s.start.astimezone(MADRID).time() == time(10)]
    assert at_ten == [
        datetime(2026, 10, 24, 8, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 9, 0, tzinfo=UTC),
    ]


def test_order_on_the_dst_day_is_stored_at_the_right_instant(store, variant, customer):
    StockLevelFactory(store=store, variant=variant, on_hand=3)

    order = place_order(
        cart=make_cart((variant, 1)),
        store=store,
        customer=customer,
        slot_start=datetime(2026, 3, 29, 10, 0, tzinfo=MADRID),
        payment_method="in_store",
        channel="web",
        now=datetime(2026, 3, 28, 12, 0, tzinfo=MADRID),
    )

    assert order.slot_start == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert order.slot_end == datetime(2026, 3, 29, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 25), date(2026, 11, 1)],
)
def test_mexico_city_slots_stay_at_utc_minus_six(db, day):
    # Mexico City has no daylight saving time since 2022, whatever the US or Europe do
    store = StoreFactory(timezone="America/Mexico_City")
    now = datetime.combine(day - timedelta(days=1), time(12), tzinfo=MEXICO)

    slots = slots_on(store=store, day=day, now=now)

    assert len(slots) == SLOTS_PER_DAY
    assert slots[0].start == datetime.combine(day, time(14), tzinfo=UTC)  # 08:00 local
    ten = next(s for s in slots if s.start.astimezone(MEXICO).time() == time(10))
    assert ten.start == datetime.combine(day, time(16), tzinfo=UTC)


def test_two_stores_in_different_time_zones_open_at_their_own_local_time(store):
    mexico = StoreFactory(timezone="America/Mexico_City")
    now = datetime(2025, 1, 15, 6, 0, tzinfo=UTC)

    earliest = earliest_pickups(stores=[store, mexico], now=now)

    # Madrid: 07:00 local now + 60 min lead → 08:00 local = 07:00 UTC
    assert earliest[store.pk].start == datetime(2025, 1, 15, 7, 0, tzinfo=UTC)
    # Mexico City: 00:00 local now → opens 08:00 local = 14:00 UTC
    assert earliest[mexico.pk].start == datetime(2025, 1, 15, 14, 0, tzinfo=UTC)


# The pickup time pickers show one local day at a time: evening slots in Mexico City fall on
# the next day in UTC but stay under the store's own date.
def test_slots_are_grouped_by_the_stores_local_day(db):
    store = StoreFactory(timezone="America/Mexico_City", hours=False, lead_time_minutes=0)
    for weekday in (OpeningHours.Weekday.WEDNESDAY, OpeningHours.Weekday.THURSDAY):
        _hours(store, weekday, time(20), time(22))
    now = datetime(2025, 1, 15, 12, tzinfo=UTC)  # Wednesday 06:00 in Mexico City

    days = slots_by_day(store=store, slots=pickup_slots(store=store, now=now, days=2))

    assert [day for day, _ in days] == [date(2025, 1, 15), date(2025, 1, 16)]
    assert [_local(slots, MEXICO) for _, slots in days] == [
        ["20:00", "20:30", "21:00", "21:30"]
    ] * 2
    assert days[0][1][0].start == datetime(2025, 1, 16, 2, tzinfo=UTC)


# A store open across a DST change: on 29 March 2026 in Madrid the 02:00–03:00 wall times do
# not exist; slots must still be distinct and 30 real minutes long.
def test_overnight_store_on_spring_forward_day_has_distinct_30_minute_slots(db):
    store = StoreFactory(hours=False, lead_time_minutes=0)
    _hours(store, OpeningHours.Weekday.SUNDAY, time(0), time(6))

    slots = slots_on(store=store, day=date(2026, 3, 29), now=datetime(2026, 3, 28, tzinfo=UTC))

    starts = [s.start for s in slots]
    assert starts == sorted(set(starts))
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert len(slots) == 10  # 00:00–06:00 local is 5 real hours that day


# The day clocks go back (25 October 2026): the repeated hour (01:00–02:00 UTC) has slots too,
# and none lasts longer than 30 minutes.
def test_overnight_store_on_fall_back_day_has_distinct_30_minute_slots(db):
    store = StoreFactory(hours=False, lead_time_minutes=0)
    _hours(store, OpeningHours.Weekday.SUNDAY, time(0), time(6))

    slots = slots_on(store=store, day=date(2026, 10, 25), now=datetime(2026, 10, 24, tzinfo=UTC))

    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert len(slots) == 14  # 00:00–06:00 local is 7 real hours that day


# At checkout, the first summer-time slot of an overnight store books like any other.
def test_checkout_in_the_first_summer_hour_of_an_overnight_store(db, variant, customer):
    store = StoreFactory(hours=False, lead_time_minutes=0)
    _hours(store, OpeningHours.Weekday.SUNDAY, time(0), time(6))
    StockLevelFactory(store=store, variant=variant, on_hand=3)

    order = place_order(
        cart=make_cart((variant, 1)),
        store=store,
        customer=customer,
        slot_start=datetime(2026, 3, 29, 3, 30, tzinfo=MADRID),
        payment_method="in_store",
        channel="web",
        now=datetime(2026, 3, 28, tzinfo=UTC),
    )

    assert order.slot_start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert order.slot_end == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


# --- How the earliest pickup is described -------------------------------------------------------


def _first(store, now):
    return pickup_slots(store=store, now=now)[0]


def test_describe_pickup_today(store):
    with override("en"):
        assert describe_pickup(slot=_first(store, NOW), store=store, now=NOW) == "today from 10:00"


def test_describe_pickup_tomorrow_after_the_last_slot(store):
    now = datetime(2025, 1, 15, 21, 45, tzinfo=MADRID)

    with override("en"):
        assert describe_pickup(slot=_first(store, now), store=store, now=now) == (
            "tomorrow from 08:00"
        )


def test_describe_pickup_uses_the_stores_date_not_utcs(store):
    # 23:30 UTC on Wednesday is already 00:30 on Thursday in Madrid
    now = datetime(2025, 1, 15, 23, 30, tzinfo=UTC)

    with override("en"):
        assert describe_pickup(slot=_first(store, now), store=store, now=now) == "today from 08:00"


def test_describe_pickup_in_mexico_city_local_time(db):
    store = StoreFactory(timezone="America/Mexico_City")
    # 03:00 UTC on the 15th is 21:00 on the 14th in Mexico City
    now = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)

    with override("en"):
        # Not the shop's zone (Madrid): the zone is named.
        assert describe_pickup(slot=_first(store, now), store=store, now=now) == (
            "tomorrow from 08:00\xa0CST"
        )


def test_describe_pickup_later_in_the_week(store):
    Closure.objects.create(store=store, date=date(2025, 1, 16))
    now = datetime(2025, 1, 15, 21, 45, tzinfo=MADRID)

    with override("en"):
        assert describe_pickup(slot=_first(store, now), store=store, now=now) == (
            "Friday 17 from 08:00"
        )


def test_describe_pickup_without_slots(store):
    with override("en"):
        assert describe_pickup(slot=None, store=store, now=NOW) == (
            "no pickup slots in the next days"
        )
