"""Stores as checkouts read them (the row, its opening hours, its closures from yesterday on),
kept in the shared cache so a checkout does not read them from the database each time.

Every cached store carries the version it was read under; any change to a store, its hours or
its closures sets a new version (at once, and again once the change commits), so a copy read
before the change is never used after it. Entries also expire after ``SECONDS``: a change made
without the model's save or delete (a queryset ``update``, a ``bulk_create``) shows within
that time. The cache can be down: reads then go to the database, nothing fails.
"""

import hashlib
import uuid

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from core.counters import cache_pause

SECONDS = 300
VERSION_KEY = "stores:version"


def _entry_key(code: str, day) -> str:
    digest = hashlib.blake2s(code.encode(), digest_size=12).hexdigest()
    return f"stores:active:{digest}:{day.isoformat()}"


def read(code: str, day) -> tuple[str | None, object]:
    """(the current version, the store cached under it or None). The version is None when the
    cache cannot be reached (do not write back then)."""
    if cache_pause.active():
        return None, None
    key = _entry_key(code, day)
    try:
        found = cache.get_many([VERSION_KEY, key])
        version = found.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            return cache.get(VERSION_KEY), None
    except (RedisError, OSError) as error:
        cache_pause.failed(error, "reading a store")
        return None, None
    entry = found.get(key)
    if entry is not None and entry[0] == version:
        return version, entry[1]
    return version, None


def write(code: str, day, version: str, store) -> None:
    """Keep ``store`` (read from the database after ``version`` was) under that version."""
    try:
        cache.set(_entry_key(code, day), (version, store), timeout=SECONDS)
    except (RedisError, OSError) as error:
        cache_pause.failed(error, "caching a store")


def _new_version() -> None:
    if cache_pause.active():
        return
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except (RedisError, OSError) as error:
        cache_pause.failed(error, "invalidating the cached stores")


def forget(**kwargs) -> None:
    """A store, its hours or its closures changed: no cached copy is used any more (a copy
    read while the change was not committed yet is dropped by the second new version)."""
    _new_version()
    transaction.on_commit(_new_version)
