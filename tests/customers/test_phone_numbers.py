"""Phone numbers are phone numbers: validated with ``phonenumbers`` wherever one is typed
(checkout, sign-up, account preferences, API register and ``me``, the tablet's new customer)
and stored in E.164. A number without a country code is read as a number of the store's
country: the store chosen at checkout, the shopper's store elsewhere on the web, the clerk's
store at the tablet, Spain (``PHONE_REGION``) when nothing says otherwise.
"""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from customers.models import Customer
from customers.phones import country_for_timezone, normalize_phone
from orders.models import Order
from tests.support.api_client import Api
from tests.support.factories import StockLevelFactory, StoreFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout_data,
    checkout_page,
    tags,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

SPAIN_HINT = "Enter a valid phone number, for example +34 612 34 56 78."
MEXICO_HINT = "Enter a valid phone number, for example +52 222 123 4567."
NOT_PHONES = ["abc", "😀", "600 123 456 😀", "12345", "+34 600", "6001234567890123"]


def field_error(response, name) -> str:
    """The error shown beside the field ``name`` (in the same paragraph, after the input)."""
    match = re.search(
        rf'name="{name}"[^>]*>(?:(?!</p>).)*?<span class="field-error">(.*?)</span>',
        text(response),
        re.S,
    )
    assert match, f"no error beside {name!r}"
    return match[1]


@pytest.fixture
def mexico(shop):
    store = StoreFactory(
        code="CMX-01", name="Ciudad de México Polanco", timezone="America/Mexico_City"
    )
    StockLevelFactory(store=store, variant=shop.lamp, on_hand=5)
    return store


# --- The one validator -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("612 345 678", "ES", "+34612345678"),
        ("+34 612-34-56-78", "ES", "+34612345678"),
        ("0034 612 345 678", "ES", "+34612345678"),
        ("(55) 1234 5678", "MX", "+525512345678"),
        ("+34 612 345 678", "MX", "+34612345678"),  # a country code wins over the region
        ("", "ES", ""),
        ("   ", "ES", ""),
    ],
)
def test_numbers_are_stored_in_e164(typed, region, stored):
    assert normalize_phone(typed, region=region) == stored


@pytest.mark.parametrize("typed", NOT_PHONES)
def test_what_is_not_a_phone_number_is_refused_with_an_example(typed):
    with pytest.raises(ValidationError) as refused:
        normalize_phone(typed, region="ES")

    assert refused.value.messages == [SPAIN_HINT]
    assert refused.value.code == "invalid_phone"


def test_a_store_country_comes_from_its_time_zone(shop, mexico):
    assert (shop.store.country, mexico.country) == ("ES", "MX")
    assert country_for_timezone("Atlantic/Canary") == "ES"
    assert country_for_timezone("UTC") == ""


# --- Checkout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", NOT_PHONES)
def test_checkout_refuses_what_is_not_a_phone_number(shop, typed):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    _, key, slots = checkout_page(browser, shop.store)
    before = written()

    response = browser.post("/checkout/", checkout_data(shop.store, key, slots[1], phone=typed))

    assert response.status_code == 400
    assert field_error(response, "phone") == SPAIN_HINT
    assert f'value="{typed}"' in text(response)
    assert written() == before


def test_checkout_reads_a_local_number_as_the_chosen_stores(shop, mexico):
    madrid, cdmx = Client(), Client()
    add_to_cart(madrid, shop.lamp, 1)
    add_to_cart(cdmx, shop.lamp, 1)
    _, key, slots = checkout_page(madrid, shop.store)
    _, mx_key, mx_slots = checkout_page(cdmx, mexico)

    madrid.post(
        "/checkout/",
        checkout_data(shop.store, key, slots[1], email="es@example.test", phone="612 345 678"),
    )
    cdmx.post(
        "/checkout/",
        checkout_data(mexico, mx_key, mx_slots[1], email="mx@example.test", phone="55 1234 5678"),
    )

    assert Order.objects.get(store=shop.store).contact_phone == "+34612345678"
    assert Customer.objects.get(email="es@example.test").phone == "+34612345678"
    assert Order.objects.get(store=mexico).contact_phone == "+525512345678"
    assert Customer.objects.get(email="mx@example.test").phone == "+525512345678"


def test_a_spanish_local_number_at_the_mexico_store_is_refused_with_a_mexican_example(shop, mexico):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    _, key, slots = checkout_page(browser, mexico)

    response = browser.post("/checkout/", checkout_data(mexico, key, slots[1], phone="612345"))

    assert response.status_code == 400
    assert field_error(response, "phone") == MEXICO_HINT


def test_the_checkout_phone_field_is_a_tel_input(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    response, _, _ = checkout_page(browser, shop.store)

    (phone,) = [t.attrs for t in tags(response.content) if t.attrs.get("name") == "phone"]
    assert (phone["type"], phone["autocomplete"]) == ("tel", "tel")


# --- Sign-up and account preferences -----------------------------------------------------------


def _sign_up(browser, phone):
    return browser.post(
        "/account/signup/",
        {
            "name": "Marta Ruiz",
            "email": "marta@example.test",
            "phone": phone,
            "password": "a-long-enough-passphrase",
        },
    )


def test_sign_up_refuses_what_is_not_a_phone_number(shop):
    before = written()

    response = _sign_up(Client(), "abc")

    assert response.status_code == 400
    assert field_error(response, "phone") == SPAIN_HINT
    assert written() == before


def test_sign_up_reads_a_local_number_as_the_shoppers_stores(shop, mexico):
    browser = Client()
    browser.post("/cart/store/", {"store": mexico.code})

    response = _sign_up(browser, "55 1234 5678")

    assert response.status_code == 302
    assert Customer.objects.get(email="marta@example.test").phone == "+525512345678"


def _preferences(phone):
    return {
        "name": "Ana García",
        "phone": phone,
        "channel_1": "email",
        "language": "en",
    }


def test_account_preferences_refuse_what_is_not_a_phone_number(shop, shopper):
    browser = Client()
    browser.force_login(shopper.user)
    before = written()

    response = browser.post("/account/preferences/", _preferences("😀"))

    assert response.status_code == 400
    assert field_error(response, "phone") == SPAIN_HINT
    assert written() == before


def test_account_preferences_store_the_number_in_e164(shop, shopper):
    browser = Client()
    browser.force_login(shopper.user)

    response = browser.post("/account/preferences/", _preferences("+52 55 1234 5678"))

    assert response.status_code == 302
    assert Customer.objects.get(pk=shopper.pk).phone == "+525512345678"


# --- The API -----------------------------------------------------------------------------------


def test_api_register_validates_and_normalises_the_phone(db):
    api = Api()
    before = written()

    refused = api.post(
        "/api/v1/auth/register/",
        {
            "email": "leo@example.test",
            "password": "a-long-passphrase-9",
            "name": "Leo",
            "phone": "abc",
        },
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "invalid",
        "detail": SPAIN_HINT,
        "errors": {"phone": [SPAIN_HINT]},
    }
    assert written() == before

    created = api.post(
        "/api/v1/auth/register/",
        {
            "email": "leo@example.test",
            "password": "a-long-passphrase-9",
            "name": "Leo",
            "phone": "612 345 678",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["customer"]["phone"] == "+34612345678"


def test_api_me_patch_validates_and_normalises_the_phone(shop, shopper, shopper_api):
    before = written()

    refused = shopper_api.patch("/api/v1/me/", {"phone": "😀"})

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"phone": [SPAIN_HINT]}
    assert written() == before
    # the customer's own time zone says which country a local number is from
    Customer.objects.filter(pk=shopper.pk).update(timezone="America/Mexico_City")
    changed = shopper_api.patch("/api/v1/me/", {"phone": "55 1234 5678"})
    assert changed.status_code == 200
    assert changed.json()["phone"] == "+525512345678"


# --- The store tablet --------------------------------------------------------------------------


def test_the_tablets_new_customer_form_validates_the_phone(shop, mexico, clerk):
    from stores.models import StaffMembership

    StaffMembership.objects.create(user=clerk, store=mexico)
    tablet = Client()
    tablet.force_login(clerk)
    before = written()

    refused = tablet.post(
        f"/store/{shop.store.code}/customers/new/",
        {"name": "Pablo", "email": "pablo@example.test", "phone": "abc"},
    )
    assert refused.status_code == 400
    assert field_error(refused, "phone") == SPAIN_HINT
    assert written() == before

    added = tablet.post(
        f"/store/{mexico.code}/customers/new/",
        {"name": "Pablo", "email": "pablo@example.test", "phone": "55 1234 5678"},
    )
    assert added.status_code == 302
    assert Customer.objects.get(email="pablo@example.test").phone == "+525512345678"
