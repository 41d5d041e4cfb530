"""Queueing Celery work from the web and services: after the transaction commits, and never
failing the request when the broker is down (what was queued is found again by a sweep).

Work queued after a commit (``send_after_commit``) is published off the request path: the
commit only hands (task, args) to a publisher thread of the process, through a bounded queue,
and the request goes on. If the queue is full, the process exits first, or the broker does not
answer, the task is not published, and nothing is lost: each such task is backed by an outbox
row written in the committed transaction (a message still ``pending``), which the minute sweep
sends. ``flush`` waits until the thread has published what it was handed (tests; shutdown).

Publishing uses connections of its own with short socket timeouts. A broker that refuses
connections fails fast anyway; one that accepts them and never answers (a hung Redis, a
network path that drops packets) would otherwise hold the request for the workers' socket
timeout on every try of the publish retry policy (5 to 20 s with their 5 s). Redis answers a
push in well under a millisecond: half a second only cuts off a broker that is gone.
"""

import atexit
import logging
import os
import queue
import threading
import time

from celery import current_app as app
from django.db import transaction
from kombu import pools

from core.outage import Pause

logger = logging.getLogger(__name__)

# Redis client options for the publishing connections only (workers keep the app's).
PUBLISH_TRANSPORT_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}

# After a failed publish, requests leave the broker alone for a few seconds: their messages
# are in the outbox already, and the sweep (which always tries) sends them.
broker_pause = Pause("broker", seconds=5.0)

# Tasks handed to the publisher thread and not yet taken: a burst of commits fits, a broker
# that is gone for long fills it, and further tasks are left to the sweep.
PUBLISH_QUEUE_SIZE = 1000

_lock = threading.Lock()
_producers: dict[str, pools.ProducerPool] = {}  # broker URL -> pool of producers


class _Publisher:
    """One daemon thread per process, started on first use, publishing what it is handed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: queue.Queue[tuple[str, tuple]] = queue.Queue(maxsize=PUBLISH_QUEUE_SIZE)
        self.thread: threading.Thread | None = None
        self.overflowing = False

    def hand(self, name: str, args: tuple) -> bool:
        """Leave the task to the thread; False (logged once per overflow) if the queue is
        full."""
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(
                        target=self._run, name="celery-publisher", daemon=True
                    )
                    self.thread.start()
        try:
            self.tasks.put_nowait((name, args))
        except queue.Full:
            if not self.overflowing:
                self.overflowing = True
                logger.warning(
                    "%d tasks waiting to be published: %s%r and further ones are left to the sweep",
                    PUBLISH_QUEUE_SIZE,
                    name,
                    args,
                )
            return False
        self.overflowing = False
        return True

    def _run(self) -> None:
        while True:
            name, args = self.tasks.get()
            try:
                _send_unless_paused(name, *args)
            except Exception:  # never let one task stop the thread (its row waits for the sweep)
                logger.exception("publishing %s%r", name, args)
            finally:
                self.tasks.task_done()

    def flush(self, timeout: float) -> bool:
        """Wait until every task handed so far is published (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self.tasks.all_tasks_done:
            while self.tasks.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.tasks.all_tasks_done.wait(remaining)
        return True


_publisher = _Publisher()


def _after_fork() -> None:
    """A forked process (a prefork pool child, a preloaded web worker) opens its own
    connections and starts its own publisher (what the parent had not published yet is the
    parent's, and the sweep's if the parent never does)."""
    global _lock, _publisher
    _lock = threading.Lock()
    _producers.clear()
    _publisher = _Publisher()


os.register_at_fork(after_in_child=_after_fork)


def _producer_pool() -> pools.ProducerPool | None:
    """Producers on short-timeout connections to the app's broker (None: use the app's own,
    for brokers other than Redis)."""
    url = app.conf.broker_write_url or app.conf.broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    with _lock:
        if url not in _producers:
            connection = app.connection_for_write(transport_options=PUBLISH_TRANSPORT_OPTIONS)
            _producers[url] = pools.producers[connection]
        return _producers[url]


def send_now(name: str, *args) -> bool:
    """Queue task ``name`` now; False (logged) if the broker cannot be reached."""
    try:
        producers = _producer_pool()
        if producers is None:
            app.send_task(name, args=args)
        else:
            with producers.acquire(block=True, timeout=1) as producer:
                app.send_task(name, args=args, producer=producer)
    except Exception as error:  # kombu/redis connection errors: the caller's work is committed
        broker_pause.failed(error, f"queueing {name}{args!r}")
        return False
    broker_pause.end()
    return True


def _send_unless_paused(name: str, *args) -> bool:
    if broker_pause.active():
        return False
    return send_now(name, *args)


def publish_in_background(name: str, *args) -> bool:
    """Hand task ``name`` to this process's publisher thread, unless the broker failed a
    moment ago or the thread has too much to do (False: the task's outbox row is found by the
    sweep). Returns at once: publishing (``send_now``) happens on the thread."""
    if broker_pause.active():
        return False
    return _publisher.hand(name, args)


def send_after_commit(name: str, *args) -> None:
    """Queue task ``name`` once the current transaction commits (at once outside one), off the
    caller's thread (``publish_in_background``). Only for tasks whose work is also found by a
    sweep: one that is never published must not be lost."""
    transaction.on_commit(lambda: publish_in_background(name, *args))


def flush(timeout: float = 10.0) -> bool:
    """Wait until this process's publisher has published (or given up on) every task handed
    to it so far; False if it is still busy after ``timeout`` seconds."""
    return _publisher.flush(timeout)


# A worker or web process that exits normally publishes what it was handed (briefly: what
# it does not publish, the sweep sends).
atexit.register(lambda: flush(timeout=2.0))
