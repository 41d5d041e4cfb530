"""Every periodic task runs on both engines: SQLite (the demo, ``make run``) and PostgreSQL.

Each engine gets a fresh database in a separate process (``tests/support/periodic_tasks_run.py``),
with work for every task, and the whole beat schedule runs at the instants where that work is
due. A query SQLite cannot run (an interval multiplied in SQL once broke the reminders there)
fails the task, and the test with it.
"""

import json
import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connection

TASKS = sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())
NOTHING_DUE = {"pickup_reminder": 0, "hold_expiring": 0}


def _postgres_database(name: str) -> str:
    """A fresh, empty PostgreSQL database next to the test database; returns its URL."""
    db = connection.settings_dict
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"] or "postgres"
    with psycopg.connect(
        host=host, port=port, user=user, password=db["PASSWORD"] or None, dbname="postgres"
    ) as admin:
        admin.autocommit = True
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = user if not db["PASSWORD"] else f"{user}:{db['PASSWORD']}"
    return f"postgres://{auth}@{host}:{port}/{name}"


def _drop_postgres_database(name: str) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname="postgres",
    ) as admin:
        admin.autocommit = True
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request, tmp_path):
    if request.param == "sqlite":
        yield request.param, f"sqlite:///{tmp_path / 'demo.sqlite3'}"
        return
    name = f"{connection.settings_dict['NAME']}_periodic"
    url = _postgres_database(name)
    try:
        yield request.param, url
    finally:
        _drop_postgres_database(name)


def test_every_periodic_task_runs_and_does_its_work(engine_url, tmp_path):
    engine, url = engine_url
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # The embedded broker and a local cache, as in the demo: nothing reaches the Redis
        # that the rest of the suite uses.
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "safefs://",
        "OMNICOLLECT_VAR_DIR": str(tmp_path / "var"),
        # Online orders on; any call to the provider meets a closed port.
        "STRIPE_SECRET_KEY": "sk_test_periodic",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }

    run = subprocess.run(
        [sys.executable, "-m", "tests.support.periodic_tasks_run"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["engine"] == engine
    errors = {
        f"{label}: {task}": result["error"]
        for label, results in report["rounds"].items()
        for task, result in results.items()
        if isinstance(result, dict) and "error" in result
    }
    assert errors == {}
    assert all(sorted(results) == TASKS for results in report["rounds"].values())
    reminders = {
        label: results["orders.tasks.send_reminders"] for label, results in report["rounds"].items()
    }
    assert reminders == {
        "after the payment timeout": NOTHING_DUE,
        "before the slot": {"pickup_reminder": 1, "hold_expiring": 0},
        "before the hold ends": {"pickup_reminder": 0, "hold_expiring": 1},
        "after the hold ended": NOTHING_DUE,
    }
    expired = [results["orders.tasks.expire_holds"] for results in report["rounds"].values()]
    assert expired == [0, 0, 0, 1]
    unpaid = [results["orders.tasks.expire_unpaid_orders"] for results in report["rounds"].values()]
    assert unpaid == [1, 0, 0, 0]
    scenario = report["scenario"]
    assert scenario["unpaid_status"] == "pending_payment"
    assert report["orders"] == {scenario["ready"]: "expired", scenario["unpaid"]: "cancelled"}
    assert {"pickup_reminder", "hold_expiring", "order_expired"} <= set(report["messages"])
