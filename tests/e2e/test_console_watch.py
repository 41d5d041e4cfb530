"""Every browser test fails on what the browser complains about, without asking for it: a
console error or warning, a Content Security Policy violation, an uncaught page error or a
request that failed. A test names the complaints it expects (a refusal's 409, say).

These run small browser tests in a separate pytest process (pytester) and read the outcome.
"""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

# The second test shows the collector needs no ``watch`` call: a page from ``browser.new_page``
# or from a context of ``browser.new_context`` is watched from its first event.
BROWSER_TESTS = """
pytest_plugins = ["tests.support.browser_fixtures"]

CSP = "<meta http-equiv='Content-Security-Policy' content=\\"style-src 'self'\\">"


def test_console_error(browser):
    page = browser.new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("console.error('boom from the page')")


def test_csp_violation_in_a_new_context(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content(CSP + "<p>x</p>")
    page.evaluate("document.querySelector('p').setAttribute('style', 'color: red')")
    context.close()


def test_page_error(browser):
    page = browser.new_page()
    page.set_content("<p>x</p>")
    page.evaluate("setTimeout(() => { throw new Error('kaput') }, 0)")
    page.wait_for_timeout(100)


def test_warning(browser):
    page = browser.new_page()
    page.set_content("<p>x</p>")
    page.evaluate("console.warn('careful')")


def test_failed_request(browser):
    page = browser.new_page()
    page.set_content("<img src='http://127.0.0.1:9/nothing.png'>")
    page.wait_for_timeout(300)


def test_expected_complaint_is_allowed(browser, watch):
    page = browser.new_page()
    watch(page).allow(r"expected refusal")
    page.set_content("<p>x</p>")
    page.evaluate("console.error('an expected refusal')")


def test_quiet_page_passes(browser):
    page = browser.new_page()
    page.set_content("<p>x</p>")
    page.evaluate("console.log('just a log line')")
"""


@pytest.fixture
def outcome(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_pages=BROWSER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider", "-rA")
    return result


def test_every_browser_test_fails_on_what_the_browser_complains_about(outcome):
    outcome.assert_outcomes(failed=5, passed=2)
    text = outcome.stdout.str()
    for name in (
        "test_console_error",
        "test_csp_violation_in_a_new_context",
        "test_page_error",
        "test_warning",
        "test_failed_request",
    ):
        assert f"FAILED test_pages.py::{name}" in text
    assert "PASSED test_pages.py::test_expected_complaint_is_allowed" in text
    assert "PASSED test_pages.py::test_quiet_page_passes" in text
    # The failure says what the browser said.
    assert "error: boom from the page" in text
    assert "Content Security Policy" in text
    assert "pageerror: kaput" in text
    assert "warning: careful" in text
    assert "requestfailed: GET http://127.0.0.1:9/nothing.png" in text
