"""Start and stop a localstripe server on loopback for the test session.

localstripe (a stateful fake Stripe, GPL) is a test dependency only: it is imported here, in a
child process, and never by the application. Its own ``localstripe`` command binds every
interface and pickles its state to ``/tmp/localstripe.pickle``; this launcher binds 127.0.0.1
on a free port and turns persistence off.

    python -m tests.localstripe_server PORT   # what ``LocalStripe.start`` runs
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
            [sys.executable, "-m", "tests.localstripe_server", str(self.port)],
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


def serve(port: int) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1:``port`` with persistence off."""
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
