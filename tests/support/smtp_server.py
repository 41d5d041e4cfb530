"""A real SMTP server on loopback (aiosmtpd, in a thread of the test process) that keeps what it
receives, so a test can count the emails that really went over the wire.

``hold`` makes the first attempt for a recipient stop at one step of the SMTP dialogue until
the test releases it (the test kills the sender meanwhile):

- ``"rcpt"``: before the server answers RCPT TO — the message is not received yet;
- ``"data"``: after the whole message has been received and kept, before the server answers
  250 — the server has the message but the sender never hears so.
"""

import asyncio
import email
import email.policy
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from tests.support.localstripe_server import free_port

# aiosmtpd logs every connection at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    to: tuple[str, ...]
    message: email.message.EmailMessage
    at: float  # time.monotonic() when the server had the whole message

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def key(self) -> str:
        return self.message["X-Omnicollect-Message"] or ""


@dataclass
class Hold:
    """A dialogue stopped at ``step`` for ``recipient`` until ``release`` is set."""

    recipient: str
    step: str
    release: threading.Event = field(default_factory=threading.Event)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def _maybe_hold(self, recipient: str, step: str) -> None:
        server = self.server
        with server.lock:
            if server.hold.get(recipient) != step or recipient in server.held:
                return
            hold = Hold(recipient, step)
            server.held[recipient] = hold
        server.holds.put(hold)
        deadline = time.monotonic() + 30
        while not hold.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._maybe_hold(address, "rcpt")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        received = Received(tuple(envelope.rcpt_tos), message, time.monotonic())
        with self.server.lock:
            self.server.received.append(received)
            self.server.arrived.notify_all()
        for recipient in envelope.rcpt_tos:
            await self._maybe_hold(recipient, "data")
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on 127.0.0.1:``port``; ``received`` is every message it kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.received: list[Received] = []
        self.hold: dict[str, str] = {}  # recipient -> "rcpt" | "data" (first attempt only)
        self.held: dict[str, Hold] = {}
        self.holds: queue.Queue[Hold] = queue.Queue()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        for hold in list(self.held.values()):
            hold.release.set()
        self._controller.stop()

    def next_hold(self, timeout: float = 20.0) -> Hold:
        """The next dialogue that stopped at its hold."""
        try:
            return self.holds.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no SMTP dialogue reached a hold in {timeout} s") from None

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived; all that arrived by then."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(
                    f"{len(self.received)} of {count} emails arrived in {timeout} s"
                )
            return list(self.received)
