"""Fail fast, and say how to fix it, when the test suite's PostgreSQL or Redis is not there.

Reads DATABASE_URL and REDIS_URL (the Makefile gives local defaults) and exits 2 when either
does not answer within a few seconds, instead of letting pytest hang or fail hundreds of tests
with the same connection error.
"""

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

TIMEOUT = 3


def say(message: str) -> None:
    print(message, file=sys.stderr)


def shown(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_postgres(url: str) -> str | None:
    try:
        # The maintenance database: the test database itself is created by the test run.
        with psycopg.connect(url, dbname="postgres", connect_timeout=TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def check_redis(url: str) -> str | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return str(exc).strip()
    return None


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        say(f"The tests run on PostgreSQL, but DATABASE_URL is {shown(database_url)!r}.")
        say("Set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DBNAME and run again.")
        return 2
    checks = [
        (
            "PostgreSQL",
            database_url,
            check_postgres,
            "DATABASE_URL=postgres://USER@HOST:PORT/DBNAME",
        ),
        ("Redis", redis_url, check_redis, "REDIS_URL=redis://HOST:PORT/DB"),
    ]
    status = 0
    for name, url, check, example in checks:
        error = check(url) if url else "no URL given"
        if error:
            say(f"{name} is not reachable at {shown(url) or '(unset)'}: {error}")
            say(f"  Start it, or point the tests at another one: {example} make test")
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
