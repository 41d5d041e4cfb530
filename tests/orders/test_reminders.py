"""The no-show policy: each store's reminders before the pickup slot and before the hold ends,
and what staff may change on one order (a longer hold, the ready message again, a failed
message again), on the services and through the store tablet."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Notification
from orders.errors import OrderError
from orders.models import OrderEvent, OrderStatus
from orders.selectors import READY_RESENDS
from orders.services import (
    expire_order,
    extend_hold,
    mark_preparing,
    mark_ready,
    resend_ready_message,
    send_reminders,
)
from orders.templatetags.order_tags import event_note
from stores.models import StaffMembership
from tests.support.factories import StaffMembershipFactory, UserFactory
from tests.support.web_helpers import inputs_named, logged_in, place_at, text, written

pytest_plugins = ["tests.support.web_fixtures"]  # the shop fixture

NONE = {"pickup_reminder": 0, "hold_expiring": 0}
PICKUP = {"pickup_reminder": 1, "hold_expiring": 0}
HOLD = {"pickup_reminder": 0, "hold_expiring": 1}


def _ready(shop, clerk, **store_policy):
    if store_policy:
        for name, value in store_policy.items():
            setattr(shop.store, name, value)
        shop.store.save(update_fields=list(store_policy))
    order = place_at(shop.store, (shop.lamp, 1))
    mark_preparing(order=order, user=clerk)
    return mark_ready(order=order, user=clerk)


def _kinds(order):
    return list(
        Notification.objects.filter(order_number=order.number)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def _url(order, action=""):
    return f"/store/{order.store.code}/orders/{order.number}/{action + '/' if action else ''}"


# --- Reminders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes_before_slot", "expected"),
    [(61, NONE), (60, PICKUP), (1, PICKUP), (0, NONE), (-10, NONE)],
)
def test_the_pickup_reminder_goes_inside_the_stores_window_only(
    shop, clerk, minutes_before_slot, expected
):
    order = _ready(shop, clerk, reminder_minutes=60)

    sent = send_reminders(now=order.slot_start - timedelta(minutes=minutes_before_slot))

    assert sent == expected
    reminded = ["pickup_reminder"] if expected == PICKUP else []
    assert _kinds(order) == ["order_confirmed", "order_ready", *reminded]


def test_the_pickup_reminder_says_where_and_when(shop, clerk):
    order = _ready(shop, clerk)

    send_reminders(now=order.slot_start - timedelta(minutes=30))

    reminder = Notification.objects.get(order_number=order.number, kind="pickup_reminder")
    assert reminder.dedupe_key == f"{order.number}:pickup_reminder"
    assert reminder.customer == order.customer
    assert reminder.status == "pending"
    assert reminder.context["slot_start"] == order.slot_start.isoformat()
    assert reminder.context["pickup_token"] == order.pickup_token


@pytest.mark.parametrize(
    ("before_hold_end", "expected"),
    [
        (timedelta(hours=6, minutes=1), NONE),
        (timedelta(hours=6), HOLD),
        (timedelta(minutes=1), HOLD),
        (timedelta(0), NONE),
        (-timedelta(hours=1), NONE),
    ],
)
def test_the_hold_reminder_goes_inside_the_stores_window_only(
    shop, clerk, before_hold_end, expected
):
    order = _ready(shop, clerk, hold_reminder_hours=6)

    sent = send_reminders(now=order.hold_until - before_hold_end)

    assert sent == expected
    reminded = ["hold_expiring"] if expected == HOLD else []
    assert _kinds(order) == ["order_confirmed", "order_ready", *reminded]


def test_a_store_with_zero_sends_no_reminders(shop, clerk):
    order = _ready(shop, clerk, reminder_minutes=0, hold_reminder_hours=0)

    assert send_reminders(now=order.slot_start - timedelta(minutes=1)) == NONE
    assert send_reminders(now=order.hold_until - timedelta(minutes=1)) == NONE
    assert _kinds(order) == ["order_confirmed", "order_ready"]


def test_only_ready_orders_are_reminded(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    mark_preparing(order=order, user=clerk)

    assert send_reminders(now=order.slot_start - timedelta(minutes=30)) == NONE
    assert _kinds(order) == ["order_confirmed"]


def test_running_twice_queues_each_reminder_once(shop, clerk):
    order = _ready(shop, clerk)
    before_slot = order.slot_start - timedelta(minutes=30)
    before_hold_end = order.hold_until - timedelta(hours=1)

    assert send_reminders(now=before_slot) == PICKUP
    assert send_reminders(now=before_slot) == NONE
    assert send_reminders(now=before_slot + timedelta(minutes=5)) == NONE
    assert send_reminders(now=before_hold_end) == HOLD
    assert send_reminders(now=before_hold_end) == NONE

    assert _kinds(order) == ["order_confirmed", "order_ready", "pickup_reminder", "hold_expiring"]


def test_reminders_run_a_fixed_number_of_queries(shop, clerk):
    orders = [_ready(shop, clerk) for _ in range(3)]
    # The three orders share the second slot: all are inside the window together.
    when = orders[0].slot_start - timedelta(minutes=30)
    assert {o.slot_start for o in orders} == {orders[0].slot_start}

    with CaptureQueriesContext(connection) as first:
        assert send_reminders(now=when) == {"pickup_reminder": 3, "hold_expiring": 0}
    with CaptureQueriesContext(connection) as again:
        assert send_reminders(now=when) == NONE

    # One read of the stores, two of orders and one of the messages already queued; then per
    # new message only its insert (no savepoint: ON CONFLICT on its dedupe key), inside one
    # savepoint for the batch.
    assert len(again.captured_queries) == 4
    inserts = [q for q in first.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3
    assert all("ON CONFLICT" in q["sql"] for q in inserts)
    assert len(first.captured_queries) == 4 + 2 + 3


# --- A longer hold ---------------------------------------------------------------------------


def test_an_extended_hold_can_be_reminded_of_again(shop, clerk):
    order = _ready(shop, clerk)
    first_end = order.hold_until
    assert send_reminders(now=first_end - timedelta(hours=1)) == HOLD

    extend_hold(order=order, hours=24, user=clerk, now=first_end - timedelta(hours=1))

    order.refresh_from_db()
    assert order.hold_until == first_end + timedelta(hours=24)
    assert send_reminders(now=first_end - timedelta(minutes=30)) == NONE
    assert send_reminders(now=order.hold_until - timedelta(hours=1)) == HOLD
    reminders = Notification.objects.filter(
        order_number=order.number, kind="hold_expiring"
    ).order_by("pk")
    assert [r.context["hold_until"] for r in reminders] == [
        first_end.isoformat(),
        order.hold_until.isoformat(),
    ]
    assert len({r.dedupe_key for r in reminders}) == 2


def test_extending_counts_from_now_once_the_hold_has_passed(shop, clerk):
    order = _ready(shop, clerk)
    late = order.hold_until + timedelta(hours=2)

    extended = extend_hold(order=order, hours=3, user=clerk, now=late)

    assert extended.hold_until == late + timedelta(hours=3)
    event = OrderEvent.objects.filter(order=order).latest("pk")
    assert (event.from_status, event.to_status, event.note, event.user) == (
        "ready",
        "ready",
        "hold extended by 3 h",
        clerk,
    )
    assert event_note(event.note) == "hold extended by 3 hours"
    assert event_note("hold extended by 1 h") == "hold extended by 1 hour"


def test_an_extended_order_still_expires_after_its_new_hold(shop, clerk):
    order = _ready(shop, clerk)
    first_end = order.hold_until
    extend_hold(order=order, hours=10, user=clerk, now=first_end - timedelta(hours=1))

    assert expire_order(order=order, now=first_end + timedelta(minutes=1)) is None
    order.refresh_from_db()
    assert order.status == OrderStatus.READY

    expired = expire_order(order=order, now=first_end + timedelta(hours=10))

    assert expired is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert _kinds(order)[-1] == "order_expired"


@pytest.mark.parametrize("hours", [0, -1, 169, 1000])
def test_a_hold_is_extended_by_1_to_168_hours_only(shop, clerk, hours):
    order = _ready(shop, clerk)
    before = written()

    with pytest.raises(OrderError) as refused:
        extend_hold(order=order, hours=hours, user=clerk)

    assert (refused.value.code, refused.value.status) == ("invalid_hours", 400)
    assert refused.value.message == "A hold can be extended by 1 to 168 hours."
    assert written() == before


def test_only_a_ready_orders_hold_is_extended(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    before = written()

    with pytest.raises(OrderError) as refused:
        extend_hold(order=order, hours=24, user=clerk)

    assert (refused.value.code, refused.value.status) == ("not_ready", 409)
    assert written() == before


# --- The ready message again -----------------------------------------------------------------


def test_the_ready_message_is_sent_again_up_to_the_limit(shop, clerk):
    order = _ready(shop, clerk)

    for _ in range(READY_RESENDS):
        resend_ready_message(order=order, user=clerk)
    before = written()
    with pytest.raises(OrderError) as refused:
        resend_ready_message(order=order, user=clerk)

    assert (refused.value.code, refused.value.status) == ("resend_limit", 409)
    assert written() == before
    ready = Notification.objects.filter(order_number=order.number, kind="order_ready")
    again = [f"{order.number}:order_ready:again-{n}" for n in range(1, READY_RESENDS + 1)]
    assert sorted(ready.values_list("dedupe_key", flat=True)) == sorted(
        [f"{order.number}:order_ready", *again]
    )
    assert {n.context["pickup_code"] for n in ready} == {order.pickup_code}
    notes = OrderEvent.objects.filter(order=order, note="ready message sent again")
    assert notes.count() == 3
    assert event_note("ready message sent again") == "ready message sent again"


def test_the_ready_message_goes_again_only_to_a_ready_order(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    before = written()

    with pytest.raises(OrderError) as refused:
        resend_ready_message(order=order, user=clerk)

    assert refused.value.code == "not_ready"
    assert written() == before


# --- The tablet ------------------------------------------------------------------------------


def test_the_tablet_extends_a_hold_without_javascript(shop, clerk):
    order = _ready(shop, clerk)
    first_end = order.hold_until
    tablet = logged_in(clerk)

    page = tablet.get(_url(order))
    assert inputs_named(page.content, "hours") == [
        {
            "type": "number",
            "name": "hours",
            "value": "24",
            "min": "1",
            "max": "168",
            "required": "",
            "id": "id_hours",
        }
    ]
    response = tablet.post(_url(order, "extend"), {"hours": "24"})

    assert response.status_code == 302
    assert response["Location"] == _url(order)
    order.refresh_from_db()
    assert order.hold_until == first_end + timedelta(hours=24)
    page = text(tablet.get(_url(order)))
    assert "Hold extended: kept until" in page
    assert "hold extended by 24 hours" in page


def test_the_tablet_extends_a_hold_with_htmx(shop, clerk):
    order = _ready(shop, clerk)
    first_end = order.hold_until
    tablet = logged_in(clerk)

    response = tablet.post(_url(order, "extend"), {"hours": "5"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = text(response)
    assert '<section id="messages"' in html
    assert 'id="held-until" hx-swap-oob="true"' in html
    assert 'id="messages-done"' in html
    assert "<html" not in html
    # The history below is swapped too, with the new event on it.
    assert '<ol class="events" id="order-history" hx-swap-oob="true">' in html
    assert "hold extended by 5 hours" in html
    order.refresh_from_db()
    assert order.hold_until == first_end + timedelta(hours=5)


@pytest.mark.parametrize("hours", ["0", "169", "abc", "", "2.5"])
def test_the_tablet_refuses_bad_hours_and_writes_nothing(shop, clerk, hours):
    order = _ready(shop, clerk)
    tablet = logged_in(clerk)
    before = written()

    response = tablet.post(_url(order, "extend"), {"hours": hours})

    assert response.status_code == 400
    assert written() == before


def test_the_tablet_resends_the_ready_message_and_stops_at_the_limit(shop, clerk):
    order = _ready(shop, clerk)
    tablet = logged_in(clerk)

    first = tablet.post(_url(order, "resend"))
    htmx = [
        tablet.post(_url(order, "resend"), HTTP_HX_REQUEST="true") for _ in range(READY_RESENDS)
    ]

    assert first.status_code == 302
    assert first["Location"] == _url(order)
    assert [r.status_code for r in htmx] == [200, 200, 409]
    assert 'id="resend-limit"' in text(htmx[1])
    # Refused: said in the messages section, beside the button.
    assert 'id="messages-error"' in text(htmx[2])
    assert "HX-Retarget" not in htmx[2]
    assert _kinds(order).count("order_ready") == 1 + READY_RESENDS
    page = text(tablet.get(_url(order)))
    assert 'id="resend-limit"' in page


def test_anonymous_visitors_are_sent_to_log_in(shop, clerk):
    order = _ready(shop, clerk)
    client = Client()
    before = written()

    for action in ["extend", "resend", "messages/1/again"]:
        path = _url(order, action)
        response = client.post(path, {"hours": "24"})
        assert response.status_code == 302, path
        assert response["Location"] == f"/account/login/?next={path}"
    assert written() == before


def test_a_clerk_of_another_store_gets_404(shop, clerk):
    order = _ready(shop, clerk)
    failed = Notification.objects.get(order_number=order.number, kind="order_ready")
    Notification.objects.filter(pk=failed.pk).update(status="failed", reason="SMTP down")
    outsider = UserFactory()
    StaffMembershipFactory(user=outsider, store=shop.other, role=StaffMembership.Role.MANAGER)
    tablet = logged_in(outsider)
    before = written()

    for action in ["extend", "resend", f"messages/{failed.pk}/again"]:
        # This store's URL (not theirs), and their own store's URL with this order's number.
        assert tablet.post(_url(order, action), {"hours": "24"}).status_code == 404
        other_path = f"/store/{shop.other.code}/orders/{order.number}/{action}/"
        assert tablet.post(other_path, {"hours": "24"}).status_code == 404
    assert tablet.get(_url(order)).status_code == 404

    assert written() == before
    failed.refresh_from_db()
    assert failed.status == "failed"


# --- The messages list on the tablet ---------------------------------------------------------


def _outbox(order):
    """The order's confirmation sent by email, its ready message failed, a reminder suppressed."""
    rows = {n.kind: n for n in Notification.objects.filter(order_number=order.number)}
    Notification.objects.filter(pk=rows["order_confirmed"].pk).update(
        status="sent", channel="email", sent_at=timezone.now()
    )
    Notification.objects.filter(pk=rows["order_ready"].pk).update(
        status="failed", channel="sms", attempts=5, reason="SMS gateway down"
    )
    send_reminders(now=order.slot_start - timedelta(minutes=30))
    reminder = Notification.objects.get(order_number=order.number, kind="pickup_reminder")
    Notification.objects.filter(pk=reminder.pk).update(
        status="suppressed", reason="no channel the customer accepts"
    )
    return rows["order_confirmed"], rows["order_ready"], reminder


def _row(html, message):
    start = html.rindex("<tr", 0, html.index(f'id="message-{message.pk}"'))
    return html[start : html.index("</tr>", start)]


def test_the_tablet_lists_the_orders_messages_with_their_status(shop, clerk):
    order = _ready(shop, clerk)
    sent, failed, suppressed = _outbox(order)
    tablet = logged_in(clerk)

    html = text(tablet.get(_url(order)))

    assert html.count('class="message-row ') == 3
    assert html.index(f'id="message-{sent.pk}"') < html.index(f'id="message-{failed.pk}"')
    row = _row(html, sent)
    assert "<td>Order confirmed</td>" in row and "<td>Email</td>" in row
    assert ">Sent</span>" in row and "sent " in row and "Send again" not in row
    row = _row(html, failed)
    assert 'class="message-row message-failed"' in row
    assert "<td>Ready for pickup</td>" in row and "<td>SMS</td>" in row
    assert "⚠ Failed</span>" in row and "SMS gateway down" in row
    assert f'action="{_url(order)}messages/{failed.pk}/again/"' in row
    row = _row(html, suppressed)
    assert "<td>Pickup reminder</td>" in row and "<td>—</td>" in row
    assert "Not sent (contact rules)</span>" in row and "no channel the customer accepts" in row
    assert "Send again" not in row and "due " not in row
    assert html.count(">Send again</button>") == 1


def test_a_failed_message_is_sent_again_from_the_tablet(shop, clerk):
    order = _ready(shop, clerk)
    _sent, failed, _suppressed = _outbox(order)
    tablet = logged_in(clerk)

    response = tablet.post(_url(order, f"messages/{failed.pk}/again"))

    assert response.status_code == 302
    assert response["Location"] == _url(order)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert OrderEvent.objects.filter(order=order, note="message sent again").count() == 1
    html = text(tablet.get(_url(order)))
    assert "The message is being sent again." in html
    assert "Waiting to be sent</span>" in _row(html, failed)


def test_a_failed_message_is_sent_again_with_htmx(shop, clerk):
    order = _ready(shop, clerk)
    _sent, failed, _suppressed = _outbox(order)
    tablet = logged_in(clerk)

    response = tablet.post(_url(order, f"messages/{failed.pk}/again"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = text(response)
    row = _row(html, failed)
    assert "Waiting to be sent</span>" in row and ">due " in row
    assert html.count(">Send again</button>") == 0


def test_only_this_orders_failed_messages_are_sent_again(shop, clerk):
    order = _ready(shop, clerk)
    other = _ready(shop, clerk)
    _sent, failed, suppressed = _outbox(order)
    other_failed = Notification.objects.get(order_number=other.number, kind="order_ready")
    Notification.objects.filter(pk=other_failed.pk).update(status="failed", reason="down")
    tablet = logged_in(clerk)
    before = written()

    # Another order's message under this order's URL, and a message that did not fail.
    assert tablet.post(_url(order, f"messages/{other_failed.pk}/again")).status_code == 404
    assert tablet.post(_url(order, f"messages/{suppressed.pk}/again")).status_code == 409

    assert written() == before
    other_failed.refresh_from_db()
    suppressed.refresh_from_db()
    assert (other_failed.status, suppressed.status) == ("failed", "suppressed")


def test_the_order_page_reads_the_messages_in_one_query(shop, clerk):
    order = _ready(shop, clerk)
    tablet = logged_in(clerk)
    tablet.get(_url(order))

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = tablet.get(_url(order))
        outbox = [q for q in queries.captured_queries if '"customers_notification"' in q["sql"]]
        rows = text(response).count('class="message-row ')
        return len(queries.captured_queries), len(outbox), rows

    small = measure()
    for _ in range(READY_RESENDS):
        resend_ready_message(order=order, user=clerk)
    send_reminders(now=order.slot_start - timedelta(minutes=30))
    large = measure()

    assert small[1:] == (1, 2)
    assert large[1:] == (1, 6)
    assert small[0] == large[0]


# --- Celery beat -----------------------------------------------------------------------------


def test_reminders_run_every_five_minutes():
    from orders.tasks import send_reminders as task

    assert settings.CELERY_BEAT_SCHEDULE["send-reminders"] == {
        "task": "orders.tasks.send_reminders",
        "schedule": 300.0,
    }
    assert task.name == "orders.tasks.send_reminders"


def test_the_reminder_task_queues_what_is_due_now(shop, clerk):
    from orders.tasks import send_reminders as task

    order = _ready(shop, clerk, hold_reminder_hours=6)
    # Pull the hold end into the window as the wall clock sees it.
    order.hold_until = timezone.now() + timedelta(hours=2)
    order.save(update_fields=["hold_until"])

    assert task() == HOLD
    assert task() == NONE


def test_an_order_ready_inside_the_window_gets_no_reminder_on_top(shop, clerk):
    order = _ready(shop, clerk, reminder_minutes=60)
    # Marked ready 30 minutes before its slot: the ready message was the reminder.
    OrderEvent.objects.filter(order=order, to_status=OrderStatus.READY).update(
        created_at=order.slot_start - timedelta(minutes=30)
    )

    sent = send_reminders(now=order.slot_start - timedelta(minutes=20))

    assert sent == NONE
    assert "pickup_reminder" not in _kinds(order)


def test_reminders_waiting_to_go_out_are_withdrawn_once_the_order_is_collected(shop, clerk):
    from tests.support.web_helpers import collect_in_full

    order = _ready(shop, clerk, reminder_minutes=60)
    send_reminders(now=order.slot_start - timedelta(minutes=30))
    reminder = Notification.objects.get(order_number=order.number, kind="pickup_reminder")
    assert reminder.status == "pending"

    collect_in_full(order, clerk)

    reminder.refresh_from_db()
    assert (reminder.status, reminder.reason) == ("suppressed", "order collected")
    from customers.models import Touchpoint

    withdrawn = Touchpoint.objects.get(customer=order.customer, kind="notification_suppressed")
    assert withdrawn.payload["message"] == "pickup_reminder"
    assert withdrawn.payload["reason"] == "order collected"
    ready = Notification.objects.get(order_number=order.number, kind="order_ready")
    assert ready.status == "pending"  # only reminders are withdrawn
