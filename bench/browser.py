"""A small HTML client for POST flows: a browser's cookies, redirects and forms, over one
keep-alive connection per client, and a closed-loop load runner of such clients.

Forms are read with regular expressions (attributes of ``<form>``, ``<input>``, ``<select>``
and ``<textarea>``), which is enough for server-rendered Django pages and keeps the client's
own CPU small next to the servers it drives on the same machine.
"""

from __future__ import annotations

import html
import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from bench.harness import Http

FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)
SELECT_RE = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.S | re.I)
OPTION_RE = re.compile(r"<option\b([^>]*)>", re.I)
TEXTAREA_RE = re.compile(r"<textarea\b([^>]*)>(.*?)</textarea>", re.S | re.I)
ATTR_RE = re.compile(r"""([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
REDIRECTS = {301, 302, 303, 307, 308}


class FlowError(Exception):
    """The page was not what the flow expected (a status, a missing form)."""


def attributes(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
        for m in ATTR_RE.finditer(text)
    }


@dataclass
class Form:
    action: str
    method: str
    attrs: dict[str, str]
    # What the browser would send as the page stands: (name, value) pairs.
    fields: list[tuple[str, str]] = field(default_factory=list)
    # Every radio button's enabled choices, by name.
    radios: dict[str, list[str]] = field(default_factory=dict)

    def data(self, **overrides: str) -> list[tuple[str, str]]:
        """The fields with ``overrides`` replacing (or adding) values by name."""
        sent = [(k, v) for k, v in self.fields if k not in overrides]
        return sent + list(overrides.items())


def parse_forms(page: str) -> list[Form]:
    forms = []
    for match in FORM_RE.finditer(page):
        attrs = attributes(match.group(1))
        body = match.group(2)
        form = Form(
            action=attrs.get("action", ""), method=attrs.get("method", "get").lower(), attrs=attrs
        )
        for tag in INPUT_RE.finditer(body):
            a = attributes(tag.group(1))
            name, kind = a.get("name"), a.get("type", "text").lower()
            if not name or kind in {"submit", "button", "image", "file", "reset"}:
                continue
            if kind in {"radio", "checkbox"}:
                if kind == "radio" and "disabled" not in a:
                    form.radios.setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a:
                    form.fields.append((name, a.get("value", "on")))
            elif "disabled" not in a:
                form.fields.append((name, a.get("value", "")))
        for tag in SELECT_RE.finditer(body):
            a = attributes(tag.group(1))
            options = [attributes(o.group(1)) for o in OPTION_RE.finditer(tag.group(2))]
            chosen = next((o for o in options if "selected" in o), options[0] if options else None)
            if a.get("name") and chosen is not None:
                form.fields.append((a["name"], chosen.get("value", "")))
        for tag in TEXTAREA_RE.finditer(body):
            a = attributes(tag.group(1))
            if a.get("name"):
                form.fields.append((a["name"], html.unescape(tag.group(2))))
        forms.append(form)
    return forms


def find_form(page: str, predicate: Callable[[Form], bool], what: str) -> Form:
    for form in parse_forms(page):
        if predicate(form):
            return form
    raise FlowError(f"no {what} form on the page")


@dataclass
class Response:
    status: int
    path: str
    text: str


class Browser:
    """One shopper's browser on one keep-alive connection (bench.harness.Http);
    ``new_shopper()`` forgets cookies."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port = host, port
        self.http = Http(f"http://{host}:{port}", timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.requests = 0

    def new_shopper(self) -> None:
        self.cookies.clear()

    def close(self) -> None:
        self.http.close()

    def _store_cookies(self, headers) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (not morsel.value and morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict
    ) -> tuple[Response, str | None]:
        headers = {"Host": f"{self.host}:{self.port}", "Accept": "text/html", **headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.http.send(method, path, body, headers)
        self.requests += 1
        self._store_cookies(reply.headers)
        text = reply.body.decode("utf-8", "replace")
        return Response(reply.status, path, text), reply.headers.get("Location")

    def request(
        self, method: str, path: str, data: list[tuple[str, str]] | None = None
    ) -> Response:
        """Send a request and follow redirects as a browser does (a POST's answer becomes a GET)."""
        body = urlencode(data).encode() if data is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        for _ in range(10):
            response, location = self._send(method, path, body, headers)
            if response.status not in REDIRECTS or not location:
                return response
            target = urlsplit(urljoin(f"http://{self.host}:{self.port}{path}", location))
            path = target.path + (f"?{target.query}" if target.query else "")
            method, body, headers = "GET", None, {}
        raise FlowError(f"too many redirects from {path}")

    def get(self, path: str, expect: int = 200) -> Response:
        return self.expect(self.request("GET", path), expect)

    def submit(self, page: Response, form: Form, expect: int = 200, **overrides) -> Response:
        action = urljoin(page.path, form.action) if form.action else page.path
        method = form.method.upper()
        if method == "GET":
            query = urlencode(form.data(**overrides))
            return self.expect(self.request("GET", f"{action}?{query}"), expect)
        return self.expect(self.request("POST", action, form.data(**overrides)), expect)

    @staticmethod
    def expect(response: Response, status: int) -> Response:
        if response.status != status:
            raise FlowError(f"{response.path}: HTTP {response.status}, expected {status}")
        return response


@dataclass
class LoadResult:
    completed: int
    errors: int
    seconds: float
    requests: int  # made by the completed flows
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def run_load(
    host: str,
    port: int,
    flow: Callable[[Browser, int], None],
    *,
    clients: int,
    seconds: float,
) -> LoadResult:
    """``clients`` threads, each a browser looping ``flow`` (one order each) back to back for
    ``seconds``; a flow counts when it ends within the window."""
    lock = threading.Lock()
    totals = {"completed": 0, "errors": 0, "requests": 0, "first_error": ""}
    start = time.monotonic()
    deadline = start + seconds

    def client(number: int) -> None:
        browser = Browser(host, port)
        done = errors = requests = 0
        first_error = ""
        n = 0
        try:
            while time.monotonic() < deadline:
                browser.new_shopper()
                n += 1
                sent = browser.requests
                try:
                    flow(browser, number * 1_000_000 + n)
                except (FlowError, OSError, http.client.HTTPException) as error:
                    errors += 1
                    first_error = first_error or f"{type(error).__name__}: {error}"
                    browser.close()
                    continue
                if time.monotonic() <= deadline:
                    done += 1
                    requests += browser.requests - sent
        finally:
            browser.close()
        with lock:
            totals["completed"] += done
            totals["errors"] += errors
            totals["requests"] += requests
            totals["first_error"] = totals["first_error"] or first_error

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return LoadResult(
        completed=totals["completed"],
        errors=totals["errors"],
        seconds=seconds,
        requests=totals["requests"],
        first_error=totals["first_error"],
    )
