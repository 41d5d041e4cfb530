"""The contact policy as pure rules (customers/policy.py): consent → channel preference with
fallback → quiet hours in the customer's time zone (deferred, never dropped; across midnight
and daylight-saving changes) → frequency cap for non-transactional kinds."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from customers.policy import (
    DEFER,
    FREQUENCY_CAP,
    NO_CHANNEL,
    NO_CONSENT,
    QUIET_HOURS,
    SEND,
    SUPPRESS,
    Recipient,
    decide,
    quiet_until,
    reachable_channels,
)

UTC = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")
NEW_YORK = ZoneInfo("America/New_York")
ALL = frozenset({"email", "sms", "whatsapp"})
NIGHT = {"quiet_start": time(22, 0), "quiet_end": time(8, 0)}


def person(**fields) -> Recipient:
    defaults = {"email": "ana@example.test", "phone": "+34600111222", "timezone": "Europe/Madrid"}
    return Recipient(**{**defaults, **fields})


def at(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


# --- Consent -------------------------------------------------------------------------------------


def test_marketing_needs_the_opt_in():
    decision = decide(
        recipient=person(),
        transactional=False,
        marketing=True,
        now=at(UTC, 2026, 5, 5, 12),
        available=ALL,
    )
    assert (decision.action, decision.reason) == (SUPPRESS, NO_CONSENT)


def test_marketing_with_the_opt_in_goes_out():
    decision = decide(
        recipient=person(marketing_opt_in=True),
        transactional=False,
        marketing=True,
        now=at(UTC, 2026, 5, 5, 12),
        available=ALL,
    )
    assert (decision.action, decision.channel) == (SEND, "email")


def test_order_messages_need_no_consent():
    decision = decide(
        recipient=person(),
        transactional=True,
        marketing=False,
        now=at(UTC, 2026, 5, 5, 12),
        available=ALL,
    )
    assert decision.action == SEND


# --- Channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preferred", "phone", "available", "transactional", "expected"),
    [
        ((), "+34600111222", ALL, True, ("email",)),
        (("sms", "email"), "+34600111222", ALL, True, ("sms", "email")),
        (("whatsapp", "sms"), "", ALL, True, ("email",)),  # no number: order messages use email
        (("whatsapp", "sms"), "", ALL, False, ()),  # ...other messages do not
        (("sms",), "+34600111222", frozenset({"email"}), True, ("email",)),  # no SMS backend
        (("sms", "sms", "email"), "+34600111222", ALL, False, ("sms", "email")),
        (("whatsapp",), "+34600111222", ALL, False, ("whatsapp",)),
    ],
)
def test_reachable_channels_follow_the_preference_list(
    preferred, phone, available, transactional, expected
):
    recipient = person(preferred_channels=preferred, phone=phone)
    assert reachable_channels(recipient, available, transactional=transactional) == expected


def test_the_other_reachable_channels_are_the_fallbacks():
    decision = decide(
        recipient=person(preferred_channels=("whatsapp", "sms", "email")),
        transactional=True,
        marketing=False,
        now=at(UTC, 2026, 5, 5, 12),
        available=ALL,
    )
    assert (decision.channel, decision.fallbacks) == ("whatsapp", ("sms", "email"))


def test_nobody_to_reach_is_suppressed():
    decision = decide(
        recipient=person(email="", phone=""),
        transactional=True,
        marketing=False,
        now=at(UTC, 2026, 5, 5, 12),
        available=ALL,
    )
    assert (decision.action, decision.reason) == (SUPPRESS, NO_CHANNEL)


# --- Quiet hours ---------------------------------------------------------------------------------


def test_outside_quiet_hours_nothing_waits():
    assert quiet_until(person(**NIGHT), at(MADRID, 2026, 5, 5, 12, 0)) is None
    assert quiet_until(person(**NIGHT), at(MADRID, 2026, 5, 5, 8, 0)) is None  # end is open
    assert quiet_until(person(**NIGHT), at(MADRID, 2026, 5, 5, 21, 59)) is None


def test_late_evening_waits_until_the_next_morning():
    until = quiet_until(person(**NIGHT), at(MADRID, 2026, 5, 5, 23, 30))
    assert until == at(MADRID, 2026, 5, 6, 8, 0)
    assert until.tzinfo == UTC


def test_early_morning_waits_until_the_same_morning():
    assert quiet_until(person(**NIGHT), at(MADRID, 2026, 5, 6, 6, 15)) == at(MADRID, 2026, 5, 6, 8)


def test_daytime_quiet_hours_without_midnight():
    siesta = person(quiet_start=time(14, 0), quiet_end=time(16, 30))
    assert quiet_until(siesta, at(MADRID, 2026, 5, 5, 15, 0)) == at(MADRID, 2026, 5, 5, 16, 30)
    assert quiet_until(siesta, at(MADRID, 2026, 5, 5, 16, 30)) is None


def test_equal_or_missing_ends_mean_no_quiet_hours():
    now = at(MADRID, 2026, 5, 5, 23, 0)
    assert quiet_until(person(quiet_start=time(22), quiet_end=time(22)), now) is None
    assert quiet_until(person(quiet_start=time(22), quiet_end=None), now) is None


def test_quiet_hours_are_the_customers_local_time():
    # 23:30 in Madrid is 16:30 in Mexico City: a Mexican customer is not in quiet hours.
    now = at(MADRID, 2026, 5, 5, 23, 30)
    assert quiet_until(person(timezone="America/Mexico_City", **NIGHT), now) is None
    # 23:30 in Mexico City waits until 08:00 there, 16:00 in Madrid.
    late_mexico = at(MEXICO, 2026, 5, 5, 23, 30)
    until = quiet_until(person(timezone="America/Mexico_City", **NIGHT), late_mexico)
    assert until == at(MEXICO, 2026, 5, 6, 8, 0)
    assert until.astimezone(MADRID).hour == 16


def test_deferred_across_the_spring_daylight_saving_change():
    # Madrid moves clocks forward on 29 March 2026 (02:00 → 03:00): the night is an hour
    # shorter, and 08:00 local is 06:00 UTC instead of 07:00.
    until = quiet_until(person(**NIGHT), at(MADRID, 2026, 3, 28, 23, 0))
    assert until == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert until.astimezone(MADRID).hour == 8


def test_deferred_across_the_autumn_daylight_saving_change():
    # Back on 25 October 2026 (03:00 → 02:00): 08:00 local is 07:00 UTC.
    until = quiet_until(person(**NIGHT), at(MADRID, 2026, 10, 24, 23, 0))
    assert until == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert until.astimezone(MADRID).hour == 8


def test_new_york_changes_on_another_weekend():
    # The US moved clocks forward on 8 March 2026, three weeks before Europe.
    until = quiet_until(
        person(timezone="America/New_York", **NIGHT), at(NEW_YORK, 2026, 3, 7, 23, 0)
    )
    assert until == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_an_end_the_clock_skips_is_reached_at_the_jump():
    # Quiet until 02:30, on the night 02:00 jumps to 03:00: sending resumes at the jump.
    early = person(quiet_start=time(1, 0), quiet_end=time(2, 30))
    until = quiet_until(early, at(MADRID, 2026, 3, 29, 1, 30))
    assert until == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert until.astimezone(MADRID).strftime("%H:%M") == "03:00"


def test_an_end_the_clock_shows_twice_counts_the_first_time():
    # Quiet until 02:30 on the night 03:00 falls back to 02:00: the first 02:30 (CEST).
    early = person(quiet_start=time(1, 0), quiet_end=time(2, 30))
    until = quiet_until(early, at(MADRID, 2026, 10, 25, 1, 30))
    assert until == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_quiet_hours_defer_every_kind_and_keep_the_channel():
    decision = decide(
        recipient=person(preferred_channels=("sms",), **NIGHT),
        transactional=True,
        marketing=False,
        now=at(MADRID, 2026, 5, 5, 23, 0),
        available=ALL,
    )
    assert (decision.action, decision.reason, decision.channel) == (DEFER, QUIET_HOURS, "sms")
    assert decision.until == at(MADRID, 2026, 5, 6, 8, 0)


# --- Frequency cap -------------------------------------------------------------------------------


def test_the_cap_stops_non_transactional_messages_only():
    noon = at(UTC, 2026, 5, 5, 12)
    capped = decide(
        recipient=person(),
        transactional=False,
        marketing=False,
        now=noon,
        available=ALL,
        recent_capped=1,
        cap=1,
    )
    order_message = decide(
        recipient=person(),
        transactional=True,
        marketing=False,
        now=noon,
        available=ALL,
        recent_capped=5,
        cap=1,
    )
    under = decide(
        recipient=person(),
        transactional=False,
        marketing=False,
        now=noon,
        available=ALL,
        recent_capped=1,
        cap=2,
    )
    assert (capped.action, capped.reason) == (SUPPRESS, FREQUENCY_CAP)
    assert order_message.action == SEND
    assert under.action == SEND


def test_rules_apply_in_order_consent_before_quiet_hours():
    decision = decide(
        recipient=person(**NIGHT),
        transactional=False,
        marketing=True,
        now=at(MADRID, 2026, 5, 5, 23, 0),
        available=ALL,
    )
    assert decision.reason == NO_CONSENT
