"""The processes the bench starts and stops again by their ids: the environment of the app's
processes, ``manage.py`` commands (migrate, seed, collectstatic), gunicorn (the app's, or
Oscar's from its own virtualenv), a Celery worker, and the demo logins' sessions and tokens
on a database other than the runner's."""

from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench import db

ROOT = Path(__file__).resolve().parent.parent
# Kept between runs (git-ignored): Oscar's virtualenv and project, the collected static files.
VAR = ROOT / "var" / "bench"
APP_VAR = VAR / "omni"
STATIC_STAMP = APP_VAR / "static-packages.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_db(redis_url: str, number: int) -> str:
    """``redis_url`` with its database number replaced by ``number``."""
    base, _, last = redis_url.rstrip("/").rpartition("/")
    if not last.isdigit():
        base = redis_url.rstrip("/")
    return f"{base}/{number % 16}"


def redis_number(redis_url: str) -> int:
    last = redis_url.rstrip("/").rpartition("/")[2]
    return int(last) if last.isdigit() else 0


def app_env(*, dsn: str, redis_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of a production process of the app on the database ``dsn``: DEBUG off,
    the production settings plus the bench's bare views (bench.settings), plain HTTP on
    loopback (a proxy would end TLS), the rate limits raised for the run only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    for name in ("EMAIL_HOST", "EMAIL_PORT", "STRIPE_SECRET_KEY", "STRIPE_API_BASE"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": db.url_of(dsn),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "DJANGO_CACHE_PREFIX": f"omnibench-{db.name_of(dsn)}",
            # A throwaway key for this run (shared by every process of the run: sessions).
            "DJANGO_SECRET_KEY": secret_key,
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "API_RATE_LIMITS_SCALE": "1000000",
            "AXES_FAILURE_LIMIT": "1000000",
            "OMNICOLLECT_VAR_DIR": str(APP_VAR),
            "DJANGO_LOG_LEVEL": "WARNING",
            "SITE_URL": "http://127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def throwaway_key() -> str:
    return secrets.token_urlsafe(50)


# --- manage.py ---------------------------------------------------------------------------------


def _installed_packages() -> str:
    return "\n".join(
        sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    )


def static_is_fresh() -> bool:
    """The collected files (and the manifest production settings need) are newer than the
    project's static files and were collected with the packages installed now."""
    manifest = APP_VAR / "static" / "staticfiles.json"
    if not manifest.exists() or not STATIC_STAMP.exists():
        return False
    if STATIC_STAMP.read_text(encoding="utf-8") != _installed_packages():
        return False
    sources = [ROOT / "static", *ROOT.glob("*/static")]
    newest = max(
        (f.stat().st_mtime for d in sources for f in d.rglob("*") if f.is_file()), default=0.0
    )
    return manifest.stat().st_mtime > newest


def static_collected() -> None:
    STATIC_STAMP.write_text(_installed_packages(), encoding="utf-8")


def setup_commands(python: str, *, collect_static: bool) -> list[list[str]]:
    """A bench database of the app made ready: migrated and seeded with the demo data (both
    idempotent), and the static files collected unless they are fresh."""
    manage = [python, str(ROOT / "manage.py")]
    commands = [[*manage, "migrate", "--noinput", "-v", "0"], [*manage, "seed_demo", "-v", "0"]]
    if collect_static:
        commands.append([*manage, "collectstatic", "--noinput", "-v", "0"])
    return commands


def run_all(commands: dict[str, tuple[list[list[str]], dict, Path]], log) -> dict[str, str]:
    """Run each named sequence of commands, the sequences side by side; return the last
    command's output of each."""
    outputs: dict[str, str] = {}
    running = {name: (list(cmds), env, cwd, None) for name, (cmds, env, cwd) in commands.items()}
    while running:
        for name, (cmds, env, cwd, proc) in list(running.items()):
            if proc is not None:
                if proc.poll() is None:
                    continue
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise RuntimeError(f"{name}: {' '.join(proc.args[-3:])} failed:\n{err[-3000:]}")
                outputs[name] = out
            if not cmds:
                del running[name]
                continue
            command = cmds.pop(0)
            log(f"{name}: {' '.join(Path(c).name if '/' in c else c for c in command[:4])}")
            proc = subprocess.Popen(  # noqa: S603 - our interpreters, our commands
                command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            running[name] = (cmds, env, cwd, proc)
        time.sleep(0.1)
    return outputs


def setup_app(python: str, env: dict, log) -> None:
    """Migrate and seed the database of ``env``, collecting static files when needed."""
    collect = not static_is_fresh()
    APP_VAR.mkdir(parents=True, exist_ok=True)
    run_all({"setup": (setup_commands(python, collect_static=collect), env, ROOT)}, log)
    if collect:
        static_collected()


def logins(python: str, env: dict, emails: list[str]) -> dict[str, dict[str, str]]:
    """A fresh session key and API token for each login on the database of ``env`` (in a
    process of its own: the runner's Django is on its own database)."""
    code = (
        "import django, json, sys; django.setup(); from bench import data; "
        "print(json.dumps(data.logins(sys.argv[1:])))"
    )
    found = subprocess.run(  # noqa: S603
        [python, "-c", code, *emails], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(found.stdout.strip().splitlines()[-1])


# --- servers -----------------------------------------------------------------------------------


def start(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    out = log.open("a")
    return subprocess.Popen(  # noqa: S603 - our interpreters
        cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def gunicorn(
    python: str,
    env: dict,
    port: int,
    log: Path,
    *,
    worker_class: str = "gthread",
    workers: int = 4,
    threads: int = 4,
    app: str = "config.wsgi:application",
    cwd: Path = ROOT,
) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:``port`` (the app, or with ``app``/``cwd``/``python`` another
    project such as Oscar's)."""
    cmd = [
        python,
        "-m",
        "gunicorn",
        app,
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
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    return start(cmd, env, log, cwd)


def celery_worker(
    python: str, env: dict, log: Path, concurrency: int = 2, timeout: float = 60
) -> subprocess.Popen:
    """``celery -A config worker`` (prefork) on the app's broker, once it says it is ready."""
    cmd = [
        python,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "prefork",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname",
        f"bench-{os.getpid()}-{log.stem}@%h",
    ]
    proc = start(cmd, env, log)
    deadline = time.monotonic() + timeout
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the Celery worker did not start; see {log}")
        time.sleep(0.2)
    return proc


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Until ``url`` answers 200 (or ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback)
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise RuntimeError(f"{url} answered {exc.code}") from exc
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


@contextmanager
def running(proc: subprocess.Popen, url: str | None = None):
    """``proc`` until the block ends (stopped however it ends), answering ``url`` first."""
    try:
        if url:
            wait_http(url, proc)
        yield proc
    finally:
        stop(proc)
