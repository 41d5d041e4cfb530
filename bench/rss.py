"""Peak resident memory (VmHWM) of the processes that served the run, against the same app
imported by a bare Python process that serves nothing; and the gunicorn worker model, measured:
gthread (the run's) against sync on the catalogue."""

from __future__ import annotations

import subprocess
import time

from bench import processes
from bench.harness import (
    Context,
    Row,
    children_of,
    interleave_all,
    median,
    peak_rss_kib,
    ratio,
    wrk,
)

SETUP_ONLY = (
    "import django, pathlib; django.setup(); "
    "from django.urls import resolve; import config.wsgi; resolve('/'); "
    "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() "
    "if l.startswith('VmHWM')][0].split()[1])"
)


def _bare_app_kib(ctx: Context) -> int:
    out = subprocess.run(
        [ctx.python, "-c", SETUP_ONLY],
        env=ctx.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=processes.ROOT,
    )
    return int(out.stdout.strip().splitlines()[-1])


def _peak(pids: list[int]) -> tuple[int | None, int]:
    values = [v for v in (peak_rss_kib(p) for p in pids) if v is not None]
    return (max(values) if values else None), len(values)


def rows(ctx: Context) -> list[Row]:
    bare = _bare_app_kib(ctx)
    out = []
    for name, master in [("gunicorn", ctx.pids["gunicorn"][0]), ("celery", ctx.pids["celery"][0])]:
        kids = children_of(master)
        peak, n = _peak(kids or [master])
        master_peak = peak_rss_kib(master)
        fig = peak / 1024 if peak else None
        out.append(
            Row(
                f"peak RSS {name} worker",
                fig,
                bare / 1024,
                "MiB",
                ratio(fig, bare / 1024),
                "-",
                None,
                f"largest VmHWM of {n} {name} worker processes after every load of the run "
                f"(master {master_peak and round(master_peak / 1024)} MiB); baseline: a python "
                "process that sets up Django and imports the app, serving nothing",
            )
        )
    if ctx.part_remaining() < 30:
        return out
    port = processes.free_port()
    sync = processes.gunicorn(
        ctx.python, ctx.env, port, ctx.tmp / "gunicorn-sync.log", worker_class="sync", workers=5
    )
    try:
        processes.wait_http(f"http://127.0.0.1:{port}/_bench/json/")
        time.sleep(1)
        url = "/api/v1/products/"
        gthread_runs, sync_runs = interleave_all(
            [
                lambda: wrk(ctx.base_url + url, seconds=2, connections=16).requests_per_s,
                lambda: (
                    wrk(f"http://127.0.0.1:{port}{url}", seconds=2, connections=16).requests_per_s
                ),
            ],
            rounds=3,
        )
        sync_peak, _ = _peak(children_of(sync.pid))
    finally:
        processes.stop(sync)
    g, s = median(gthread_runs), median(sync_runs)
    out.append(
        Row(
            "worker model gthread vs sync",
            g,
            s,
            "req/s",
            ratio(g, s),
            "-",
            None,
            f"{url}, 16 connections: gthread 4 workers x 4 threads (keep-alive) "
            f"{[round(x) for x in gthread_runs]} vs sync 5 workers (a connection per request) "
            f"{[round(x) for x in sync_runs]} req/s; sync worker peak RSS "
            f"{sync_peak and round(sync_peak / 1024)} MiB",
        )
    )
    return out
