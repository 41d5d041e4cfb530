"""Closed-loop NPS: a detractor's answer (0–6) opens a follow-up for the managers of the order's
store; marking it contacted or resolved with a note writes a touchpoint on the customer's
timeline; one open for more than 48 hours is flagged."""

import importlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Notification, NotificationKind, NpsAnswer, NpsFollowUp, Touchpoint
from customers.services import answer_survey, nps_token
from orders.models import OrderStatus
from stores.models import StaffMembership
from tests.support.order_rows import make_order
from tests.support.staff import staff_client
from tests.support.web_helpers import text

URL = "/manage/follow-ups/"
MADRID = ZoneInfo("Europe/Madrid")
ANSWERED = datetime(2025, 3, 10, 12, 0, tzinfo=MADRID)


def answered(store, score, comment="", *, at=ANSWERED):
    """A collected order at ``store`` whose customer answered the survey (through the
    service, as the survey page does)."""
    order = make_order(
        store, ("10.00", 1, 1), status=OrderStatus.COLLECTED, created_at=at - timedelta(days=1)
    )
    Notification.objects.create(
        customer=order.customer,
        order_number=order.number,
        kind=NotificationKind.NPS,
        dedupe_key=f"nps:{order.number}",
        status=Notification.Status.SENT,
    )
    with time_machine.travel(at, tick=False):
        answer_survey(token=nps_token(order_number=order.number), score=score, comment=comment)
    return order


def test_only_detractors_open_a_follow_up(madrid):
    for score in (0, 6):
        answered(madrid, score)
    for score in (7, 8, 9, 10):
        answered(madrid, score)

    opened = NpsFollowUp.objects.select_related("answer")
    assert sorted(f.answer.score for f in opened) == [0, 6]
    assert {f.status for f in opened} == {"open"}
    assert all(f.created_at == f.answer.created_at for f in opened)


def test_answers_given_before_follow_ups_existed_open_one_each(madrid):
    old = answered(madrid, 2)
    answered(madrid, 9)
    NpsFollowUp.objects.all().delete()

    migration = importlib.import_module("customers.migrations.0012_nps_follow_up")
    migration.open_follow_ups(apps, connection.schema_editor())
    migration.open_follow_ups(apps, connection.schema_editor())  # twice: still one

    [follow_up] = NpsFollowUp.objects.select_related("answer")
    assert follow_up.answer.order_number == old.number
    assert follow_up.created_at == follow_up.answer.created_at


def test_a_manager_sees_the_unhappy_customers_of_their_stores_only(madrid, barcelona):
    mine = answered(madrid, 3, "The order was not ready")
    theirs = answered(barcelona, 1, "Nobody at the counter")
    manager = staff_client(madrid)

    page = text(manager.get(URL))

    assert mine.number in page and "The order was not ready" in page
    assert theirs.number not in page and "Nobody at the counter" not in page
    assert manager.get(URL, {"store": "BCN-01"}).status_code == 404


def test_clerks_are_refused_and_visitors_sent_to_log_in(madrid):
    answered(madrid, 3)

    assert staff_client(madrid, role=StaffMembership.Role.CLERK).get(URL).status_code == 403
    response = Client().get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_an_open_follow_up_is_flagged_after_48_hours(madrid):
    answered(madrid, 3)
    manager = staff_client(madrid)

    with time_machine.travel(ANSWERED + timedelta(hours=47), tick=False):
        early = text(manager.get(URL))
    with time_machine.travel(ANSWERED + timedelta(hours=48, minutes=1), tick=False):
        late = text(manager.get(URL))

    assert "Open for more than 48 hours" not in early
    assert "Open for more than 48 hours" in late
    assert "1 follow-up has been open for more than 48 hours." in late


def test_marking_it_contacted_then_resolved_writes_the_timeline(madrid):
    order = answered(madrid, 4, "Waited 20 minutes")
    [follow_up] = NpsFollowUp.objects.all()
    manager = staff_client(madrid)

    contacted = manager.post(
        f"{URL}{follow_up.pk}/", {"status": "contacted", "note": "Called, left a message"}
    )
    resolved = manager.post(
        f"{URL}{follow_up.pk}/", {"status": "resolved", "note": "Apologised; 10% voucher"}
    )

    assert contacted.status_code == resolved.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.note) == ("resolved", "Apologised; 10% voucher")
    assert follow_up.updated_by == manager.user
    notes = Touchpoint.objects.filter(customer=order.customer, kind="nps_follow_up")
    assert sorted((t.payload["status"], t.payload["note"]) for t in notes) == [
        ("contacted", "Called, left a message"),
        ("resolved", "Apologised; 10% voucher"),
    ]
    assert {(t.channel, t.payload["order"]) for t in notes} == {("store", order.number)}
    # Resolved: gone from the open list, still in the full one.
    assert order.number not in text(manager.get(URL))
    assert "Apologised; 10% voucher" in text(manager.get(URL, {"status": "all"}))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "open", "note": "x"}, "Mark it contacted or resolved."),
        ({"status": "closed", "note": "x"}, "Mark it contacted or resolved."),
        ({"status": "resolved", "note": "   "}, "Say what was done in a short note."),
        ({"status": "resolved", "note": "x" * 1001}, "Keep the note under 1000 characters."),
    ],
    ids=["open", "unknown", "blank-note", "long-note"],
)
def test_a_refused_update_says_why_beside_the_item_and_changes_nothing(madrid, data, message):
    order = answered(madrid, 2)
    [follow_up] = NpsFollowUp.objects.all()

    response = staff_client(madrid).post(f"{URL}{follow_up.pk}/", data)

    assert response.status_code == 400
    page = response.content.decode()
    item = page[page.index(f'id="follow-up-{follow_up.pk}"') :]
    assert message in item[: item.index("</article>")]
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.note) == ("open", "")
    assert not Touchpoint.objects.filter(customer=order.customer, kind="nps_follow_up").exists()


def test_another_stores_follow_up_cannot_be_changed(madrid, barcelona):
    answered(barcelona, 2)
    [follow_up] = NpsFollowUp.objects.all()
    manager = staff_client(madrid)

    for target in (follow_up.pk, 999999):
        response = manager.post(f"{URL}{target}/", {"status": "resolved", "note": "x"})
        assert response.status_code == 404
    assert manager.get(f"{URL}{follow_up.pk}/").status_code == 405
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_the_page_in_spanish(madrid):
    answered(madrid, 5)

    page = text(staff_client(madrid, language="es").get(URL))

    assert "Clientes descontentos a los que llamar" in page
    assert "Marcar resuelto" in page


def test_the_page_runs_the_same_queries_for_few_or_many(madrid):
    manager = staff_client(madrid)

    def measure(n):
        for _ in range(n):
            answered(madrid, 1)
        manager.get(URL)
        with CaptureQueriesContext(connection) as queries:
            page = manager.get(URL).content.decode()
        return len(queries), page.count('class="panel follow-up')

    few, shown_few = measure(2)
    many, shown_many = measure(12)

    assert (shown_few, shown_many) == (2, 14)
    assert few == many
    assert NpsAnswer.objects.count() == 14
