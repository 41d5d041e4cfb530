"""Queueing Celery work from the web and services: after the transaction commits, and never
failing the request when the broker is down (what was queued is found again by a sweep).

Publishing uses connections of its own with short socket timeouts. A broker that refuses
connections fails fast anyway; one that accepts them and never answers (a hung Redis, a
network path that drops packets) would otherwise hold the request for the workers' socket
timeout on every try of the publish retry policy (5 to 20 s with their 5 s). Redis answers a
push in well under a millisecond: half a second only cuts off a broker that is gone.
"""

import logging
import os
import threading

from django.db import transaction
from kombu import pools

from config.celery import app

logger = logging.getLogger(__name__)

# Redis client options for the publishing connections only (workers keep the app's).
PUBLISH_TRANSPORT_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}

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
    except Exception:  # kombu/redis connection errors: the caller's work is already committed
        logger.warning("could not queue %s%r: the broker is unreachable", name, args)
        return False
    return True


def send_after_commit(name: str, *args) -> None:
    """Queue task ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(name, *args))
