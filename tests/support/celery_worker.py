"""Real Celery workers for the tests: one in a thread of the test process (solo pool) and one
as a child process (prefork pool, ``celery -A config worker``) whose pool children a test can
``kill -9``. Both consume the broker of ``config.celery.app`` (the test's REDIS_URL unless a
test points the app elsewhere with ``broker_at``)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from celery import signals
from celery.contrib.testing.worker import start_worker
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
DELIVER = "customers.tasks.deliver_notification"


def purge() -> int:
    """Drop every task waiting in the default queue (a lost message); how many there were."""
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(app.conf.task_default_queue) or 0


def _reset_producers() -> None:
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str):
    """Point the app (publishing and any worker started inside) at the broker ``url``."""
    before = app.conf.broker_url
    _reset_producers()
    app.conf.broker_url = url
    try:
        yield
    finally:
        _reset_producers()
        app.conf.broker_url = before


_finished: Counter[str] = Counter()


@signals.task_postrun.connect(weak=False)
def _count_finished(sender=None, **kwargs):
    _finished[sender.name] += 1


def processed(name: str = DELIVER) -> int:
    """Tasks called ``name`` finished in this process so far (by the in-process worker)."""
    return _finished[name]


def wait_processed(count: int, name: str = DELIVER, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while processed(name) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker ran {processed(name)} of {count} {name} tasks")
        time.sleep(0.01)


@contextmanager
def thread_worker():
    """A worker on a thread of this process (solo pool: one task at a time, in that thread)."""
    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=20.0,
        loglevel="WARNING",
    ) as worker:
        yield worker


def test_database_url() -> str:
    """The URL of the database pytest-django created for this session."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


class WorkerProcess:
    """``celery -A config worker --pool=prefork -c N`` on the test database and broker."""

    def __init__(self, *, concurrency: int = 1, **env: str) -> None:
        self.concurrency = concurrency
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": app.conf.broker_url,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "WorkerProcess":
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and project
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=kill-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.output()}")
            if " ready." in self.output() and len(self.children()) == self.concurrency:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the worker was not ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def children(self) -> list[int]:
        """The pids of the pool's live child processes (``ps --ppid``, zombies left out)."""
        assert self.process is not None
        found = subprocess.run(  # noqa: S603
            ["ps", "-o", "pid=,stat=", "--ppid", str(self.process.pid)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        rows = [line.split() for line in found.stdout.splitlines() if line.strip()]
        return [int(pid) for pid, stat in rows if not stat.startswith("Z")]

    def kill_children(self) -> list[int]:
        """``kill -9`` every live child of the pool; their pids."""
        pids = self.children()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # warm shutdown: the running task finishes first
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        self.log.close()
