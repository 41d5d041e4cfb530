"""Browser fixtures: Debian's Chromium driven by Playwright, and a live server on loopback.

A test module loads them with ``pytest_plugins = ["tests.support.browser_fixtures"]``. Every
test that uses ``browser`` then fails on any console error or warning, Content Security Policy
violation, page error or failed request of its pages, unless it allows that complaint by name
(``watch(page).allow(pattern)``).
"""

import contextlib
import os
import re
import shutil

import pytest
from django.test import override_settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM
    # calls are still plain synchronous code, so let Django allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield WatchedBrowser(browser)
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="module")
def live():
    """A live server on loopback, started with plain-http settings.

    The server loads its middleware once, at start, so the settings are overridden before
    starting it (the project-wide live_server would keep the production HTTPS redirect/HSTS).
    """
    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        ALLOWED_HOSTS=["127.0.0.1"],
        LANGUAGE_CODE="en",
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    with plain_http:
        server = LiveServer("127.0.0.1:0")
        try:
            yield server.url
        finally:
            server.stop()


class Console:
    """What one page complains about: console errors and warnings (Chromium reports Content
    Security Policy violations and responses with an error status there), uncaught page errors
    and requests that failed.

    ``allow(pattern)`` names a complaint the test expects (a regular expression searched in
    each line, e.g. ``r"status of 409"`` for a refusal); ``unexpected`` is what is left.
    """

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        self.allowed: list[re.Pattern] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("requestfailed", self._request_failed)

    def allow(self, pattern: str) -> "Console":
        self.allowed.append(re.compile(pattern))
        return self

    @property
    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]

    def _console(self, message):
        if message.type in ("error", "warning"):
            where = (message.location or {}).get("url", "")
            self.problems.append(
                f"{message.type}: {message.text}" + (f" ({where})" if where else "")
            )

    def _request_failed(self, request):
        # The browser itself abandons requests when the page navigates away (a poll of the
        # tablet's queue in flight) or a link is a download: not a failure of the site.
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"requestfailed: {request.method} {request.url} {request.failure}")


class ConsoleWatch:
    """Every page one test opens, each with its Console; ``check()`` fails the test on any
    complaint the test did not allow."""

    def __init__(self):
        self.consoles: dict[int, Console] = {}

    def attach(self, page) -> Console:
        key = id(page)
        if key not in self.consoles:
            self.consoles[key] = Console(page)
        return self.consoles[key]

    def check(self) -> None:
        for console in self.consoles.values():
            if not console.page.is_closed():
                # A round trip delivers the events the browser sent before it (a page that is
                # closing or navigating has sent them already).
                with contextlib.suppress(PlaywrightError):
                    console.page.evaluate("0")
        unexpected = [
            f"{console.page.url}: {problem}"
            for console in self.consoles.values()
            for problem in console.unexpected
        ]
        if unexpected:
            raise AssertionError(
                "The browser complained (allow what the test expects with "
                "watch(page).allow(pattern)):\n  " + "\n  ".join(unexpected)
            )


class WatchedBrowser:
    """The browser, with every page it opens watched by the running test's ConsoleWatch."""

    def __init__(self, browser):
        self._browser = browser

    @staticmethod
    def _attach(page) -> None:
        if _running.watch is not None:
            _running.watch.attach(page)

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        self._attach(page)
        return page

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.on("page", self._attach)
        return context

    def __getattr__(self, name):
        return getattr(self._browser, name)


class _Running:
    watch: ConsoleWatch | None = None


_running = _Running()
CONSOLE_WATCH = pytest.StashKey[ConsoleWatch]()


@pytest.fixture(autouse=True)
def _browser_console(request):
    """Autouse: the pages a test opens with ``browser`` are watched, and the test fails (after
    its own body passed) on any complaint it did not allow. A test without pages has nothing to
    check."""
    watch = ConsoleWatch()
    _running.watch = watch
    request.node.stash[CONSOLE_WATCH] = watch
    yield watch
    _running.watch = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # a test that already failed keeps its own failure
    watch = item.stash.get(CONSOLE_WATCH, None)
    if watch is not None:
        watch.check()
    return result


@pytest.fixture
def watch(_browser_console):
    """``watch(page)`` is the page's Console (``.problems``, ``.allow(pattern)``); every page
    of ``browser`` is watched anyway."""
    return _browser_console.attach
