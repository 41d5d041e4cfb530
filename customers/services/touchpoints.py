"""The touchpoint record: the customer's timeline (DESIGN §1, rule 6).

Most touchpoints are written with the action they record. Views of a page (a product looked
at) are not an action: a row per page view would turn every read into a write. They are queued
in Redis instead (one RPUSH per view, no SQL) and written by ``flush_queued_touchpoints``, which
Celery beat runs every minute: the same interaction seen again before the flush is one row,
with ``views`` in its payload when there was more than one, timed at the first view. When Redis
is not the cache (the demo) or cannot be reached, the touchpoint is written at once instead
(it "fails open" to PostgreSQL): nothing is lost, it only costs the write it saves otherwise.
"""

import json
import logging
from datetime import datetime

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from redis.exceptions import RedisError

from core.counters import cache_pause
from customers.models import Channel, ContactChannel, Customer, Touchpoint

logger = logging.getLogger(__name__)

QUEUE_KEY = "touchpoints:queued"
# A flush takes this many queued views at a time; the queue keeps at most QUEUE_LIMIT (the
# newest) if no flush runs for a long while, so Redis cannot fill up with them.
FLUSH_BATCH = 1000
QUEUE_LIMIT = 200_000


def _check_channel(channel: str) -> None:
    if channel not in Channel.values and channel not in ContactChannel.values:
        raise ValueError(f"unknown channel {channel!r}")


def record_touchpoint(
    *,
    customer: Customer,
    channel: str,
    kind: str,
    payload: dict | None = None,
    created_at: datetime | None = None,
) -> Touchpoint:
    """The one way any app records an interaction on the customer's timeline: where the
    customer acted (web, mobile, store), or for a message the channel it went out on."""
    _check_channel(channel)
    return Touchpoint.objects.create(
        customer=customer,
        channel=channel,
        kind=kind,
        payload=payload or {},
        created_at=created_at or timezone.now(),
    )


def _queue():
    """(Redis client, key) of the queue of touchpoints to write; None when there is none."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache) or cache_pause.active():
        return None
    key = backend.make_key(QUEUE_KEY)
    return backend._cache.get_client(key, write=True), key  # noqa: SLF001 - the raw list ops


def queue_touchpoint(
    *, customer: Customer, channel: str, kind: str, payload: dict, now: datetime | None = None
) -> None:
    """Record a view on the timeline without a write on the request: queued in Redis until
    the next flush, or written at once when Redis is not there."""
    _check_channel(channel)
    now = now or timezone.now()
    queue = _queue()
    if queue is not None:
        client, key = queue
        entry = json.dumps(
            [customer.pk, channel, kind, payload, now.isoformat()], separators=(",", ":")
        )
        try:
            with client.pipeline(transaction=False) as pipe:
                pipe.rpush(key, entry)
                pipe.ltrim(key, -QUEUE_LIMIT, -1)
                pipe.execute()
            return
        except (RedisError, OSError) as error:
            cache_pause.failed(error, "queueing a touchpoint")
    record_touchpoint(
        customer=customer, channel=channel, kind=kind, payload=payload, created_at=now
    )


def _take(client, key) -> list[bytes]:
    """The oldest FLUSH_BATCH queued entries, removed from the queue in the same step."""
    with client.pipeline(transaction=True) as pipe:
        pipe.lrange(key, 0, FLUSH_BATCH - 1)
        pipe.ltrim(key, FLUSH_BATCH, -1)
        entries, _ = pipe.execute()
    return entries


def _rows(entries: list[bytes]) -> list[Touchpoint]:
    """One touchpoint per (customer, channel, kind, payload), at its first view, with the
    number of views when more than one; customers deleted meanwhile are left out."""
    grouped: dict[tuple, list] = {}
    for raw in entries:
        try:
            customer_id, channel, kind, payload, at = json.loads(raw)
            at = datetime.fromisoformat(at)
        except (TypeError, ValueError) as error:
            logger.warning("dropped a queued touchpoint that does not parse: %s", error)
            continue
        key = (customer_id, channel, kind, json.dumps(payload, sort_keys=True))
        if key in grouped:
            grouped[key][1] = min(grouped[key][1], at)
            grouped[key][2] += 1
        else:
            grouped[key] = [payload, at, 1]
    alive = set(
        Customer.objects.filter(pk__in={key[0] for key in grouped}).values_list("pk", flat=True)
    )
    return [
        Touchpoint(
            customer_id=customer_id,
            channel=channel,
            kind=kind,
            payload={**payload, "views": views} if views > 1 else payload,
            created_at=at,
        )
        for (customer_id, channel, kind, _), (payload, at, views) in grouped.items()
        if customer_id in alive
    ]


def flush_queued_touchpoints() -> int:
    """Write the queued views as touchpoints (see the module's note); how many rows it wrote.

    Safe to run twice at once: each batch leaves the queue atomically before it is written.
    Redis down: nothing to do now, the queue is flushed once it answers again.
    """
    queue = _queue()
    if queue is None:
        return 0
    client, key = queue
    written = 0
    while True:
        try:
            entries = _take(client, key)
        except (RedisError, OSError) as error:
            cache_pause.failed(error, "flushing touchpoints")
            return written
        if not entries:
            return written
        try:
            rows = _rows(entries)
            Touchpoint.objects.bulk_create(rows)
        except Exception:
            client.lpush(key, *reversed(entries))  # back in front, for the next flush
            raise
        written += len(rows)
        if len(entries) < FLUSH_BATCH:
            return written
