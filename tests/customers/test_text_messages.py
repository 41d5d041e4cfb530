"""SMS and WhatsApp through the HTTP backend, against a real HTTP server on loopback standing
in for the provider: the request it gets, the id it answers, and what its refusals do."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from customers.messaging import DeliveryError, HttpBackend
from customers.models import Notification
from customers.services import deliver_notification
from tests.support.web_helpers import place_at

pytest_plugins = ["tests.support.web_fixtures"]

TOKEN = "provider-token-0123456789"


class Provider(ThreadingHTTPServer):
    """Answers with ``self.status`` and keeps every request it got."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict, dict]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/messages"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((dict(self.headers), body))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        answer = {"id": f"msg-{len(self.server.received)}"} if self.server.status == 200 else {}
        self.wfile.write(json.dumps(answer).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def provider(settings):
    server = Provider()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.HttpBackend"
    settings.TEXT_MESSAGE_URL = server.url
    settings.TEXT_MESSAGE_TOKEN = TOKEN
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield server
    server.shutdown()
    server.server_close()


def test_the_provider_gets_the_text_the_number_and_our_key(provider):
    message_id = HttpBackend().send(
        channel="whatsapp", to="+34600111222", text="Hola", key="CC-1:order_ready"
    )

    assert message_id == "msg-1"
    [(headers, body)] = provider.received
    assert body == {
        "channel": "whatsapp",
        "to": "+34600111222",
        "text": "Hola",
        "idempotency_key": "CC-1:order_ready",
    }
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Idempotency-Key"] == "CC-1:order_ready"


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (422, True), (503, False)])
def test_refusals_are_permanent_or_retried(provider, status, permanent):
    provider.status = status

    with pytest.raises(DeliveryError) as error:
        HttpBackend().send(channel="sms", to="+34600111222", text="Hola", key="k")

    assert error.value.permanent is permanent


def test_an_unreachable_provider_is_retried(settings):
    settings.TEXT_MESSAGE_URL = "http://127.0.0.1:9/messages"  # nothing listens there

    with pytest.raises(DeliveryError) as error:
        HttpBackend().send(channel="sms", to="+34600111222", text="Hola", key="k")

    assert error.value.permanent is False


def confirmation(shop, channels):
    order = place_at(shop.store, (shop.lamp, 1))
    customer = order.customer
    customer.preferred_channels = channels
    customer.phone = "+34600111222"
    customer.save()
    return Notification.objects.get(order_number=order.number, kind="order_confirmed")


def test_a_confirmation_goes_by_sms_through_the_provider(shop, provider):
    note = confirmation(shop, ["sms", "email"])

    assert deliver_notification(notification_id=note.pk) == "sent"

    note.refresh_from_db()
    assert (note.channel, note.provider_id, note.status) == ("sms", "msg-1", "sent")
    [(_headers, body)] = provider.received
    assert body["channel"] == "sms"
    assert note.order_number in body["text"]
    assert mail.outbox == []


def test_a_number_the_provider_refuses_falls_back_to_the_next_channel(shop, provider):
    provider.status = 400
    note = confirmation(shop, ["whatsapp", "email"])

    assert deliver_notification(notification_id=note.pk) == "fallback"
    note.refresh_from_db()
    assert (note.status, note.channel) == ("pending", "email")
    assert deliver_notification(notification_id=note.pk) == "sent"

    note.refresh_from_db()
    assert (note.status, note.channel, note.attempts) == ("sent", "email", 2)
    assert len(mail.outbox) == 1
    assert len(provider.received) == 1
