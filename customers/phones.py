"""Phone numbers as people type them, stored in E.164 ("+34612345678").

One validator, ``normalize_phone``, behind every field where a phone number is entered: the
form field ``PhoneField`` (checkout, sign-up, account preferences, the tablet's new customer)
and the API's ``customers.api.PhoneNumberField`` (register and ``me``). A number
without a country code is read as a number of ``region`` (an ISO 3166 country code: the
store's country, see ``country_for_timezone``), else of ``settings.PHONE_REGION``.
"""

import re
from functools import cache

import phonenumbers
from babel.core import get_global
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Digits, spaces and the punctuation people put in phone numbers; anything else (letters,
# emoji) is not a phone number, whatever phonenumbers would make of the digits around it.
_TYPED = re.compile(r"[\d\s()+.\-/]+")


def default_region() -> str:
    return getattr(settings, "PHONE_REGION", "ES")


@cache
def country_for_timezone(name: str) -> str:
    """The country of an IANA time zone ("Europe/Madrid" → "ES"); "" when it has none."""
    return get_global("zone_territories").get(name or "", "")


def _example(region: str) -> str:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return "+34 612 34 56 78"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_phone(value: str, *, region: str | None = None) -> str:
    """``value`` in E.164, "" for a blank one; ``ValidationError`` (code ``invalid_phone``)
    when it is not a valid phone number."""
    value = (value or "").strip()
    if not value:
        return ""
    region = (region or default_region()).upper()
    invalid = ValidationError(
        _("Enter a valid phone number, for example %(example)s.") % {"example": _example(region)},
        code="invalid_phone",
    )
    if not _TYPED.fullmatch(value):
        raise invalid
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise invalid from None
    if not phonenumbers.is_valid_number(number):
        raise invalid
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneField(forms.CharField):
    """A phone number in a form, cleaned to E.164. Set ``region`` (or build the form with
    ``PhoneRegionMixin``'s ``phone_region=``) to read local numbers as that country's."""

    widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"})

    def __init__(self, *, region: str | None = None, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)
        self.region = region

    def clean(self, value):
        return normalize_phone(super().clean(value), region=self.region)


class PhoneRegionMixin:
    """A form whose phone fields read local numbers as ``phone_region``'s (a country code)."""

    def __init__(self, *args, phone_region: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, PhoneField) and phone_region:
                field.region = phone_region
