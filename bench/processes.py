"""The processes the bench starts (gunicorn, a Celery worker) and stops again, by their ids."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(python: str, env: dict, *args: str, log: Path) -> None:
    with log.open("a") as out:
        subprocess.run(
            [python, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=600,
        )


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = log.open("a")
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def gunicorn(
    python: str, env: dict, port: int, log: Path, *, worker_class="gthread", workers=4, threads=4
) -> subprocess.Popen:
    cmd = [
        python,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        worker_class,
        "--workers",
        str(workers),
        "--keep-alive",
        "30",
        "--backlog",
        "2048",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    return start(cmd, env, log)


def celery_worker(python: str, env: dict, log: Path, concurrency: int = 2) -> subprocess.Popen:
    cmd = [
        python,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "WARNING",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
    ]
    return start(cmd, env, log)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback)
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.3)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """TERM the process group we started (by its id), then KILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
