"""The order link in messages: a signed, expiring address that opens that one order (status,
QR, pickup code) in any browser without logging in, and nothing else.

The clock is frozen at ``NOW`` (time-machine, ticking): the links are signed with the time and
checked against ORDER_LINK_DAYS.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client

from customers.models import Notification
from customers.services import deliver_notification
from orders.models import Order
from orders.services import (
    cancel_order,
    mark_preparing,
    mark_ready,
    refund_order,
    send_reminders,
)
from tests.conftest import NOW
from tests.support.web_helpers import collect_in_full, hand_over, place_at, text, written

pytest_plugins = ["tests.support.web_fixtures"]

LINK = re.compile(r"http://127\.0\.0\.1:8000(/o/[^/\s\"<>]+/)")


@pytest.fixture
def moment():
    """The wall clock starts at ``NOW`` in every test here (see tests/conftest.py)."""
    return NOW


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.ConsoleBackend"
    settings.SITE_URL = "http://127.0.0.1:8000"


def ready_order(shop, clerk, *lines):
    order = place_at(shop.store, *(lines or [(shop.lamp, 1)]))
    mark_preparing(order=order, user=clerk)
    return mark_ready(order=order, user=clerk)


def link_in(kind, order) -> str:
    """The order link (path) in the context of ``order``'s message of ``kind``."""
    note = Notification.objects.get(order_number=order.number, kind=kind)
    match = LINK.fullmatch(note.context["order_url"])
    assert match, note.context["order_url"]
    return match.group(1)


def emailed_link(order, kind="order_ready") -> str:
    """Send ``order``'s message of ``kind`` by email and read the order link out of it (the
    text part and the HTML part carry the same one)."""
    note = Notification.objects.get(order_number=order.number, kind=kind)
    mail.outbox.clear()
    assert deliver_notification(notification_id=note.pk) == "sent"
    (email,) = mail.outbox
    in_text = LINK.findall(email.body)
    in_html = LINK.findall(email.alternatives[0][0])
    assert len(set(in_text)) == 1
    assert set(in_html) == set(in_text)
    return in_text[0]


# --- Opens the order in any browser -------------------------------------------------------------


def test_the_ready_email_link_opens_the_order_in_another_browser(shop, clerk):
    order = ready_order(shop, clerk)
    link = emailed_link(order)
    browser = Client()  # another device: no session, not logged in

    page = browser.get(link)

    assert page.status_code == 200
    html = text(page)
    assert f"Order {order.number}" in html
    assert order.pickup_code in html
    assert "Ready for pickup" in html
    assert f'src="{link}qr.svg"' in html
    assert page["Cache-Control"] == "private, no-store"
    qr = browser.get(f"{link}qr.svg")
    assert (qr.status_code, qr["Content-Type"]) == (200, "image/svg+xml")
    assert qr.content.startswith(b"<?xml") or b"<svg" in qr.content[:200]
    # The link opens that page and nothing else: the order's own address still needs the
    # session it was placed in, or a login.
    assert browser.get(f"/orders/{order.number}/").status_code == 404
    assert browser.get(f"/orders/{order.number}/qr.svg").status_code == 404


def test_every_order_message_carries_a_working_link(shop, clerk):
    order = ready_order(shop, clerk, (shop.lamp, 2))
    send_reminders(now=order.slot_start - timedelta(minutes=30))
    send_reminders(now=order.hold_until - timedelta(hours=1))
    hand_over(order, clerk, method="cash")
    order.refresh_from_db()
    refund_order(
        order=order,
        user=clerk,
        quantities={shop.lamp.sku: 1},
        reason="Scratched",
        method="cash",
    )
    cancelled = place_at(shop.store, (shop.mug, 1))
    cancel_order(order=cancelled, reason="Out of stock", actor="staff", channel="store", user=clerk)

    kinds = [
        "order_confirmed",
        "order_ready",
        "pickup_reminder",
        "hold_expiring",
        "receipt",
        "refund",
        "nps_survey",
    ]
    queued = Notification.objects.filter(order_number=order.number).values_list("kind", flat=True)
    assert sorted(queued) == sorted(kinds)
    links = {kind: link_in(kind, order) for kind in kinds}
    browser = Client()
    for kind, link in links.items():
        page = browser.get(link)
        assert page.status_code == 200, kind
        assert f"Order {order.number}" in text(page), kind
    cancelled_page = browser.get(link_in("order_cancelled", cancelled))
    assert cancelled_page.status_code == 200
    assert f"Order {cancelled.number}" in text(cancelled_page)
    assert "Cancelled" in text(cancelled_page)


def test_a_collected_order_opened_by_link_shows_no_pickup_code(shop, clerk):
    order = ready_order(shop, clerk)
    link = emailed_link(order)
    collect_in_full(order, clerk)

    page = Client().get(link)

    assert page.status_code == 200
    assert "Collected on" in text(page)
    assert order.pickup_code not in text(page)
    assert "qr.svg" not in text(page)


# --- Never another order, never after it expired ----------------------------------------------


def test_a_tampered_link_opens_nothing(shop, clerk):
    order = ready_order(shop, clerk)
    other = ready_order(shop, clerk)
    link = emailed_link(order)
    token = link.removeprefix("/o/").removesuffix("/")
    value, _timestamp, signature = token.rsplit(":", 2)
    forged = [
        token.replace(order.number, other.number),  # another order under the same signature
        f"{value}:{_timestamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{other.number}",
        f"{value}:{_timestamp}",
        f"{token}x",
        "x" * 300,
    ]
    browser = Client()
    before = written()

    answers = [browser.get(f"/o/{bad}/") for bad in forged]
    answers += [browser.get(f"/o/{bad}/qr.svg") for bad in forged]
    answers += [browser.post(f"/o/{bad}/arrived/") for bad in forged]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert not any(other.pickup_code in text(a) or order.pickup_code in text(a) for a in answers)
    assert written() == before


def test_an_expired_link_says_so_and_shows_nothing_of_the_order(shop, clerk, settings):
    settings.ORDER_LINK_DAYS = 30
    order = ready_order(shop, clerk)
    link = emailed_link(order)

    with time_machine.travel(NOW + timedelta(days=29, hours=23), tick=False):
        assert Client().get(link).status_code == 200
    with time_machine.travel(NOW + timedelta(days=30, minutes=1), tick=False):
        page = Client().get(link)
        qr = Client().get(f"{link}qr.svg")

    assert page.status_code == 410
    assert "This link has expired" in text(page)
    # The link names the order (its number is in the address); the page shows nothing of it.
    assert f"Order {order.number}" not in text(page)
    assert order.pickup_code not in text(page)
    assert shop.store.name not in text(page)
    assert qr.status_code == 410
    assert qr["Content-Type"].startswith("text/html")


def test_a_link_stops_working_once_the_pickup_token_changes(shop, clerk):
    order = ready_order(shop, clerk)
    link = emailed_link(order)
    Order.objects.filter(pk=order.pk).update(pickup_token="rotated-" + "x" * 40)

    assert Client().get(link).status_code == 404


# --- What the link lets one do -------------------------------------------------------------------


def test_the_link_lets_the_customer_say_they_are_here(shop, clerk):
    order = ready_order(shop, clerk)
    link = emailed_link(order)
    browser = Client()
    assert 'id="arrived-form"' in text(browser.get(link))

    response = browser.post(f"{link}arrived/")

    assert response.status_code == 302
    assert response["Location"] == link
    order.refresh_from_db()
    assert order.arrived_at is not None
    event = order.events.order_by("pk").last()
    assert (event.note, event.actor, event.channel, event.user_id) == (
        "customer arrived",
        "customer",
        "web",
        None,
    )
    assert "You told the store you are here" in text(browser.get(link))


def test_the_link_grants_no_payment_or_cancellation(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    link = link_in("order_confirmed", order)
    browser = Client()
    html = text(browser.get(link))
    before = written()

    answers = [
        browser.post(f"{link}cancel/"),
        browser.get(f"{link}pay/"),
        browser.post(f"{link}pay/counter/"),
        browser.post(f"/orders/{order.number}/pay/counter/"),
        browser.post(f"/orders/{order.number}/arrived/"),
    ]

    assert "/pay/" not in html
    assert [a.status_code for a in answers] == [404, 404, 404, 404, 404]
    assert written() == before


def test_the_link_opens_its_order_for_whoever_holds_it_and_grants_the_session_nothing(
    shop, clerk, shopper
):
    """A logged-in customer opening someone else's link sees that order (the link is the key),
    and their own session gains nothing from it."""
    order = ready_order(shop, clerk)
    link = emailed_link(order)
    browser = Client()
    browser.force_login(shopper.user)

    page = browser.get(link)

    assert page.status_code == 200
    assert order.pickup_code in text(page)
    assert browser.get(f"/orders/{order.number}/").status_code == 404
