"""One money format per language (Babel, the active language's locale), used by every page,
message and the admin; and the time zone named next to a store's times when they are not the
shop's own zone's times."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from core.display import money, zone_label, zoned

NBSP = "\xa0"
MADRID = ZoneInfo("Europe/Madrid")
MEXICO_CITY = ZoneInfo("America/Mexico_City")
CANARIES = ZoneInfo("Atlantic/Canary")


@pytest.mark.parametrize(
    ("language", "amount", "currency", "shown"),
    [
        ("es", Decimal("14.95"), "EUR", f"14,95{NBSP}€"),
        ("en", Decimal("14.95"), "EUR", "€14.95"),
        ("es", Decimal("1234.5"), "EUR", f"1.234,50{NBSP}€"),
        ("en", Decimal("1234.5"), "EUR", "€1,234.50"),
        ("es", Decimal("-16.50"), "EUR", f"-16,50{NBSP}€"),
        ("en", Decimal("-16.50"), "EUR", "-€16.50"),
        ("en", Decimal("0"), "EUR", "€0.00"),
        # The JSON context of a message keeps amounts as strings.
        ("es", "29.00", "EUR", f"29,00{NBSP}€"),
        ("en", "29.00", "MXN", "MX$29.00"),
        ("es", Decimal("29"), "MXN", f"29,00{NBSP}MXN"),
    ],
)
def test_money_in_the_active_language(language, amount, currency, shown):
    with translation.override(language):
        assert money(amount, currency) == shown


def test_money_of_nothing_is_nothing():
    assert money(None, "EUR") == ""
    assert money("", "EUR") == ""


def test_the_money_filter_needs_no_load():
    template = Template("{{ total|money:currency }} · {{ 4|money:'EUR' }}")
    with translation.override("es"):
        html = template.render(Context({"total": Decimal("49.85"), "currency": "EUR"}))
    assert html == f"49,85{NBSP}€ · 4,00{NBSP}€"


AT_NOON_UTC = datetime(2025, 1, 15, 12, 0, tzinfo=ZoneInfo("UTC"))
IN_SUMMER = datetime(2025, 7, 15, 12, 0, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("zone", "when", "label"),
    [
        (MADRID, AT_NOON_UTC, ""),  # the shop's own zone: no label
        (ZoneInfo("Europe/Paris"), AT_NOON_UTC, ""),  # the same time as in Madrid
        (MEXICO_CITY, AT_NOON_UTC, f"{NBSP}CST"),
        (MEXICO_CITY, IN_SUMMER, f"{NBSP}CST"),  # Mexico City keeps standard time all year
        (CANARIES, AT_NOON_UTC, f"{NBSP}WET"),
        (CANARIES, IN_SUMMER, f"{NBSP}WEST"),
    ],
)
def test_a_zone_label_where_the_time_differs_from_the_shops(settings, zone, when, label):
    settings.SHOP_TIME_ZONE = "Europe/Madrid"
    with timezone.override(zone):
        assert zone_label(when) == label


def test_the_zone_label_follows_the_shops_zone(settings):
    settings.SHOP_TIME_ZONE = "America/Mexico_City"
    with timezone.override(MEXICO_CITY):
        assert zone_label(AT_NOON_UTC) == ""
    with timezone.override(MADRID):
        assert zone_label(AT_NOON_UTC) == f"{NBSP}CET"


def test_the_zone_label_filter_in_a_store_time_zone_block(settings):
    settings.SHOP_TIME_ZONE = "Europe/Madrid"
    template = Template(
        "{% load tz %}{% timezone zone %}"
        "{{ when|time:'H:i' }}{{ when|zone_label }}"
        "{% endtimezone %}"
    )
    assert template.render(Context({"when": AT_NOON_UTC, "zone": "America/Mexico_City"})) == (
        f"06:00{NBSP}CST"
    )
    assert template.render(Context({"when": AT_NOON_UTC, "zone": "Europe/Madrid"})) == "13:00"
    assert zone_label(None) == ""


def test_zoned_formats_and_labels_a_time_in_the_current_zone(settings):
    settings.SHOP_TIME_ZONE = "Europe/Madrid"
    with timezone.override(MEXICO_CITY):
        assert zoned(AT_NOON_UTC, "D j M, H:i") == f"Wed 15 Jan, 06:00{NBSP}CST"
    with timezone.override(MADRID):
        assert zoned(AT_NOON_UTC, "D j M, H:i") == "Wed 15 Jan, 13:00"
    assert zoned(None, "H:i") == ""


def test_the_zoned_filter_in_a_translated_sentence(settings):
    settings.SHOP_TIME_ZONE = "Europe/Madrid"
    template = Template(
        "{% load i18n tz %}{% timezone zone %}"
        "{% blocktranslate with when=when|zoned:'H:i' %}Ready from {{ when }}"
        "{% endblocktranslate %}"
        "{% endtimezone %}"
    )
    assert template.render(Context({"when": AT_NOON_UTC, "zone": "America/Mexico_City"})) == (
        f"Ready from 06:00{NBSP}CST"
    )
