"""The dashboard's date ranges: presets as of a local day, and the period compared with."""

from datetime import date

import pytest

from reports.periods import PRESETS, change, preset_range, previous_period


@pytest.mark.parametrize(
    ("name", "today", "expected"),
    [
        ("today", date(2026, 3, 1), (date(2026, 3, 1), date(2026, 3, 1))),
        ("yesterday", date(2026, 3, 1), (date(2026, 2, 28), date(2026, 2, 28))),
        ("yesterday", date(2024, 3, 1), (date(2024, 2, 29), date(2024, 2, 29))),
        ("last_7_days", date(2026, 1, 3), (date(2025, 12, 28), date(2026, 1, 3))),
        ("last_30_days", date(2026, 3, 1), (date(2026, 1, 31), date(2026, 3, 1))),
        ("this_month", date(2026, 3, 1), (date(2026, 3, 1), date(2026, 3, 1))),
        ("this_month", date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
    ],
)
def test_each_preset_as_of_a_day(name, today, expected):
    assert preset_range(name, today) == expected


def test_every_preset_has_a_range_and_a_label():
    for name in PRESETS:
        start, end = preset_range(name, date(2026, 5, 15))
        assert start <= end <= date(2026, 5, 15)
        assert str(PRESETS[name])
    with pytest.raises(KeyError):
        preset_range("last_year", date(2026, 5, 15))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 3, 10), date(2026, 3, 10), (date(2026, 3, 9), date(2026, 3, 9))),
        (date(2026, 3, 4), date(2026, 3, 10), (date(2026, 2, 25), date(2026, 3, 3))),
        # A month to date: the same number of days before it.
        (date(2026, 3, 1), date(2026, 3, 10), (date(2026, 2, 19), date(2026, 2, 28))),
        (date(2026, 1, 1), date(2026, 12, 31), (date(2025, 1, 1), date(2025, 12, 31))),
    ],
)
def test_the_previous_period_has_the_same_length_and_ends_the_day_before(start, end, expected):
    before = previous_period(start, end)

    assert before == expected
    assert (before[1] - before[0]) == (end - start)


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (125, 100, 0.25),
        (50, 100, -0.5),
        (0, 40, -1.0),
        (10, 0, None),
        (10, None, None),
        (None, 5, None),
        (-30, -20, -0.5),
    ],
)
def test_change_from_the_previous_period(current, previous, expected):
    assert change(current, previous) == expected
