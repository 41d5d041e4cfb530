"""How money and times read, the same on every page, message and the admin.

``money(amount, currency)``: one format per language, Babel's for the active language's
locale ("14,95 €" in Spanish, "€14.95" in English). Amounts stay Decimals (or the decimal
strings a message's JSON context keeps) until shown; the API keeps its decimal strings.

``zone_label(when)``: a store's times are shown in the store's zone (a ``{% timezone %}`` block
or ``timezone.override``). Where that differs from the shop's own zone (``SHOP_TIME_ZONE``,
Madrid), the zone's abbreviation follows the time, e.g. "17:30 CST" at Ciudad de México.

``admin_time(when, zone)``: a time in the admin, in ``zone`` (a store's, or UTC) and always
labelled with it.

Both filters are template builtins (``TEMPLATES["OPTIONS"]["builtins"]``): no ``{% load %}``.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from django import template
from django.conf import settings
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


@register.filter
def zone_label(when: datetime | None) -> str:
    """``{{ slot.start|time:"H:i" }}{{ slot.start|zone_label }}``: nothing when the time is
    the same as in the shop's own zone, else a non-breaking space and the zone's abbreviation
    (the current zone, i.e. the store's inside its ``{% timezone %}`` block)."""
    if not isinstance(when, datetime) or timezone.is_naive(when):
        return ""
    shown = timezone.localtime(when)
    if shown.utcoffset() == when.astimezone(_shop_zone()).utcoffset():
        return ""
    return NBSP + (shown.tzname() or "")


def admin_time(when: datetime | None, zone: str = "UTC") -> str:
    """A time for the admin: in ``zone``, localised, and labelled with the zone."""
    if when is None:
        return "—"
    local = when.astimezone(ZoneInfo(zone) if zone != "UTC" else UTC)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')}{NBSP}{local.tzname()}"
