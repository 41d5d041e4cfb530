"""Serving the app as production would, for the bench's parts that need a database of their own:
``prepare`` (migrate + demo data), ``Gunicorn`` (bench.settings on loopback), ``CeleryWorker``,
``logins`` (a session cookie and an API token per demo login) and ``wrk``.

``python -m bench.serving logins EMAIL…`` (run with DJANGO_SETTINGS_MODULE and DATABASE_URL of
the database) prints ``{email: {"session": key, "token": token}}``.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-only-not-secret-4f1c9e2a7b3d5e6f8a0b1c2d3e4f5a6b7c8d9e0f"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(dsn: str) -> str:
    """``postgres://`` URL of a psycopg conninfo (``host=… dbname=…``) or URL."""
    if "://" in dsn:
        return dsn
    parts = dict(item.split("=", 1) for item in dsn.split())
    user = parts.get("user", "postgres")
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    return f"postgres://{user}@{host}:{port}/{parts['dbname']}"


def app_env(*, dsn: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production process of the app on ``dsn``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url(dsn),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Behind a load balancer that ends TLS: requests come with X-Forwarded-Proto: https.
        "DJANGO_BEHIND_PROXY": "1",
        "OMNICOLLECT_VAR_DIR": str(var_dir),
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


# Every request of the bench says it came through the TLS-ending load balancer.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def manage(python: str, env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603 - our interpreter, our project
        [python, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def prepare(*, python: str, dsn: str, redis_url: str, var_dir: Path) -> None:
    """Create the database if missing, migrate it, write the demo data and collect static
    files (production settings serve them from the manifest)."""
    import psycopg

    url = database_url(dsn)
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    env = app_env(dsn=dsn, redis_url=redis_url, var_dir=var_dir)
    manage(python, env, "migrate", "-v0")
    manage(python, env, "seed_demo", "-v0")
    if not (var_dir / "static" / "staticfiles.json").exists():
        manage(python, env, "collectstatic", "--noinput", "-v0")


class Process:
    """A child process with its output in a log file, stopped by its own pid."""

    def __init__(self, args: list[str], env: dict, name: str) -> None:
        self.args = args
        self.env = env
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Gunicorn(Process):
    """gunicorn serving bench.settings on 127.0.0.1 (sync workers, one per core)."""

    def __init__(self, *, python: str, env: dict, workers: int | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        workers = workers or os.cpu_count() or 2
        super().__init__(
            [
                python,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={workers}",
                "--worker-class=sync",
                "--timeout=60",
                "--log-level=warning",
            ],
            env,
            "gunicorn",
        )

    def start(self, timeout: float = 30.0) -> "Gunicorn":
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.output()}")
            try:
                url = self.base_url + "/"
                request = urllib.request.Request(url, headers=PROXY_HEADERS)  # noqa: S310
                with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - loopback
                    return self
            except urllib.error.HTTPError:
                return self  # it answers (the project has no health page)
            except OSError:
                time.sleep(0.2)
        output = self.output()
        self.stop()
        raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{output}")


class CeleryWorker(Process):
    """``celery -A config worker`` (prefork) on the app's broker."""

    def __init__(self, *, python: str, env: dict, concurrency: int = 2) -> None:
        self.concurrency = concurrency
        super().__init__(
            [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=bench-{os.getpid()}@%h",
            ],
            env,
            "celery",
        )

    def start(self, timeout: float = 40.0) -> "CeleryWorker":
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the Celery worker exited:\n{self.output()}")
            if " ready." in self.output():
                return self
            time.sleep(0.2)
        output = self.output()
        self.stop()
        raise RuntimeError(f"the Celery worker was not ready in {timeout} s:\n{output}")


def logins(*, python: str, env: dict, emails: list[str]) -> dict[str, dict[str, str]]:
    """A fresh session key and API token for each login (in a process on that database)."""
    found = subprocess.run(  # noqa: S603
        [python, "-m", "bench.serving", "logins", *emails],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(found.stdout.strip().splitlines()[-1])


def _print_logins(emails: list[str]) -> None:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from knox.models import AuthToken

    from customers.models import User

    found = {}
    for email in emails:
        user = User.objects.get(email=email)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        _token, token = AuthToken.objects.create(user=user)
        found[email] = {"session": session.session_key, "token": token}
    print(json.dumps(found))


# --- wrk --------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(
    url: str, *, headers: dict[str, str], seconds: float, connections: int = 1
) -> dict[str, float]:
    """``wrk`` on ``url`` for ``seconds``: {"p50_ms", "p99_ms", "rps", "requests", "errors"}."""
    args = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout=10s",
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(  # noqa: S603
        [*args, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (p50 and rps and total):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return {
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "errors": int(bad.group(1) if bad else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["logins"]:
        _print_logins(sys.argv[2:])
    else:
        sys.exit("usage: python -m bench.serving logins EMAIL…")
