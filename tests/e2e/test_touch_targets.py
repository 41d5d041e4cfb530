"""The touch-target check the browser walks use (tests/support/browser_checks.py), on a page made
for it: what it measures, what it skips, and the one narrow exemption."""

import pytest

from tests.support.browser_checks import assert_touch_targets, small_targets

pytest_plugins = ["tests.support.browser_fixtures"]

PAGE = """
<style>
  body { font: 16px/1.2 sans-serif; margin: 0; }
  .big { display: block; min-height: 48px; min-width: 48px; }
  .gap { height: 60px; }
</style>
<p>Read <a href="/terms" id="in-sentence">the terms</a> before you order.</p>
<ul><li><a href="/orders/CC-1/" id="in-line">CC-1</a> · Madrid Centro · 14,95 €</li></ul>
<div class="gap"></div>
<p><a href="/back" id="alone">← Back</a></p>
<p><a href="/cart" id="with-badge">Cart <span>3</span></a></p>
<label id="small-label"><input type="radio" name="pay" value="card"> Card</label>
<label class="big" id="big-label"><input type="radio" name="pay" value="cash"> Cash</label>
<input type="checkbox" id="bare">
<label for="name">Name</label><input id="name" class="big">
<input type="hidden" name="token" value="x">
<button class="big">OK</button>
<button id="tiny">×</button>
<a href="/hidden" id="hidden" style="display: none">hidden</a>
<select id="pick"><option>One</option></select>
<details><summary id="more">More</summary><a href="/inside">inside a closed details</a></details>
<a id="no-href">not a link</a>
"""


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_content(PAGE)
    return page


def names(offenders):
    return [offender.rsplit(": ", 1)[0] for offender in offenders]


def test_controls_smaller_than_the_minimum_are_listed(page):
    assert names(small_targets(page, 24)) == [
        'a#alone "← Back"',
        'a#with-badge "Cart 3"',
        'label#small-label "Card"',
        "input#bare",
        'button#tiny "×"',
        'select#pick "One"',
        'summary#more "More"',
    ]


def test_the_sizes_are_in_the_list(page):
    offenders = dict(o.rsplit(": ", 1) for o in small_targets(page, 24))
    assert offenders["input#bare"] == "13 × 13"


def test_a_bigger_minimum_catches_more(page):
    offenders = names(small_targets(page, 50))
    assert 'label#big-label.big "Cash"' in offenders
    assert 'button.big "OK"' in offenders
    # A link inside a sentence or a line of text stays exempt whatever the minimum.
    assert not any("in-sentence" in o or "in-line" in o for o in offenders)


def test_the_assertion_names_the_offenders(page):
    with pytest.raises(AssertionError) as failure:
        assert_touch_targets(page, 24)
    assert "Controls smaller than 24 × 24 px on about:blank:" in str(failure.value)
    assert 'a#alone "← Back"' in str(failure.value)
