"""`make bench`: a fresh ``omni_bench`` database, migrated and seeded; the app under gunicorn
(production settings, loopback, throttles raised for the run) and a Celery worker; each part's
rows in order within its time budget; one table printed and ``bench/results.json`` written;
everything started is stopped again. Ends by itself within 15 minutes.

    .venv/bin/python -m bench            # what `make bench` runs
    BENCH_PARTS=pages .venv/bin/python -m bench   # only some parts
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from bench import db, processes
from bench.harness import Context, Row, machine_load, print_table, write_results

TOTAL_SECONDS = 15 * 60

# (module, seconds it may take): run in this order, within 15 minutes from a fresh clone (the
# set-up of the bench database takes about 30 s). On the first run the peer installs Oscar into
# var/bench/ and bigdata writes its 1,000,000 orders (kept until the schema changes); a part
# that ends early leaves its time to the next ones, and the last ones get what is left.
PARTS = [
    ("pages", 130),
    ("checkout", 170),
    ("rss", 40),
    ("email", 130),
    ("peer", 170),
    ("bigdata", 240),
]


def _flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def _watchdog(ctx: Context, stop_all, rows: list[Row], meta: dict) -> None:
    """The run ends within TOTAL_SECONDS whatever a part does."""
    time.sleep(max(0.0, ctx.deadline - time.monotonic()) + 20)
    ctx.log("time is up: stopping")
    stop_all()
    meta["aborted"] = "ran past 15 minutes"
    print_table(rows)
    write_results(rows, meta)
    os._exit(3)


def main() -> int:
    python = sys.executable
    database = os.environ.get("BENCH_DATABASE", "omni_bench")
    big_database = os.environ.get("BENCH_BIG_DATABASE", "omni_bench_big")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    only = [p for p in os.environ.get("BENCH_PARTS", "").split(",") if p]
    tmp = Path(tempfile.mkdtemp(prefix="omni-bench-"))
    env = processes.app_env(
        dsn=db.conninfo(database), redis_url=redis_url, secret_key=processes.throwaway_key()
    )
    port = processes.free_port()
    ctx = Context(
        base_url=f"http://127.0.0.1:{port}",
        dsn=db.conninfo(database),
        big_dsn=db.conninfo(big_database),
        redis_url=redis_url,
        python=python,
        tmp=tmp,
        env=env,
        log_file=tmp / "bench.log",
    )
    ctx.deadline = ctx.started + TOTAL_SECONDS - 60
    started: list = []
    rows: list[Row] = []
    meta: dict = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_before": machine_load(),
        "database": database,
        "parts": {},
    }

    def stop_all():
        for proc in reversed(started):
            processes.stop(proc)

    threading.Thread(target=_watchdog, args=(ctx, stop_all, rows, meta), daemon=True).start()
    try:
        ctx.log(f"fresh database {database}, work folder {tmp}")
        db.recreate(database)
        _flush_redis(redis_url)
        processes.setup_app(python, env, ctx.log)
        db.create_baseline_tables(ctx.dsn)

        os.environ.update(env)
        import django

        django.setup()
        from bench import data

        data.roomy_slots()

        workers, threads = 4, 4
        gunicorn = processes.gunicorn(
            python, env, port, tmp / "gunicorn.log", workers=workers, threads=threads
        )
        started.append(gunicorn)
        ctx.pids["gunicorn"] = [gunicorn.pid]
        processes.wait_http(f"{ctx.base_url}/_bench/json/", gunicorn)
        celery = processes.celery_worker(python, env, tmp / "celery.log")
        started.append(celery)
        ctx.pids["celery"] = [celery.pid]
        meta["server"] = (
            f"gunicorn gthread, {workers} workers x {threads} threads, 127.0.0.1:{port}"
        )
        ctx.log(meta["server"])

        for name, budget in PARTS:
            if only and name not in only:
                continue
            try:
                module = importlib.import_module(f"bench.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"bench.{name}":
                    raise
                ctx.log(f"part {name}: not present, skipped")
                continue
            if ctx.remaining() < 30:
                ctx.log(f"part {name}: skipped, out of time")
                rows.append(Row(name, None, None, "", None, "", None, "skipped: out of time"))
                continue
            part_start = time.monotonic()
            load = machine_load()
            ctx.log(f"part {name}: start (budget {budget}s)")
            ctx.part_deadline = part_start + min(budget, ctx.remaining())
            try:
                got = module.rows(ctx)
            except Exception as exc:
                traceback.print_exc()
                got = [Row(name, None, None, "", None, "", None, f"failed: {exc!r}")]
            rows.extend(got)
            took = time.monotonic() - part_start
            meta["parts"][name] = {
                "seconds": round(took, 1),
                "budget": budget,
                "load_before": load,
                "load_after": machine_load(),
            }
            ctx.log(f"part {name}: {len(got)} rows in {took:.0f}s")
    finally:
        stop_all()
        meta["load_after"] = machine_load()
        meta["seconds"] = round(time.monotonic() - ctx.started, 1)
    print()
    print_table(rows)
    path = write_results(rows, meta)
    print(
        f"\nload average {meta['load_before']['loadavg']} -> {meta['load_after']['loadavg']} "
        f"on {meta['load_before']['cpus']} CPUs; {meta['seconds']:.0f}s; written to {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
