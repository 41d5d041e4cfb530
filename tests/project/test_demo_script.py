"""`make run`'s script on a port of the newcomer's choosing: the server, the address printed,
the links in messages and the test Stripe server's webhook all follow ``PORT``.

The script runs in a scratch copy of the project (it writes ``db.sqlite3`` and ``var/`` beside
the code), on free loopback ports, and is stopped with its whole process group.
"""

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from tests.support.localstripe_server import free_port

SKIP = shutil.ignore_patterns(
    ".git", ".venv", "var", "db.sqlite3*", "__pycache__", ".pytest_cache", ".ruff_cache"
)


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo stopped with exit code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                return response.status
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _wait_for_line(path: Path, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text():
            return path.read_text()
        time.sleep(0.2)
    return path.read_text() if path.exists() else ""


def test_the_demo_serves_and_links_on_the_port_it_is_given(tmp_path):
    project = tmp_path / "omnicollect"
    shutil.copytree(settings.BASE_DIR, project, ignore=SKIP)
    (project / ".venv").symlink_to(Path(settings.BASE_DIR) / ".venv")
    port, stripe_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "STRIPE_", "SITE_URL"))
    }
    env.update(PORT=str(port), LOCALSTRIPE_PORT=str(stripe_port))
    output = tmp_path / "demo.out"

    with output.open("w") as sink:
        demo = subprocess.Popen(
            ["scripts/run_demo.sh"],
            cwd=project,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status = _wait_for(f"http://127.0.0.1:{port}/", demo)
        webhook_log = _wait_for_line(project / "var/log/localstripe.log", "sends webhooks to")
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)

    printed = output.read_text()
    assert status == 200
    assert f"Omnicollect demo: http://127.0.0.1:{port}/" in printed
    assert "127.0.0.1:8000" not in printed
    assert f"sends webhooks to http://127.0.0.1:{port}/payments/stripe/webhook/" in webhook_log
