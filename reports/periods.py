"""The date ranges managers pick: presets relative to today (the store's local day), and the
previous period of the same length that every figure is compared with."""

from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

PRESETS = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "last_7_days": _("Last 7 days"),
    "last_30_days": _("Last 30 days"),
    "this_month": _("This month"),
}


def preset_range(name: str, today: date) -> tuple[date, date]:
    """The local days (first, last, both included) of the preset ``name``, as of ``today``;
    KeyError for a name that is not one of ``PRESETS``."""
    ranges = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "last_7_days": (today - timedelta(days=6), today),
        "last_30_days": (today - timedelta(days=29), today),
        "this_month": (today.replace(day=1), today),
    }
    return ranges[name]


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The days just before ``start``, as many as ``start`` to ``end`` (a month to date is
    compared with the same number of days before it, not with the whole previous month)."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def change(current, previous) -> float | None:
    """The relative change from ``previous`` to ``current`` (0.25 for +25 %); None when there
    is nothing to compare with."""
    if current is None or previous in (None, 0):
        return None
    return round((float(current) - float(previous)) / abs(float(previous)), 4)
