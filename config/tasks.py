"""Queueing Celery work from the web and services: after the transaction commits, and never
failing the request when the broker is down (what was queued is found again by a sweep)."""

import logging

from django.db import transaction

from config.celery import app

logger = logging.getLogger(__name__)


def send_now(name: str, *args) -> bool:
    """Queue task ``name`` now; False (logged) if the broker cannot be reached."""
    try:
        app.send_task(name, args=args)
    except Exception:  # kombu/redis connection errors: the caller's work is already committed
        logger.warning("could not queue %s%r: the broker is unreachable", name, args)
        return False
    return True


def send_after_commit(name: str, *args) -> None:
    """Queue task ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(name, *args))
