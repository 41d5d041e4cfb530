"""How money and times read, the same on every page, message and the admin.

``money(amount, currency)``: one format per language, Babel's for the active language's
locale ("14,95 €" in Spanish, "€14.95" in English). Amounts stay Decimals (or the decimal
strings a message's JSON context keeps) until shown; the API keeps its decimal strings.

``zoned(when, format)`` and ``zone_label(when)``: a store's times are shown in the store's zone
(a ``{% timezone %}`` block or ``timezone.override``). Where that reads differently from the
shop's own zone (``SHOP_TIME_ZONE``, Madrid), the zone's abbreviation follows the time, e.g.
"17:30 CST" at Ciudad de México; ``zoned`` formats like ``date`` and adds the label.

``admin_time(when, zone)``: a time in the admin, in ``zone`` (a store's, or UTC) and always
labelled with it; ``admin_time_column`` makes a ModelAdmin column of it.

The filters are template builtins (``TEMPLATES["OPTIONS"]["builtins"]``): no ``{% load %}``.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from django import template
from django.conf import settings
from django.contrib import admin
from django.utils import formats, timezone
from django.utils.translation import get_language, to_locale

NBSP = "\xa0"

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """``{{ order.total|money:order.currency }}``: the amount in the active language's format."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    locale = to_locale(get_language() or settings.LANGUAGE_CODE)
    return format_currency(value, currency, locale=locale)


def _shop_zone() -> ZoneInfo:
    return ZoneInfo(settings.SHOP_TIME_ZONE)


def label_of(local: datetime) -> str:
    """The label for ``local``, an aware time as shown (in its own zone): nothing when it reads
    the same as in the shop's zone, else a non-breaking space and the zone's abbreviation."""
    if local.utcoffset() == local.astimezone(_shop_zone()).utcoffset():
        return ""
    return NBSP + (local.tzname() or "")


@register.filter
def zone_label(when: datetime | None) -> str:
    """``{{ slot.start|time:"H:i" }}{{ slot.start|zone_label }}``: the label of ``when`` shown
    in the current zone (the store's, inside its ``{% timezone %}`` block)."""
    if not isinstance(when, datetime) or timezone.is_naive(when):
        return ""
    return label_of(timezone.localtime(when))


@register.filter
def zoned(when: datetime | None, format_string: str) -> str:
    """``{{ order.slot_start|zoned:"D j M, H:i" }}``: ``when`` in the current zone, formatted
    like Django's ``date`` filter, followed by its zone label."""
    if not isinstance(when, datetime):
        return ""
    local = timezone.localtime(when) if timezone.is_aware(when) else when
    return formats.date_format(local, format_string) + zone_label(when)


@register.filter
def admin_time(when: datetime | None, zone: str = "UTC") -> str:
    """A time for the admin: in ``zone``, localised, and labelled with the zone."""
    if when is None:
        return "—"
    local = when.astimezone(ZoneInfo(zone) if zone and zone != "UTC" else UTC)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')}{NBSP}{local.tzname()}"


def admin_time_column(model, field: str, zone_of: Callable[[Any], str] | None = None):
    """A ModelAdmin method showing ``field`` with ``admin_time``: in the zone ``zone_of(obj)``
    gives (a store's), else UTC. Sorts by the field; titled with its verbose name."""

    @admin.display(description=model._meta.get_field(field).verbose_name, ordering=field)
    def column(model_admin, obj) -> str:
        return admin_time(getattr(obj, field), zone_of(obj) if zone_of else "UTC")

    column.__name__ = f"{field}_shown"
    return column
