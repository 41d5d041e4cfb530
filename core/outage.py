"""Leaving an unreachable service alone for a moment.

When Redis (the cache and the Celery broker) is down, every request that touches it would pay
for the failed attempt: a refused connection is quick, but a Redis that accepts connections and
never answers costs a socket timeout each time. A ``Pause`` remembers the failure: for
``seconds`` after it the callers skip the service (and fall back: count nothing, leave the
message to the outbox sweep), and the failure is logged once per pause instead of once per
request. Each process keeps its own.
"""

import logging
import threading
import time

logger = logging.getLogger(__name__)


class Pause:
    def __init__(self, service: str, *, seconds: float = 5.0) -> None:
        self.service = service
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until = 0.0

    def active(self) -> bool:
        """True while the service is being left alone."""
        return time.monotonic() < self._until

    def failed(self, error: Exception, doing: str) -> None:
        """The service did not answer while ``doing`` something: leave it alone for a while."""
        with self._lock:
            first = not self.active()
            self._until = time.monotonic() + self.seconds
        if first:
            logger.warning(
                "%s unreachable (%s) while %s: skipped for %.0f s",
                self.service,
                error.__class__.__name__,
                doing,
                self.seconds,
            )

    def end(self) -> None:
        """The service answered (or a test restarted it): use it again at once."""
        with self._lock:
            self._until = 0.0
