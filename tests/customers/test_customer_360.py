"""Customer 360° on the web: preferences on the account page and the customer's timeline.

Preferences are saved through customers.services.update_customer (the API uses it too): a
change records one `profile_changed` touchpoint on channel web; a refusal is a 400 with the
reason and leaves the database as it was.
"""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, Touchpoint
from customers.services import record_touchpoint, update_customer
from customers.tasks import flush_touchpoints
from orders.services import mark_preparing
from shop.services import add_to_cart, cart_for_customer, record_product_view
from tests.core.test_security import _inline_problems
from tests.support.web_helpers import inputs_named, place_at, tags, text, written

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures


@pytest.fixture
def browser(shopper):
    client = Client()
    client.force_login(shopper.user)
    return client


def _preferences(**overrides):
    data = {
        "name": "Ana García",
        "phone": "+34 600 111 222",
        "channel_1": "whatsapp",
        "channel_2": "email",
        "channel_3": "",
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "08:30",
        "language": "en",
        "marketing_opt_in": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _stored(customer) -> tuple:
    customer = Customer.objects.get(pk=customer.pk)
    return (
        customer.name,
        customer.phone,
        customer.preferred_channels,
        customer.quiet_hours_start,
        customer.quiet_hours_end,
        customer.language,
        customer.marketing_opt_in,
    )


def _selected(html, name) -> str:
    """The value of the selected option of the select ``name`` ('' when none is)."""
    found, inside = "", False
    for tag in tags(html):
        if tag.name == "select":
            inside = tag.attrs.get("name") == name
        elif tag.name == "option" and inside and "selected" in tag.attrs:
            found = tag.attrs["value"]
    return found


# --- Preferences ---------------------------------------------------------------------------


def test_saving_preferences_updates_the_customer_and_records_one_web_touchpoint(shopper, browser):
    response = browser.post("/account/preferences/", _preferences())

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert _stored(shopper) == (
        "Ana García",
        "+34600111222",  # stored in E.164
        ["whatsapp", "email"],
        time(22, 0),
        time(8, 30),
        "en",
        True,
    )
    touchpoint = Touchpoint.objects.get(customer=shopper)
    assert (touchpoint.channel, touchpoint.kind) == ("web", "profile_changed")
    assert sorted(touchpoint.payload["fields"]) == [
        "language",
        "marketing_opt_in",
        "name",
        "phone",
        "preferred_channels",
        "quiet_hours_end",
        "quiet_hours_start",
    ]
    page = browser.get("/account/")
    html = text(page)
    assert "Your details are saved." in html
    assert _selected(page.content, "channel_1") == "whatsapp"
    assert _selected(page.content, "channel_2") == "email"
    assert _selected(page.content, "channel_3") == ""
    assert _selected(page.content, "language") == "en"
    assert inputs_named(page.content, "quiet_hours_start")[0]["value"] == "22:00"
    assert inputs_named(page.content, "quiet_hours_end")[0]["value"] == "08:30"
    assert "checked" in inputs_named(page.content, "marketing_opt_in")[0]


def test_saving_unchanged_preferences_records_nothing(shopper, browser):
    browser.post("/account/preferences/", _preferences())
    before = written()

    response = browser.post("/account/preferences/", _preferences())

    assert response.status_code == 302
    assert written() == before


def test_clearing_quiet_hours_and_channels_is_allowed(shopper, browser):
    browser.post("/account/preferences/", _preferences())

    response = browser.post(
        "/account/preferences/",
        _preferences(
            channel_1="",
            channel_2="",
            quiet_hours_start="",
            quiet_hours_end="",
            marketing_opt_in=None,
        ),
    )

    assert response.status_code == 302
    assert _stored(shopper) == ("Ana García", "+34600111222", [], None, None, "en", False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"channel_1": "email", "channel_2": "sms", "channel_3": "email"},
            "List each contact channel once: email, sms or whatsapp.",
        ),
        (
            {"quiet_hours_start": "22:00", "quiet_hours_end": ""},
            "Give both the start and the end of your quiet hours.",
        ),
        (
            {"quiet_hours_start": "", "quiet_hours_end": "07:00"},
            "Give both the start and the end of your quiet hours.",
        ),
        (
            {"channel_2": "fax"},
            "Select a valid choice. fax is not one of the available choices.",
        ),
        ({"quiet_hours_start": "25:99"}, "Enter a valid time."),
        ({"language": "fr"}, "Select a valid choice. fr is not one of the available choices."),
        ({"name": ""}, "This field is required."),
        ({"phone": "1" * 40}, "Ensure this value has at most 32 characters (it has 40)."),
    ],
    ids=[
        "channel-twice",
        "only-start",
        "only-end",
        "unknown-channel",
        "bad-time",
        "bad-language",
        "no-name",
        "long-phone",
    ],
)
def test_bad_preferences_are_refused_with_a_message_and_nothing_written(
    shopper, browser, overrides, message
):
    before = written()
    stored = _stored(shopper)

    response = browser.post("/account/preferences/", _preferences(**overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert written() == before
    assert _stored(shopper) == stored
    # What was typed stays in the form.
    typed = overrides.get("name", "Ana García")
    assert inputs_named(response.content, "name")[0].get("value", "") == typed


def test_preferences_need_a_login_and_a_post(shopper):
    before = written()

    anonymous = Client().post("/account/preferences/", _preferences())
    browser = Client()
    browser.force_login(shopper.user)
    as_get = browser.get("/account/preferences/")

    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/account/login/?next=/account/preferences/"
    assert as_get.status_code == 405
    assert written() == before


def test_the_account_form_starts_from_what_is_on_file(shopper, browser):
    update_customer(
        customer=shopper,
        channel="mobile",
        preferred_channels=["sms", "whatsapp", "email"],
        quiet_hours_start=time(21, 0),
        quiet_hours_end=time(9, 0),
        language="es",
    )

    page = browser.get("/account/")

    assert page.status_code == 200
    assert _inline_problems("account", page.content) == []
    assert [_selected(page.content, f"channel_{i}") for i in (1, 2, 3)] == [
        "sms",
        "whatsapp",
        "email",
    ]
    assert inputs_named(page.content, "name")[0]["value"] == shopper.name
    assert inputs_named(page.content, "quiet_hours_start")[0]["value"] == "21:00"
    assert _selected(page.content, "language") == "es"
    assert "checked" not in inputs_named(page.content, "marketing_opt_in")[0]


# --- The timeline --------------------------------------------------------------------------


def _timeline_items(html) -> list[str]:
    """Each timeline entry's text without its time, in page order."""
    items = re.findall(r'<li class="timeline-item">(.*?)</li>', html, re.S)
    return [" ".join(re.sub(r"<time[^>]*>.*?</time>|<[^>]+>", " ", item).split()) for item in items]


def test_the_timeline_shows_every_channel_newest_first_in_words(shop, shopper, browser):
    cart = cart_for_customer(customer=shopper)
    add_to_cart(cart=cart, sku=shop.lamp.sku, quantity=2, channel="mobile")
    record_product_view(customer=shopper, product=shop.mug.product, channel="web")
    flush_touchpoints()  # beat's job: product views are queued, then written
    order = place_at(shop.store, (shop.mug, 1), customer=shopper)
    mark_preparing(order=order, user=None)
    record_touchpoint(customer=shopper, channel="store", kind="survey_answered")
    # Give them distinct, known times: the order they were recorded in.
    base = timezone.now() - timedelta(hours=1)
    for i, touchpoint in enumerate(Touchpoint.objects.filter(customer=shopper).order_by("pk")):
        Touchpoint.objects.filter(pk=touchpoint.pk).update(created_at=base + timedelta(minutes=i))

    html = text(browser.get("/account/"))

    assert _timeline_items(html) == [
        "Store survey_answered",
        f"Store Order being prepared · {order.number}",
        f"Web Placed an order · {order.number}",
        "Web Looked at a product · stoneware-mug",
        "Mobile app Changed the cart · LAMP-01 × 2",
    ]


def test_timeline_times_are_the_stores_local_time(shop, shopper, browser):
    touchpoint = record_touchpoint(customer=shopper, channel="web", kind="logged_in")
    Touchpoint.objects.filter(pk=touchpoint.pk).update(
        created_at=datetime(2025, 7, 1, 20, 30, tzinfo=UTC)
    )

    html = text(browser.get("/account/"))

    assert '<time datetime="2025-07-01T22:30:00+02:00">1 Jul 2025, 22:30</time>' in html


def test_the_account_page_runs_the_same_queries_for_3_or_30_touchpoints(shop, shopper, browser):
    def grow(n):
        for i in range(n):
            record_touchpoint(
                customer=shopper, channel=("web", "mobile", "store")[i % 3], kind="cart_changed"
            )

    def measure():
        browser.get("/account/")
        with CaptureQueriesContext(connection) as queries:
            html = text(browser.get("/account/"))
        return len(queries.captured_queries), html

    grow(3)
    small, html_small = measure()
    grow(27)
    large, html_large = measure()

    assert html_small.count('<li class="timeline-item">') == 3
    assert html_large.count('<li class="timeline-item">') == 30
    assert small == large
