"""Start and stop a localstripe server on loopback for the test session.

localstripe (a stateful fake Stripe, GPL) is a test dependency only: it is imported here, in a
child process, and never by the application. Its own ``localstripe`` command binds every
interface and pickles its state to ``/tmp/localstripe.pickle``; this launcher binds 127.0.0.1
on a free port and turns persistence off.

    python -m tests.support.localstripe_server PORT   # what ``LocalStripe.start`` runs
    # the demo (make run):
    python -m tests.support.localstripe_server PORT WEBHOOK_URL WEBHOOK_SECRET
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# localstripe answers any secret key that starts with sk_.
ADMIN_KEY = "sk_test_localstripe_admin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(method: str, url: str, timeout: float = 2.0) -> int:
    req = urllib.request.Request(  # noqa: S310 - loopback http only
        url, method=method, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class LocalStripe:
    """A localstripe child process listening on ``base_url``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "LocalStripe":
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.support.localstripe_server", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"localstripe exited early:\n{err}")
            try:
                if _request("GET", f"{self.base_url}/v1/payment_intents") == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localstripe did not answer on {self.base_url} in {timeout} s")

    def clear(self) -> None:
        """Forget every object (``DELETE /_config/data``)."""
        status = _request("DELETE", f"{self.base_url}/_config/data")
        if status != 200:
            raise RuntimeError(f"localstripe refused to clear its data: HTTP {status}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


def register_webhook(base_url: str, url: str, secret: str, timeout: float = 20.0) -> None:
    """Once the server answers, have it send its (signed) events to ``url``."""
    body = json.dumps({"url": url, "secret": secret}).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        req = urllib.request.Request(  # noqa: S310 - loopback http only
            f"{base_url}/_config/webhooks/omnicollect",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    print(f"localstripe sends webhooks to {url}", flush=True)
                    return
        except OSError:
            pass
        time.sleep(0.2)
    print("localstripe: could not register the webhook", file=sys.stderr, flush=True)


def serve(port: int, webhook_url: str = "", webhook_secret: str = "") -> None:
    """Run localstripe's aiohttp app on 127.0.0.1:``port`` with persistence off."""
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    if webhook_url:
        threading.Thread(
            target=register_webhook,
            args=(f"http://127.0.0.1:{port}", webhook_url, webhook_secret),
            daemon=True,
        ).start()
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    serve(int(sys.argv[1]), *sys.argv[2:4])
