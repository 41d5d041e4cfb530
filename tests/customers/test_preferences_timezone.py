"""The customer's time zone (used for quiet hours and message times) is one of their
preferences: a select on the account page and ``preferences.timezone`` in the API. Blank
means the store's zone; an unknown zone is refused with nothing written."""

import pytest
from django.test import Client

from customers.models import Customer, Touchpoint
from tests.support.web_helpers import inputs_named, tags, written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

ME = "/api/v1/me/"


@pytest.fixture
def browser(shopper):
    client = Client()
    client.force_login(shopper.user)
    return client


def preferences(**overrides):
    data = {
        "name": "Ana García",
        "phone": "",
        "channel_1": "email",
        "channel_2": "",
        "channel_3": "",
        "quiet_hours_start": "",
        "quiet_hours_end": "",
        "language": "en",
        "timezone": "",
    }
    data.update(overrides)
    return data


def stored_zone(customer) -> str:
    return Customer.objects.get(pk=customer.pk).timezone


def options(html, name) -> list[tuple[str, bool]]:
    """(value, selected) of each option of the select ``name``."""
    found, inside = [], False
    for tag in tags(html):
        if tag.name == "select":
            inside = tag.attrs.get("name") == name
        elif tag.name == "option" and inside:
            found.append((tag.attrs.get("value", ""), "selected" in tag.attrs))
    return found


# --- Web ---------------------------------------------------------------------------------------


def test_the_account_page_offers_the_stores_zones_utc_and_all_others(browser, store):
    html = browser.get("/account/").content.decode()

    values = [value for value, _selected in options(html, "timezone")]
    assert values[:3] == ["", *sorted({store.timezone, "UTC"})]
    assert "America/New_York" in values
    assert "Asia/Tokyo" in values
    assert [value for value, selected in options(html, "timezone") if selected] == [""]
    assert "The store&#x27;s time zone" in html
    assert inputs_named(html, "timezone")[0]["id"] == "id_timezone"


def test_choosing_a_zone_saves_it_and_records_the_change(browser, shopper):
    response = browser.post("/account/preferences/", preferences(timezone="America/New_York"))

    assert response.status_code == 302
    assert stored_zone(shopper) == "America/New_York"
    changed = Touchpoint.objects.filter(customer=shopper, kind="profile_changed").latest("pk")
    assert "timezone" in changed.payload["fields"]
    assert changed.channel == "web"
    page = browser.get("/account/").content.decode()
    assert [v for v, selected in options(page, "timezone") if selected] == ["America/New_York"]


def test_blank_goes_back_to_the_stores_zone(browser, shopper):
    shopper.timezone = "Asia/Tokyo"
    shopper.save(update_fields=["timezone"])

    response = browser.post("/account/preferences/", preferences(timezone=""))

    assert response.status_code == 302
    assert stored_zone(shopper) == ""


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "europe/madrid"])
def test_an_unknown_zone_is_refused_with_nothing_written(browser, shopper, zone):
    before = written()

    response = browser.post("/account/preferences/", preferences(timezone=zone))

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert written() == before
    assert stored_zone(shopper) == ""


# --- API ---------------------------------------------------------------------------------------


def test_the_api_shows_the_zone(shopper, shopper_api):
    shopper.timezone = "Europe/London"
    shopper.save(update_fields=["timezone"])

    response = shopper_api.get(ME)

    assert response.status_code == 200
    assert response.json()["preferences"]["timezone"] == "Europe/London"


def test_patching_the_zone_saves_it(shopper, shopper_api):
    response = shopper_api.patch(ME, {"preferences": {"timezone": "Atlantic/Canary"}})

    assert response.status_code == 200
    assert response.json()["preferences"]["timezone"] == "Atlantic/Canary"
    assert stored_zone(shopper) == "Atlantic/Canary"
    changed = Touchpoint.objects.get(customer=shopper, kind="profile_changed")
    assert (changed.channel, changed.payload) == ("mobile", {"fields": ["timezone"]})

    cleared = shopper_api.patch(ME, {"preferences": {"timezone": ""}})

    assert cleared.status_code == 200
    assert stored_zone(shopper) == ""


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", 7, None, "x" * 65])
def test_patching_an_unknown_zone_is_refused_with_nothing_written(shopper, shopper_api, zone):
    before = {**written(), "zones": list(Customer.objects.values_list("pk", "timezone"))}

    response = shopper_api.patch(ME, {"preferences": {"timezone": zone}})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "timezone" in body["errors"]["preferences"]
    assert {**written(), "zones": list(Customer.objects.values_list("pk", "timezone"))} == before
