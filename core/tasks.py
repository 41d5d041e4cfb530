"""Queueing Celery work from the web and services: after the transaction commits, and never
failing the request when the broker is down (what was queued is found again by a sweep).

Publishing uses connections of its own with short socket timeouts. A broker that refuses
connections fails fast anyway; one that accepts them and never answers (a hung Redis, a
network path that drops packets) would otherwise hold the request for the workers' socket
timeout on every try of the publish retry policy (5 to 20 s with their 5 s). Redis answers a
push in well under a millisecond: half a second only cuts off a broker that is gone.
"""

import os
import threading

from celery import current_app as app
from django.db import transaction
from kombu import pools

from core.outage import Pause

# Redis client options for the publishing connections only (workers keep the app's).
PUBLISH_TRANSPORT_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}

# After a failed publish, requests leave the broker alone for a few seconds: their messages
# are in the outbox already, and the sweep (which always tries) sends them.
broker_pause = Pause("broker", seconds=5.0)

_lock = threading.Lock()
_producers: dict[str, pools.ProducerPool] = {}  # broker URL -> pool of producers


def _after_fork() -> None:
    """A forked process (a prefork pool child, a preloaded web worker) opens its own."""
    global _lock
    _lock = threading.Lock()
    _producers.clear()


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


def send_after_commit(name: str, *args) -> None:
    """Queue task ``name`` once the current transaction commits (at once outside one), unless
    the broker failed a moment ago (the task's outbox row is found by the sweep)."""
    transaction.on_commit(lambda: _send_unless_paused(name, *args))
