"""The outbox: every lifecycle change queues its message in the same transaction, once per
(order, kind); delivery applies the contact policy, sends on the chosen channel and records
every send, deferral, suppression and failure on the customer's timeline.

Delivery here is called directly (the Celery task is a thin wrapper); the worker, SMTP server
and broker are real in tests/customers/test_notifications_worker.py."""

from datetime import time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from customers.models import Notification, Touchpoint
from customers.services import deliver_notification, notify, send_again, sweep_notifications
from orders.services import cancel_order, mark_preparing, mark_ready
from tests.support.clock import at_everyday_moments
from tests.support.factories import CustomerFactory
from tests.support.web_helpers import collect_in_full, place_at

pytest_plugins = ["tests.support.web_fixtures"]


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.ConsoleBackend"


def messages_of(order):
    return list(
        Notification.objects.filter(order_number=order.number)
        .order_by("pk")
        .values_list("kind", "status")
    )


def ready_order(shop, clerk, customer=None):
    order = place_at(shop.store, (shop.lamp, 1), customer=customer)
    mark_preparing(order=order, user=clerk)
    return mark_ready(order=order, user=clerk)


def deliver(order, kind):
    note = Notification.objects.get(order_number=order.number, kind=kind)
    return deliver_notification(notification_id=note.pk), Notification.objects.get(pk=note.pk)


def timeline(customer, prefix="notification_"):
    return list(
        Touchpoint.objects.filter(customer=customer, kind__startswith=prefix)
        .order_by("pk")
        .values_list("kind", "payload")
    )


# --- Queued with the change, once ------------------------------------------------------------


def test_each_lifecycle_step_queues_its_message(shop, clerk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        order = ready_order(shop, clerk)
    assert messages_of(order) == [("order_confirmed", "pending"), ("order_ready", "pending")]
    # One task per message, queued only after commit.
    assert len(queued) == 2

    collect_in_full(order, clerk)

    survey = Notification.objects.get(order_number=order.number, kind="nps_survey")
    assert survey.scheduled_for > timezone.now() + timedelta(minutes=100)
    assert survey.context["survey_url"].startswith("http://127.0.0.1:8000/survey/")


def test_a_cancelled_order_says_so(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))

    cancel_order(order=order, reason="Out of stock", actor="staff", channel="store", user=clerk)

    assert messages_of(order) == [("order_confirmed", "pending"), ("order_cancelled", "pending")]
    cancelled = Notification.objects.get(order_number=order.number, kind="order_cancelled")
    assert cancelled.context["reason"] == "Out of stock"


def test_the_same_trigger_twice_queues_one_message(shop, clerk):
    order = ready_order(shop, clerk)
    first = Notification.objects.get(order_number=order.number, kind="order_ready")

    # when the same trigger queues it again, inside a transaction that goes on afterwards
    with transaction.atomic():
        again = notify(
            customer=order.customer,
            kind="order_ready",
            context={"order_number": order.number, "other": "context"},
            dedupe_key=f"{order.number}:order_ready",
            order_number=order.number,
        )
        later = Notification.objects.filter(order_number=order.number).count()

    # then nothing was queued, the first message is as it was, and the transaction was not
    # broken by the repeated key (no savepoint needed)
    assert again is None
    assert later == 2  # the confirmation and the ready message
    assert list(Notification.objects.filter(order_number=order.number, kind="order_ready")) == [
        first
    ]
    first.refresh_from_db()
    assert "other" not in first.context


def test_a_failed_change_queues_nothing(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    before = Notification.objects.count()

    with pytest.raises(Exception):  # noqa: B017 - ready before preparing is illegal
        mark_ready(order=order, user=clerk)

    assert Notification.objects.count() == before


# --- Delivery -----------------------------------------------------------------------------------


def test_the_ready_email_has_the_code_the_qr_and_both_parts(shop, clerk):
    order = ready_order(shop, clerk)

    outcome, note = deliver(order, "order_ready")

    assert outcome == "sent"
    assert (note.status, note.channel, note.attempts) == ("sent", "email", 1)
    assert note.sent_at is not None
    [email] = mail.outbox
    assert email.to == [order.customer.email]
    # In the customer's language (Spanish unless they chose otherwise).
    assert email.subject == f"El pedido {order.number} está listo para recoger"
    assert order.pickup_code in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert order.pickup_code in html
    assert 'src="cid:pickup-qr"' in html
    [qr] = [a for a in email.attachments if a.get_content_type() == "image/png"]
    assert qr["Content-ID"] == "<pickup-qr>"
    assert timeline(order.customer) == [
        (
            "notification_sent",
            {"message": "order_ready", "order": order.number, "channel": "email"},
        )
    ]


def test_delivering_twice_sends_once(shop, clerk):
    order = ready_order(shop, clerk)

    first, _ = deliver(order, "order_ready")
    second, _ = deliver(order, "order_ready")

    assert (first, second) == ("sent", "sent")
    assert len(mail.outbox) == 1


def test_messages_are_in_the_language_the_order_was_placed_in(shop, clerk):
    # Placed without a language (as at the tablet): the customer's preference then.
    customer = CustomerFactory(language="en")
    order = place_at(shop.store, (shop.lamp, 1), customer=customer)
    customer.language = "es"
    customer.save(update_fields=["language"])

    deliver(order, "order_confirmed")

    assert order.language == "en"
    assert mail.outbox[0].subject == f"Order {order.number} confirmed"


def test_sms_first_when_the_customer_prefers_it(shop, clerk, caplog):
    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    customer.preferred_channels = ["sms", "email"]
    customer.phone = "+34600111222"
    customer.save()

    outcome, note = deliver(order, "order_confirmed")

    assert (outcome, note.channel) == ("sent", "sms")
    assert note.provider_id == f"console:{order.number}:order_confirmed"
    assert mail.outbox == []
    assert f"SMS to +34600111222: Omnicollect: pedido {order.number} confirmado" in caplog.text


def test_without_a_number_an_order_message_falls_back_to_email(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    order.customer.preferred_channels = ["whatsapp"]
    order.customer.phone = ""
    order.customer.save()

    outcome, note = deliver(order, "order_confirmed")

    assert (outcome, note.channel) == ("sent", "email")


@at_everyday_moments
def test_quiet_hours_defer_to_their_end_never_drop(shop, clerk, settings):
    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    now = timezone.now().astimezone(shop.store.tz)
    # Quiet from an hour ago until an hour from now, in the store's time zone.
    customer.quiet_hours_start = (now - timedelta(hours=1)).time().replace(microsecond=0)
    customer.quiet_hours_end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    customer.save()

    outcome, note = deliver(order, "order_confirmed")

    assert outcome == "deferred"
    assert note.status == "pending"
    expected = now.replace(
        hour=customer.quiet_hours_end.hour,
        minute=customer.quiet_hours_end.minute,
        second=0,
        microsecond=0,
    )
    if expected <= now:
        expected += timedelta(days=1)
    assert note.scheduled_for == expected
    assert mail.outbox == []
    [(kind, payload)] = timeline(customer)
    assert kind == "notification_deferred"
    assert payload["reason"] == "quiet_hours"
    # Nothing is due until then; afterwards it goes out.
    assert deliver_notification(notification_id=note.pk) == "later"
    customer.quiet_hours_start = customer.quiet_hours_end = None
    customer.save()
    assert deliver_notification(notification_id=note.pk, now=note.scheduled_for) == "sent"


def test_the_survey_is_capped_per_customer(shop, clerk, shopper):
    first = ready_order(shop, clerk, customer=shopper)
    second = ready_order(shop, clerk, customer=shopper)
    collect_in_full(first, clerk)
    collect_in_full(second, clerk)
    later = timezone.now() + timedelta(hours=3)

    a = Notification.objects.get(order_number=first.number, kind="nps_survey")
    b = Notification.objects.get(order_number=second.number, kind="nps_survey")
    assert deliver_notification(notification_id=a.pk, now=later) == "sent"
    assert deliver_notification(notification_id=b.pk, now=later) == "suppressed"

    b.refresh_from_db()
    assert (b.status, b.reason) == ("suppressed", "frequency_cap")
    assert ("notification_suppressed", "frequency_cap") in [
        (kind, payload.get("reason")) for kind, payload in timeline(shopper)
    ]


def _survey(customer, number):
    """A capped (non-transactional) message to ``customer``, queued now."""
    return notify(
        customer=customer,
        kind="nps_survey",
        context={"order_number": number},
        dedupe_key=f"{number}:nps_survey",
        order_number=number,
    )


ONE_PER_WEEK = (1, 7)  # NOTIFICATION_CAP: one capped message per customer in 7 days
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("later", "outcome"),
    [
        (timedelta(days=2), "suppressed"),
        (WEEK - timedelta(seconds=1), "suppressed"),
        (WEEK + timedelta(seconds=1), "sent"),
        (timedelta(days=8), "sent"),
    ],
    ids=["2-days", "just-inside-the-week", "just-outside-the-week", "8-days"],
)
def test_the_cap_holds_back_a_second_message_inside_its_window_only(
    shopper, settings, later, outcome
):
    # given one capped message per week, and a first one sent to the customer
    settings.NOTIFICATION_CAP = ONE_PER_WEEK
    first = _survey(shopper, "CC-FIRST01")
    assert deliver_notification(notification_id=first.pk) == "sent"
    first.refresh_from_db()
    second = _survey(shopper, "CC-SECOND1")

    # when a second one is due ``later`` after the first went out
    result = deliver_notification(notification_id=second.pk, now=first.sent_at + later)

    # then it is held back inside the week and goes out after it
    second.refresh_from_db()
    assert result == outcome
    if outcome == "suppressed":
        assert (second.status, second.reason, second.sent_at) == (
            "suppressed",
            "frequency_cap",
            None,
        )
        assert len(mail.outbox) == 1
    else:
        assert (second.status, second.reason) == ("sent", "")
        assert len(mail.outbox) == 2


def test_order_messages_are_never_capped(shop, clerk, shopper):
    orders = [place_at(shop.store, (shop.lamp, 1), customer=shopper) for _ in range(3)]

    outcomes = [deliver(order, "order_confirmed")[0] for order in orders]

    assert outcomes == ["sent", "sent", "sent"]


class Refusing:
    """An email backend whose server is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def test_failed_sends_retry_with_back_off_then_fail_visibly(shop, clerk, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_notifications.Refusing"
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_SECONDS = 30
    order = place_at(shop.store, (shop.lamp, 1))
    note = Notification.objects.get(order_number=order.number)

    start = timezone.now()
    assert deliver_notification(notification_id=note.pk) == "retry"
    note.refresh_from_db()
    assert note.status == "pending"
    assert timedelta(seconds=29) < note.scheduled_for - start < timedelta(seconds=40)
    assert "SMTP server down" in note.reason
    assert deliver_notification(notification_id=note.pk) == "later"
    assert deliver_notification(notification_id=note.pk, now=note.scheduled_for) == "retry"
    note.refresh_from_db()
    assert timedelta(seconds=59) < note.scheduled_for - timezone.now() < timedelta(seconds=70)
    assert deliver_notification(notification_id=note.pk, now=note.scheduled_for) == "failed"
    note.refresh_from_db()
    assert (note.status, note.attempts) == ("failed", 3)
    outcomes = [p["outcome"] for k, p in timeline(order.customer) if k == "notification_failed"]
    assert outcomes == ["retry", "retry", "failed"]

    # Staff send it again once the server is back.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_again(notification=note) is True
    assert deliver_notification(notification_id=note.pk) == "sent"
    assert len(mail.outbox) == 1


def test_a_send_that_died_is_taken_over_after_the_timeout(shop, clerk, settings):
    settings.NOTIFICATION_SEND_TIMEOUT_SECONDS = 60
    order = place_at(shop.store, (shop.lamp, 1))
    note = Notification.objects.get(order_number=order.number)
    claimed = timezone.now()
    Notification.objects.filter(pk=note.pk).update(
        status="sending", sending_since=claimed, attempts=1
    )

    assert deliver_notification(notification_id=note.pk) == "busy"
    assert (
        deliver_notification(notification_id=note.pk, now=claimed + timedelta(seconds=61)) == "sent"
    )
    assert len(mail.outbox) == 1


def test_the_sweep_queues_what_is_due_and_what_died(shop, clerk, settings, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "customers.services.delivery.send_now", lambda name, pk: queued.append(pk) or True
    )
    settings.NOTIFICATION_SEND_TIMEOUT_SECONDS = 60
    order = ready_order(shop, clerk)
    confirmed, ready = Notification.objects.filter(order_number=order.number).order_by("pk")
    Notification.objects.filter(pk=ready.pk).update(
        status="sending", sending_since=timezone.now() - timedelta(minutes=5)
    )
    later = Notification.objects.create(
        customer=order.customer,
        kind="nps_survey",
        dedupe_key="later",
        scheduled_for=timezone.now() + timedelta(hours=1),
    )

    assert sweep_notifications() == 2

    assert sorted(queued) == sorted([confirmed.pk, ready.pk])
    assert later.pk not in queued


def test_refunds_send_one_message_each(shop, clerk):
    from orders.services import refund_order

    order = ready_order(shop, clerk)
    collect_in_full(order, clerk)
    order.refresh_from_db()

    refund_order(order=order, user=clerk, quantities=None, reason="Faulty", method="cash")

    refund = Notification.objects.get(order_number=order.number, kind="refund")
    assert refund.context["amount"] == str(Decimal("12.50"))
    outcome, _note = deliver(order, "refund")
    assert outcome == "sent"
    assert "12,50\xa0€" in mail.outbox[0].body  # the customer reads Spanish


def test_every_kind_renders_in_both_languages(shop, clerk):
    from customers.messaging import render
    from customers.models import NotificationKind
    from orders.services.messages import _message_context

    order = ready_order(shop, clerk)
    context = _message_context(
        order,
        pickup_code="ABCD2345",
        reason="r",
        amount="1.00",
        survey_url="http://s",
        customer_name="Ana",
    )
    for kind in NotificationKind.values:
        for language in ("es", "en"):
            message = render(kind, context, language)
            assert order.number in message["subject"] + message["text"], (kind, language)
            assert message["short"] and len(message["short"]) < 320, (kind, language)
            assert "{%" not in message["html"] and "{{" not in message["text"]


def test_quiet_hours_use_the_customers_own_time_zone(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    customer.timezone = "America/Mexico_City"
    now_mexico = (
        timezone.now()
        .astimezone(timezone.get_fixed_timezone(0))
        .astimezone(__import__("zoneinfo").ZoneInfo("America/Mexico_City"))
    )
    customer.quiet_hours_start = (now_mexico - timedelta(hours=1)).time().replace(microsecond=0)
    customer.quiet_hours_end = (
        (now_mexico + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    )
    customer.save()

    outcome, note = deliver(order, "order_confirmed")

    assert outcome == "deferred"
    local_end = note.scheduled_for.astimezone(
        __import__("zoneinfo").ZoneInfo("America/Mexico_City")
    )
    assert local_end.time() == customer.quiet_hours_end
    assert time(0) <= local_end.time()


def test_a_message_at_night_before_the_clocks_change_waits_until_local_morning(shop, clerk):
    """Time frozen at 23:00 in Madrid on 28 March 2026, the night clocks go forward: the
    confirmation waits until 08:00 local, which that morning is 06:00 UTC (not 07:00)."""
    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    customer.timezone = "Europe/Madrid"
    customer.quiet_hours_start, customer.quiet_hours_end = time(22, 0), time(8, 0)
    customer.save()
    night = timezone.datetime(2026, 3, 28, 23, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    note = Notification.objects.get(order_number=order.number)
    Notification.objects.filter(pk=note.pk).update(scheduled_for=night)

    assert deliver_notification(notification_id=note.pk, now=night) == "deferred"

    note.refresh_from_db()
    assert note.scheduled_for == timezone.datetime(2026, 3, 29, 6, 0, tzinfo=ZoneInfo("UTC"))
    assert deliver_notification(notification_id=note.pk, now=night.replace(hour=23, minute=59)) == (
        "later"
    )
    morning = note.scheduled_for
    assert deliver_notification(notification_id=note.pk, now=morning) == "sent"
    assert len(mail.outbox) == 1


def test_the_expiry_job_expires_once_releases_stock_and_tells_the_customer(shop, clerk):
    from orders.models import Order
    from orders.tasks import expire_holds
    from tests.support.web_helpers import stock_of

    order = ready_order(shop, clerk)
    Order.objects.filter(pk=order.pk).update(hold_until=timezone.now() - timedelta(minutes=1))
    assert stock_of(shop.store, shop.lamp) == (10, 1)

    assert expire_holds() == 1
    assert expire_holds() == 0

    order.refresh_from_db()
    assert order.status == "expired"
    assert stock_of(shop.store, shop.lamp) == (10, 0)
    assert messages_of(order)[-1] == ("order_expired", "pending")
    assert Notification.objects.filter(order_number=order.number, kind="order_expired").count() == 1
    outcome, _note = deliver(order, "order_expired")
    assert outcome == "sent"
    assert order.number in mail.outbox[0].subject


def test_every_attempt_at_one_email_carries_the_same_message_id(shop, clerk):
    from customers.messaging import message_id

    order = ready_order(shop, clerk)
    deliver(order, "order_ready")
    key = f"{order.number}:order_ready"

    [email] = mail.outbox
    assert email.extra_headers["Message-ID"] == message_id(key)
    assert message_id(key) == message_id(key) != message_id(f"{order.number}:order_confirmed")
    assert message_id(key).endswith("@127.0.0.1>")
    note = Notification.objects.get(order_number=order.number, kind="order_ready")
    assert note.provider_id == message_id(key)


def test_a_task_finding_the_message_being_sent_comes_back_after_the_claim_times_out(
    shop, clerk, settings
):
    from celery.exceptions import Retry

    from customers.tasks import deliver_notification as task

    settings.NOTIFICATION_SEND_TIMEOUT_SECONDS = 60
    order = place_at(shop.store, (shop.lamp, 1))
    note = Notification.objects.get(order_number=order.number)
    Notification.objects.filter(pk=note.pk).update(
        status="sending", sending_since=timezone.now(), attempts=1
    )

    with pytest.raises(Retry) as retry:
        task.apply(args=[note.pk], throw=True)

    assert retry.value.when == 61
    assert mail.outbox == []


def test_the_timeline_says_which_message_and_why_it_was_held(shop, clerk):
    from django.test import Client

    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    now = timezone.now().astimezone(shop.store.tz)
    customer.quiet_hours_start = (now - timedelta(hours=1)).time().replace(microsecond=0)
    customer.quiet_hours_end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    customer.save()
    deliver(order, "order_confirmed")
    tablet = Client()
    tablet.force_login(clerk)

    page = tablet.get(f"/store/{shop.store.code}/customers/{customer.reference}/").content.decode()

    assert "Message held until quiet hours end" in page
    # The channel it is held for is the entry's tag.
    assert '<span class="tag channel-email">Email</span>' in page
    assert "(Order confirmed · held for quiet hours)" in page
