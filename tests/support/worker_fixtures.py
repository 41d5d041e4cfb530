"""Fixtures for tests that send messages through real components (a Celery worker, an SMTP
server on loopback). A module loads them with ``pytest_plugins = ["tests.support.web_fixtures",
"tests.support.worker_fixtures"]``."""

import pytest

from core import tasks
from stores.models import StockLevel, Store
from tests.support.celery_worker import purge
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, and Django's SMTP backend pointed at it."""
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.TEXT_MESSAGE_BACKEND = ""  # email only
    yield server
    server.stop()


@pytest.fixture
def big_shop(shop):
    """The ``shop`` with room for many orders: 1000 lamps, 100 orders per pickup slot."""
    Store.objects.filter(pk=shop.store.pk).update(slot_capacity=100)
    StockLevel.objects.filter(store=shop.store, variant=shop.lamp).update(on_hand=1000)
    shop.store.refresh_from_db()
    return shop


@pytest.fixture
def empty_queue():
    """Tasks other tests queued on the shared test broker are not ours."""
    tasks.flush()
    purge()
    yield
    tasks.flush()
    purge()


def per_recipient(messages) -> dict[str, int]:
    """How many of ``messages`` each address received."""
    counts: dict[str, int] = {}
    for message in messages:
        for to in message.to:
            counts[to] = counts.get(to, 0) + 1
    return counts
