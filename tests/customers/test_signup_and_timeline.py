"""Signing up says "check your email"; the timeline has one entry per event, on its real
channel (issue 11, item 10).

An online order is placed once ("Placed an order"), its card authorised ("Card payment
authorised") and then confirmed ("Order confirmed"): never "Placed an order" twice. A message
is shown on the channel it went out on (email, SMS, WhatsApp), not the channel of whatever
caused it — on the account page, in /api/v1/me/timeline/ and on the tablet.
"""

import importlib
import re

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client

from customers.models import Notification, Touchpoint
from customers.services import deliver_notification, record_touchpoint
from orders.services import pay_at_counter_instead
from tests.support.api_client import Api
from tests.support.web_helpers import add_to_cart, place_at, text

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]

CHECK = "/account/check-your-email/"


@pytest.fixture(autouse=True)
def _messages(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.ConsoleBackend"


def _signup(browser, **extra):
    return browser.post(
        "/account/signup/",
        {
            "name": "Marta Ruiz",
            "email": "marta@example.test",
            "password": "a-long-enough-passphrase",
            **extra,
        },
    )


def _timeline_items(html) -> list[str]:
    items = re.findall(r'<li class="timeline-item">(.*?)</li>', html, re.S)
    return [" ".join(re.sub(r"<time[^>]*>.*?</time>|<[^>]+>", " ", item).split()) for item in items]


# --- Signing up ----------------------------------------------------------------------------------


def test_signing_up_says_where_the_confirmation_link_went(db, django_capture_on_commit_callbacks):
    browser = Client()

    with django_capture_on_commit_callbacks(execute=True):
        signed_up = _signup(browser)
    page = browser.get(signed_up["Location"])

    assert (signed_up.status_code, signed_up["Location"]) == (302, CHECK)
    html = text(page)
    assert page.status_code == 200
    assert "<h1>Check your email</h1>" in html
    assert (
        "We sent a confirmation link to <strong>marta@example.test</strong>. Check your email "
        "and open the link to confirm your address." in html
    )
    assert "Nothing arrived? Look in your spam folder, or send the link again." in html
    assert 'action="/account/verify/"' in html
    assert '<input type="hidden" name="next" value="/account/check-your-email/">' in html
    assert '<a class="button primary" href="/">Continue shopping</a>' in html
    assert len(mail.outbox) == 1


def test_signing_up_from_checkout_continues_to_the_checkout(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)

    signed_up = _signup(browser, next="/checkout/")
    page = text(browser.get(signed_up["Location"]))

    assert signed_up["Location"] == f"{CHECK}?next=%2Fcheckout%2F"
    assert '<a class="button primary" href="/checkout/">Continue</a>' in page


def test_the_check_page_never_continues_to_another_site(db):
    browser = Client()
    _signup(browser)

    page = text(browser.get(CHECK, {"next": "https://evil.example/"}))

    assert '<a class="button primary" href="/">Continue shopping</a>' in page
    assert 'href="https://evil.example/"' not in page
    assert '<input type="hidden" name="next" value="/account/check-your-email/">' in page


def test_sending_the_link_again_comes_back_to_the_check_page(
    db, django_capture_on_commit_callbacks
):
    browser = Client()
    _signup(browser)

    with django_capture_on_commit_callbacks(execute=True):
        again = browser.post("/account/verify/", {"next": CHECK})

    assert (again.status_code, again["Location"]) == (302, CHECK)
    assert "We sent a new confirmation link to marta@example.test." in text(browser.get(CHECK))
    assert len(mail.outbox) == 1


def test_the_check_page_needs_a_login_and_leaves_once_confirmed(shopper):
    assert Client().get(CHECK)["Location"].startswith("/account/login/")
    shopper.email_verified_at = shopper.created_at
    shopper.save(update_fields=["email_verified_at"])
    browser = Client()
    browser.force_login(shopper.user)

    assert browser.get(CHECK)["Location"] == "/account/"


def test_the_check_page_is_in_spanish_too(db):
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    _signup(browser)

    html = text(browser.get(CHECK))

    assert "<h1>Revisa tu correo</h1>" in html
    assert (
        "Te hemos enviado un enlace de confirmación a <strong>marta@example.test</strong>" in html
    )


# --- One entry per event ---------------------------------------------------------------------


def test_an_online_order_is_placed_once_on_the_timeline(online, shopper):
    kinds = list(
        Touchpoint.objects.filter(customer=shopper, payload__order=online.number)
        .order_by("pk")
        .values_list("channel", "kind")
    )
    browser = Client()
    browser.force_login(shopper.user)
    shopper.email_verified_at = shopper.created_at
    shopper.save(update_fields=["email_verified_at"])

    html = text(browser.get("/account/"))
    api = Api(shopper.user).get("/api/v1/me/timeline/").json()["results"]

    assert kinds == [
        ("mobile", "order_placed"),
        ("mobile", "payment_authorised"),
        ("mobile", "order_confirmed"),
    ]
    entries = [item for item in _timeline_items(html) if online.number in item]
    assert entries == [
        f"Mobile app Order confirmed · {online.number}",
        f"Mobile app Card payment authorised · {online.number}",
        f"Mobile app Placed an order · {online.number}",
    ]
    assert [t["kind"] for t in api if t["payload"].get("order") == online.number] == [
        "order_confirmed",
        "payment_authorised",
        "order_placed",
    ]


def test_switching_to_pay_at_the_counter_confirms_the_order_once(place, variant, stock):
    from orders.models import Order, OrderStatus

    order = place((variant, 1))
    Order.objects.filter(pk=order.pk).update(
        payment_method="online", status=OrderStatus.PENDING_PAYMENT
    )
    order.refresh_from_db()

    pay_at_counter_instead(order=order, channel="web")

    assert list(
        Touchpoint.objects.filter(payload__order=order.number)
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["order_placed", "order_confirmed"]


# --- The channel a message went out on --------------------------------------------------------


def _deliver(order, kind="order_confirmed"):
    note = Notification.objects.get(order_number=order.number, kind=kind)
    assert deliver_notification(notification_id=note.pk) == "sent"
    return note


@pytest.mark.parametrize(
    ("channels", "expected", "label"),
    [([], "email", "Email"), (["sms"], "sms", "SMS"), (["whatsapp"], "whatsapp", "WhatsApp")],
)
def test_a_message_is_on_the_timeline_on_the_channel_it_went_out_on(
    shop, shopper, clerk, channels, expected, label
):
    shopper.preferred_channels = channels
    shopper.email_verified_at = shopper.created_at
    shopper.save(update_fields=["preferred_channels", "email_verified_at"])
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)  # placed on the web

    _deliver(order)

    sent = Touchpoint.objects.get(customer=shopper, kind="notification_sent")
    assert sent.channel == expected
    browser = Client()
    browser.force_login(shopper.user)
    account = _timeline_items(text(browser.get("/account/")))
    assert account[0] == f"{label} Message sent · {order.number} (Order confirmed)"
    api = Api(shopper.user).get("/api/v1/me/timeline/").json()["results"]
    assert (api[0]["kind"], api[0]["channel"]) == ("notification_sent", expected)
    tablet = Client()
    tablet.force_login(clerk)
    html = text(tablet.get(f"/store/{shop.store.code}/customers/{shopper.reference}/"))
    assert _timeline_items(html)[0] == f"{label} Message sent · {order.number} (Order confirmed)"


def test_a_message_held_for_quiet_hours_is_on_its_channel_too(shop, shopper):
    from datetime import time

    shopper.quiet_hours_start, shopper.quiet_hours_end = time(0, 0), time(23, 59)
    shopper.preferred_channels = ["sms"]
    shopper.save()
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    note = Notification.objects.get(order_number=order.number, kind="order_confirmed")

    assert deliver_notification(notification_id=note.pk) == "deferred"

    deferred = Touchpoint.objects.get(customer=shopper, kind="notification_deferred")
    assert deferred.channel == "sms"


def test_the_timeline_tags_have_a_style_for_every_channel(settings):
    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()

    for channel in ("web", "mobile", "store", "email", "sms", "whatsapp"):
        assert f".tag.channel-{channel} " in css, channel


def test_an_unknown_channel_is_refused(shopper):
    with pytest.raises(ValueError):
        record_touchpoint(customer=shopper, channel="fax", kind="notification_sent")


def test_existing_message_entries_move_to_the_channel_they_went_out_on(shopper):
    sent = record_touchpoint(
        customer=shopper,
        channel="web",
        kind="notification_sent",
        payload={"message": "order_ready", "order": "CC-1", "channel": "sms"},
    )
    unsent = record_touchpoint(
        customer=shopper,
        channel="store",
        kind="notification_suppressed",
        payload={"message": "order_ready", "order": "CC-1", "channel": ""},
    )
    placed = record_touchpoint(
        customer=shopper, channel="web", kind="order_placed", payload={"order": "CC-1"}
    )
    migration = importlib.import_module("customers.migrations.0005_touchpoint_message_channel")

    migration.message_channels(apps, None)

    assert [Touchpoint.objects.get(pk=t.pk).channel for t in (sent, unsent, placed)] == [
        "sms",
        "store",
        "web",
    ]
