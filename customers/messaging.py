"""Delivering one message on one channel: email through Django's mail backend (real SMTP in
production), SMS and WhatsApp through one small backend interface — a console backend for the
demo and an HTTP backend for a real provider (URL and token from the environment).

A channel returns the provider's id for the message, or raises ``DeliveryError``; it writes
nothing to the database.
"""

import hashlib
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime
from email.mime.image import MIMEImage
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from core.qr import qr_png

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The channel could not deliver the message. ``permanent``: retrying will not help (a bad
    number, a rejected address); otherwise it is retried with back-off."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


# Context values stored as ISO strings that the templates show as local dates and times.
TIME_FIELDS = ("slot_start", "slot_end", "hold_until", "collected_at")


def render(kind: str, context: dict, language: str) -> dict[str, str]:
    """The message's subject, text and HTML, and its short form for SMS/WhatsApp, in
    ``language``, with times in the store's time zone (``context["timezone"]``)."""
    base = f"customers/messages/{kind}"
    context = {**context, "kind": kind, "site_url": settings.SITE_URL}
    for name in TIME_FIELDS:
        if isinstance(context.get(name), str):
            try:
                context[name] = datetime.fromisoformat(context[name])
            except ValueError:
                context.pop(name)
    zone = context.get("timezone") or settings.TIME_ZONE
    with translation.override(language or settings.LANGUAGE_CODE), timezone.override(zone):
        return {
            "subject": " ".join(render_to_string(f"{base}.subject.txt", context).split()),
            "text": render_to_string(f"{base}.txt", context).strip() + "\n",
            "html": render_to_string(f"{base}.html", context),
            "short": " ".join(render_to_string(f"{base}.short.txt", context).split()),
        }


def message_id(key: str) -> str:
    """The same Message-ID for every attempt at one message, so a mail system that gets it
    twice (a worker killed after the server accepted it) can tell it is one message."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = DNS_NAME.get_fqdn() if not settings.SITE_URL else urlsplit(settings.SITE_URL).hostname
    return f"<{digest}@{domain or 'localhost'}>"


def send_email(*, to: str, message: dict[str, str], qr_token: str = "", key: str = "") -> str:
    """HTML + text email; the pickup QR, when given, travels inline as a PNG. Returns the
    Message-ID."""
    headers = {"X-Omnicollect-Message": key, "Message-ID": message_id(key)} if key else None
    email = EmailMultiAlternatives(
        subject=message["subject"], body=message["text"], to=[to], headers=headers
    )
    email.attach_alternative(message["html"], "text/html")
    if qr_token:
        email.mixed_subtype = "related"
        image = MIMEImage(qr_png(qr_token), "png")
        image.add_header("Content-ID", "<pickup-qr>")
        image.add_header("Content-Disposition", "inline", filename="pickup-qr.png")
        email.attach(image)
    try:
        email.send()
    except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
        raise DeliveryError(f"email: {exc}") from exc
    return email.extra_headers.get("Message-ID", "")


class TextBackend(Protocol):
    def send(self, *, channel: str, to: str, text: str, key: str) -> str: ...


class ConsoleBackend:
    """Prints SMS and WhatsApp messages to the log (the demo)."""

    def send(self, *, channel: str, to: str, text: str, key: str) -> str:
        logger.warning("%s to %s: %s", channel.upper(), to, text)
        return f"console:{key}"


class HttpBackend:
    """POSTs ``{"channel", "to", "text", "idempotency_key"}`` as JSON to TEXT_MESSAGE_URL with
    ``Authorization: Bearer TEXT_MESSAGE_TOKEN``; the provider answers ``{"id": …}``. A 4xx
    answer is permanent (bad number, refused), anything else is retried."""

    def send(self, *, channel: str, to: str, text: str, key: str) -> str:
        body = json.dumps(
            {"channel": channel, "to": to, "text": text, "idempotency_key": key}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the provider's https URL from settings
            settings.TEXT_MESSAGE_URL,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.TEXT_MESSAGE_TOKEN}",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{channel}: HTTP {exc.code}", permanent=exc.code < 500) from exc
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"{channel}: {exc}") from exc
        return str(answer.get("id") or "")


def text_backend() -> TextBackend:
    return import_string(settings.TEXT_MESSAGE_BACKEND)()


def available_channels() -> frozenset[str]:
    """Channels we can send on: email always; SMS and WhatsApp when a backend is set."""
    channels = {"email"}
    if settings.TEXT_MESSAGE_BACKEND:
        channels |= {"sms", "whatsapp"}
    return frozenset(channels)
