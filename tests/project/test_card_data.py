"""Card data never reaches our server: no form, serializer or model of ours has a field for a
card number, expiry or security code, and anything shaped like a card number is refused where
a payment method id is expected. Stripe.js sends the card to Stripe; we get a pm_… id."""

import importlib
import inspect
import pkgutil
import re

import pytest
from django import forms
from django.apps import apps
from rest_framework import serializers

from tests.support.project import PACKAGES

OUR_APPS = PACKAGES[1:]  # not the wiring
CARD_FIELD = re.compile(
    r"(card_?(number|no|num)|^pan$|cvc|cvv|cvn|security_?code|exp(iry|iration)?_?(month|year|date))",
    re.IGNORECASE,
)


def interface_modules():
    """Every forms, api and admin module of ours, and the modules of such packages."""
    for app in OUR_APPS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            parts = info.name.split(".")
            if parts[1] in ("forms", "api", "admin") and "migrations" not in parts:
                yield importlib.import_module(info.name)


def our_classes(base):
    found = []
    for module in interface_modules():
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, base) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def test_the_classes_are_found():
    """The checks below look at something: our forms and serializers are all there."""
    form_names = {cls.__name__ for cls in our_classes(forms.BaseForm)}
    serializer_names = {cls.__name__ for cls in our_classes(serializers.BaseSerializer)}
    assert {"CheckoutForm", "PayForm", "CollectForm", "RefundForm"} <= form_names
    assert {"CheckoutSerializer", "OrderSerializer"} <= serializer_names


@pytest.mark.parametrize("form", our_classes(forms.BaseForm), ids=lambda c: c.__name__)
def test_no_form_has_a_card_field(form):
    names = list(getattr(form, "base_fields", {}))
    assert [n for n in names if CARD_FIELD.search(n)] == []


@pytest.mark.parametrize(
    "serializer", our_classes(serializers.BaseSerializer), ids=lambda c: c.__name__
)
def test_no_serializer_has_a_card_field(serializer):
    names = list(serializer._declared_fields)
    meta = getattr(serializer, "Meta", None)
    fields = getattr(meta, "fields", None)
    if isinstance(fields, list | tuple):
        names += list(fields)
    assert [n for n in names if CARD_FIELD.search(n)] == []


def test_no_model_stores_card_data():
    names = [
        f"{model.__name__}.{field.name}"
        for app in OUR_APPS
        if apps.is_installed(app)
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if CARD_FIELD.search(field.name)
    ]
    assert names == []


@pytest.mark.parametrize(
    "value",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "tok_visa",
        "pm_",
        "pm_bad id",
        "card",
        "pm_card_visa\n",
        "\npm_card_visa",
    ],
)
def test_a_card_number_is_not_a_payment_method(value):
    from orders.forms import PayForm
    from orders.services import PAYMENT_METHOD_ID

    assert not PAYMENT_METHOD_ID.match(value)
    assert not PayForm({"payment_method": value}).is_valid()
