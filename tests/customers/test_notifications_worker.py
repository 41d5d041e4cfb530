"""Messages sent by real components: a Celery worker on the Redis broker, an SMTP server on
loopback, committed rows (``transaction=True``: the worker reads them on its own connection).

- a ready order's email arrives once, with its pickup code, however often it is triggered;
- a lost task, or a send that died after its claim, is sent by the sweep, once;
- a pool child ``kill -9``'d mid-send 20 times: every message arrives; a duplicate only when
  the SMTP server already had the message (counted and printed);
- with the broker stopped or hung, orders are still placed (quickly); their confirmations go
  out once it is back.

Timings are printed (run with ``-s``), never asserted.
"""

import logging
import statistics
import threading
import time
from datetime import timedelta

import pytest
from celery import signals
from django.db import transaction
from django.utils import timezone

from core import tasks
from core.tasks import send_now
from customers.models import Notification
from customers.services import notify, sweep_notifications
from orders.models import Order
from orders.services import mark_preparing, mark_ready
from tests.support.celery_worker import (
    DELIVER,
    WorkerProcess,
    broker_at,
    processed,
    purge,
    thread_worker,
    wait_processed,
)
from tests.support.redis_server import RedisServer
from tests.support.web_helpers import place_at
from tests.support.worker_fixtures import per_recipient

pytest_plugins = ["tests.support.web_fixtures", "tests.support.worker_fixtures"]
# The worker is another process, on the real clock: OMNICOLLECT_TEST_CLOCK leaves these be.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


@pytest.fixture(autouse=True)
def _empty_queue(empty_queue):
    """Tasks other tests queued on the shared test broker are not ours."""


def note_of(order, kind):
    return Notification.objects.get(order_number=order.number, kind=kind)


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- Sent once, by the worker, over SMTP -----------------------------------------------------


def test_a_ready_order_emails_its_pickup_code_once_however_often_triggered(big_shop, clerk, smtp):
    with thread_worker():
        before = processed()
        order = place_at(big_shop.store, (big_shop.lamp, 1))
        smtp.wait_for(1)  # the confirmation
        mark_preparing(order=order, user=clerk)
        mark_ready(order=order, user=clerk)
        smtp.wait_for(2)
        wait_processed(before + 2)  # both tasks done: the ready message is marked sent
        ready = note_of(order, "order_ready")
        assert ready.status == "sent"

        # The same trigger again, and the task delivered twice more.
        again = notify(
            customer=order.customer,
            kind="order_ready",
            context={"order_number": order.number},
            dedupe_key=f"{order.number}:order_ready",
            order_number=order.number,
        )
        assert again is None
        assert send_now(DELIVER, ready.pk) is True
        assert send_now(DELIVER, ready.pk) is True
        wait_processed(before + 4)

    order.refresh_from_db()
    messages = smtp.messages()
    assert [(m.to, m.key) for m in messages] == [
        ((order.customer.email,), f"{order.number}:order_confirmed"),
        ((order.customer.email,), f"{order.number}:order_ready"),
    ]
    assert order.pickup_code in messages[1].text
    ready.refresh_from_db()
    assert (ready.status, ready.attempts, ready.channel) == ("sent", 1, "email")
    assert Notification.objects.filter(order_number=order.number).count() == 2


def test_ready_email_latency_from_commit_to_smtp(big_shop, clerk, smtp):
    """20 orders marked ready one after another; prints commit → SMTP latency."""
    orders = [place_at(big_shop.store, (big_shop.lamp, 1)) for _ in range(20)]
    for order in orders:
        mark_preparing(order=order, user=clerk)
    assert tasks.flush()
    purge()  # their confirmations are not what is measured
    latencies = []
    with thread_worker():
        before = processed()
        committed: list[float] = []
        for index, order in enumerate(orders):
            with transaction.atomic():
                # Registered first, so it runs at commit before the task is published.
                transaction.on_commit(lambda: committed.append(time.monotonic()))
                mark_ready(order=order, user=clerk)
            arrived = smtp.wait_for(index + 1)[index]
            latencies.append(arrived.at - committed[index])
        wait_processed(before + 20)

    messages = smtp.messages()
    assert [m.key for m in messages] == [f"{o.number}:order_ready" for o in orders]
    for order, message in zip(orders, messages, strict=True):
        order.refresh_from_db()
        assert message.to == (order.customer.email,)
        assert order.pickup_code in message.text
    assert Notification.objects.filter(kind="order_ready", status="sent").count() == 20
    ms = [latency * 1000 for latency in latencies]
    print(
        f"\nready email, mark_ready commit → SMTP server ({len(ms)} orders): "
        f"p50 {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


def test_a_commit_leaves_the_publish_to_the_publisher_thread(big_shop, clerk, smtp):
    """The thread that commits (a request's) only hands the task over; the process's publisher
    thread publishes it, and the worker sends the ready email at once (no sweep runs here)."""
    published: list[tuple[str, str]] = []

    def record(sender=None, **kwargs):
        published.append((sender, threading.current_thread().name))

    signals.before_task_publish.connect(record, weak=False)
    try:
        with thread_worker():
            before = processed()
            order = place_at(big_shop.store, (big_shop.lamp, 1))
            mark_preparing(order=order, user=clerk)
            committed = time.monotonic()
            mark_ready(order=order, user=clerk)
            received = smtp.wait_for(2, timeout=30)
            arrived = time.monotonic() - committed
            wait_processed(before + 2)
    finally:
        signals.before_task_publish.disconnect(record)

    # then both messages were published by the publisher thread, never by this one
    assert published == [(DELIVER, "celery-publisher")] * 2
    assert [m.key for m in received] == [
        f"{order.number}:order_confirmed",
        f"{order.number}:order_ready",
    ]
    assert order.pickup_code in received[1].text
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    # and the ready email arrived promptly: seconds at most, not the sweep's minute
    print(f"\nready email: commit → SMTP server in {arrived * 1000:.0f} ms")
    assert arrived < 5


# --- Lost work is found by the sweep ---------------------------------------------------------


def test_a_lost_task_is_sent_by_the_sweep_once(big_shop, clerk, smtp):
    # Given an order placed and made ready while no worker runs, and its tasks lost.
    order = place_at(big_shop.store, (big_shop.lamp, 1))
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    assert tasks.flush()  # both tasks reached the broker
    assert purge() == 2

    with thread_worker():
        before = processed()
        assert smtp.messages() == []
        assert list(
            Notification.objects.filter(order_number=order.number)
            .order_by("pk")
            .values_list("status", flat=True)
        ) == ["pending", "pending"]

        # When the sweep runs (twice: the second finds nothing due).
        assert sweep_notifications() == 2
        smtp.wait_for(2)
        wait_processed(before + 2)
        assert sweep_notifications() == 0

    # Then each message went out once.
    assert sorted(m.key for m in smtp.messages()) == [
        f"{order.number}:order_confirmed",
        f"{order.number}:order_ready",
    ]
    assert set(
        Notification.objects.filter(order_number=order.number).values_list("status", "attempts")
    ) == {("sent", 1)}


def test_a_send_that_died_after_its_claim_is_sent_by_the_sweep_once(big_shop, smtp, settings):
    # Given a confirmation claimed by a worker that died before sending (no task left).
    order = place_at(big_shop.store, (big_shop.lamp, 1))
    assert tasks.flush()
    assert purge() == 1
    stale = timezone.now() - timedelta(seconds=settings.NOTIFICATION_SEND_TIMEOUT_SECONDS + 1)
    Notification.objects.filter(order_number=order.number).update(
        status="sending", sending_since=stale, attempts=1
    )

    with thread_worker():
        before = processed()
        assert sweep_notifications() == 1
        smtp.wait_for(1)
        wait_processed(before + 1)
        assert sweep_notifications() == 0

    assert [m.key for m in smtp.messages()] == [f"{order.number}:order_confirmed"]
    note = note_of(order, "order_confirmed")
    assert (note.status, note.attempts, note.sending_since) == ("sent", 2, None)


# --- kill -9 mid-send ------------------------------------------------------------------------

KILLS = 20
CHILDREN = 4  # the pool's size: each round kills this many children, each mid-send
SEND_TIMEOUT = 1  # NOTIFICATION_SEND_TIMEOUT_SECONDS in the worker
SWEEP = "customers.tasks.sweep_notifications"


def test_a_pool_child_killed_mid_send_loses_no_message(big_shop, smtp):
    """20 confirmations, each one's first send killed (``kill -9`` of a prefork pool child) at
    a known step of the SMTP dialogue: half before the server has the message (RCPT), half
    after it has it but before it answers (end of DATA). The task comes back (acks_late,
    reject_on_worker_lost) and takes the message over if its claim is older than
    NOTIFICATION_SEND_TIMEOUT_SECONDS; if it came back sooner it finds the message "busy",
    and the sweep (beat's job, queued to the worker here every second) sends it."""
    started = time.monotonic()
    orders = [place_at(big_shop.store, (big_shop.lamp, 1)) for _ in range(KILLS)]
    emails = [order.customer.email for order in orders]
    steps = {email: ("rcpt" if i % 2 == 0 else "data") for i, email in enumerate(emails)}
    smtp.hold.update(steps)

    worker = WorkerProcess(
        concurrency=CHILDREN,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        NOTIFICATION_SEND_TIMEOUT_SECONDS=str(SEND_TIMEOUT),
    ).start()
    killed: dict[str, str] = {}
    kills = 0
    try:
        # Every child stops in a first attempt at its step; then all of them are killed.
        while len(killed) < KILLS:
            holds = [smtp.next_hold() for _ in range(CHILDREN)]
            kills += len(worker.kill_children())
            for hold in holds:
                killed[hold.recipient] = hold.step
                hold.release.set()
        # The sweep, queued to the worker like beat does, takes over stale claims.
        deadline = time.monotonic() + 30
        while Notification.objects.exclude(status="sent").exists():
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(SEND_TIMEOUT + 0.1)
            assert send_now(SWEEP) is True
        time.sleep(0.5)  # any straggling duplicate would arrive now
    finally:
        worker.stop()

    counts = per_recipient(smtp.messages())
    duplicates = sum(count - 1 for count in counts.values())
    after_data = [email for email in emails if steps[email] == "data"]
    print(
        f"\nkill -9 mid-send: {kills} children killed, {len(counts)}/{KILLS} messages "
        f"delivered, {duplicates} duplicates ({len(after_data)} kills came after the SMTP "
        f"server had the message), {time.monotonic() - started:.1f} s"
    )
    assert (kills, killed) == (KILLS, steps)
    # Every message arrived; twice exactly when the kill came after the server had it.
    assert counts == {email: 2 if email in after_data else 1 for email in emails}
    assert duplicates == KILLS // 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


# --- The broker down while orders are placed -------------------------------------------------


def test_orders_placed_while_redis_is_down_are_confirmed_once_it_is_back(big_shop, smtp):
    redis = RedisServer().start()
    try:
        with broker_at(redis.url), thread_worker():
            # The broker goes away; 20 orders are placed meanwhile.
            redis.stop()
            took = []
            orders = []
            for _ in range(20):
                start = time.monotonic()
                orders.append(place_at(big_shop.store, (big_shop.lamp, 1)))
                took.append(time.monotonic() - start)
            assert Order.objects.filter(status="placed").count() == 20
            assert set(Notification.objects.values_list("kind", "status")) == {
                ("order_confirmed", "pending")
            }
            assert smtp.messages() == []
            assert tasks.flush()  # the publisher has given up on all of them

            # It comes back (empty, on the same port); the sweep queues what is due.
            redis.start()
            down_at = time.monotonic()
            before = processed()
            assert sweep_notifications() == 20
            received = smtp.wait_for(20, timeout=60)
            back_in = time.monotonic() - down_at
            wait_processed(before + 20)
            # Nothing published while the broker was down reached it.
            assert processed() == before + 20
    finally:
        redis.stop()

    ms = [t * 1000 for t in took]
    print(
        f"\nRedis down: placing an order took p50 {statistics.median(ms):.0f} ms, "
        f"max {max(ms):.0f} ms; 20 confirmations delivered {back_in:.1f} s after it returned"
    )
    assert received == smtp.messages()
    assert per_recipient(received) == {order.customer.email: 1 for order in orders}
    assert sorted(m.key for m in received) == sorted(
        f"{order.number}:order_confirmed" for order in orders
    )
    assert Notification.objects.filter(status="sent").count() == 20


def test_orders_placed_while_redis_hangs_are_confirmed_once_it_answers(big_shop, smtp):
    """A broker that accepts connections and never answers (SIGSTOP): placing an order does
    not wait for it (the publisher thread does, its short timeouts), then the sweep catches
    up."""
    redis = RedisServer().start()
    try:
        with broker_at(redis.url), thread_worker():
            redis.freeze()
            took = []
            orders = []
            for _ in range(3):
                start = time.monotonic()
                orders.append(place_at(big_shop.store, (big_shop.lamp, 1)))
                took.append(time.monotonic() - start)
            assert tasks.flush()  # the publisher has timed out (or given up) on all of them
            redis.thaw()
            assert Order.objects.filter(status="placed").count() == 3
            assert smtp.messages() == []

            before = processed()
            assert sweep_notifications() == 3
            received = smtp.wait_for(3, timeout=60)
            wait_processed(before + 3)
            time.sleep(0.5)  # tasks whose publish timed out may still reach the worker
            ran = processed() - before
    finally:
        redis.stop()

    print(
        "\nRedis hung (SIGSTOP): placing an order took "
        + ", ".join(f"{t * 1000:.0f} ms" for t in took)
        + f"; the worker ran {ran} delivery tasks for the 3 messages"
    )
    assert received == smtp.messages()
    assert per_recipient(received) == {order.customer.email: 1 for order in orders}
    assert Notification.objects.filter(status="sent").count() == 3


def test_tasks_the_publisher_has_no_room_for_are_sent_by_the_sweep(
    big_shop, smtp, monkeypatch, caplog
):
    """A publisher with room for one task, stuck on a hung broker: the orders placed meanwhile
    are placed at once, the tasks it has no room for are dropped (logged), and every message
    still goes out once, by the sweep."""
    monkeypatch.setattr(tasks, "PUBLISH_QUEUE_SIZE", 1)
    monkeypatch.setattr(tasks, "_publisher", tasks._Publisher())
    redis = RedisServer().start()
    try:
        with broker_at(redis.url), thread_worker():
            redis.freeze()
            # (the worker's logging setup leaves the root logger's handlers out of it)
            logger = logging.getLogger("core.tasks")
            logger.addHandler(caplog.handler)
            try:
                orders = [place_at(big_shop.store, (big_shop.lamp, 1)) for _ in range(4)]
                assert tasks.flush()
            finally:
                logger.removeHandler(caplog.handler)
            redis.thaw()
            assert Order.objects.filter(status="placed").count() == 4
            assert Notification.objects.filter(status="pending").count() == 4

            before = processed()
            assert sweep_notifications() == 4
            received = smtp.wait_for(4, timeout=60)
            wait_processed(before + 4)
            time.sleep(0.5)  # a task whose publish timed out may still reach the worker
    finally:
        redis.stop()

    dropped = [r.getMessage() for r in caplog.records if r.name == "core.tasks"]
    # logged once per overflow (the thread takes its first task a moment after the first
    # order: once or twice here)
    assert 1 <= len(dropped) <= 2
    assert all("left to the sweep" in message for message in dropped)
    assert per_recipient(received) == {order.customer.email: 1 for order in orders}
    assert received == smtp.messages()
    assert Notification.objects.filter(status="sent").count() == 4
