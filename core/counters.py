"""Attempt counters on the shared cache (Redis in production, INCR is atomic): rate limits,
wrong pickup codes, verification emails.

The cache is the same Redis as the Celery broker, and it can be down. A counter is a brake on
abuse, never a reason to refuse a shopper or a clerk: when the cache cannot be reached the
attempt is let through (it "fails open"), and for ``PAUSE`` seconds this process does not try
the cache again (core/outage.py), so a hung Redis costs one socket timeout, not one per
request. What must hold through an outage is kept in the database instead: login lockouts
(django-axes' database handler), each order's pickup-code lock, pickup verifications at the
counter.
"""

import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from core.outage import Pause

# Seconds to leave the cache alone after it failed to answer.
PAUSE = 5.0
cache_pause = Pause("cache", seconds=PAUSE)


def increment(key: str, *, timeout: int) -> int | None:
    """Add one to the counter ``key`` (created with ``timeout`` seconds to live); the new count,
    or None when the cache cannot be reached (nothing is counted)."""
    if cache_pause.active():
        return None
    try:
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, RedisCache):
            return _redis_increment(backend, key, timeout=timeout)
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1
    except (RedisError, OSError) as error:
        cache_pause.failed(error, f"counting {key}")
        return None


def _redis_increment(backend: RedisCache, key: str, *, timeout: int) -> int:
    """INCR and EXPIRE in one round trip (a MULTI/EXEC pipeline): the count starts at 1 on a
    missing key, and the key lives ``timeout`` seconds after its last attempt. The value is
    stored as Django's Redis cache stores an int, so ``cache.get`` reads it."""
    key = backend.make_and_validate_key(key)
    pipe = backend._cache.get_client(key, write=True).pipeline(transaction=True)
    count, _ = pipe.incr(key).expire(key, timeout).execute()
    return count


def current(key: str) -> int:
    """The counter's value (0 when it is not set, or the cache cannot be reached)."""
    if cache_pause.active():
        return 0
    try:
        return cache.get(key, 0)
    except (RedisError, OSError) as error:
        cache_pause.failed(error, f"reading {key}")
        return 0


def window_increment(
    name: str, *, window: int, now: float | None = None
) -> tuple[int | None, float]:
    """Count one attempt in the current fixed window of ``window`` seconds: ``(count or None,
    seconds until the window ends)``."""
    now = time.time() if now is None else now
    count = increment(f"{name}:{int(now // window)}", timeout=window + 1)
    return count, window - (now % window)


def reset() -> None:
    """Try the cache again at once (after a test restarts it)."""
    cache_pause.end()
