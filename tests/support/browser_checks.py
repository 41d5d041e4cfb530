"""Checks a browser test runs on whatever page it has open.

``assert_touch_targets(page, minimum)``: every visible control is at least ``minimum`` CSS
pixels wide and tall (WCAG 2.2: 24 × 24 is the minimum, 2.5.8; 44 × 44 the enhanced size,
2.5.5, which the store tablet keeps because clerks tap it all day).

What counts as a control: ``a[href]``, ``button``, ``input`` (not hidden), ``select``,
``textarea``, ``summary``, and a ``label`` that wraps its input. A radio button or checkbox
inside its label is measured as the label, since tapping anywhere on the label works it.

One exemption, WCAG 2.5.8's "inline" case, applied narrowly: a link displayed ``inline`` that
shares its line with text that is not itself a control (a link inside a sentence, or in a line
such as "CC-7K3F9QX2 · Madrid Centro · 14,95 €"). A link alone on its line is measured.
"""

MEASURE = r"""
(minimum) => {
  const CONTROLS = 'a[href], button, input:not([type=hidden]), select, textarea, summary, label';
  const TARGETS = 'a[href], button, input, select, textarea, summary, label';

  function shown(el) {
    // Not displayed, hidden, transparent, or inside a closed <details>: nothing to tap.
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  }

  function blockOf(el) {
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) {
      block = block.parentElement;
    }
    return block || document.body;
  }

  // WCAG 2.5.8 "inline": an inline link whose line also holds words that are not a control.
  function inSentence(el) {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const box = el.getBoundingClientRect();
    const walker = document.createTreeWalker(blockOf(el), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!/[\p{L}\p{N}]/u.test(node.data)) continue;
      if (node.parentElement.closest(TARGETS)) continue;
      if (!shown(node.parentElement)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const line of range.getClientRects()) {
        if (line.width > 0 && line.bottom > box.top + 1 && line.top < box.bottom - 1) return true;
      }
    }
    return false;
  }

  function describe(el) {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    else if (el.getAttribute('name')) name += '[name=' + el.getAttribute('name') + ']';
    if (el.classList.length) name += '.' + [...el.classList].join('.');
    const value = ['button', 'submit', 'reset'].includes(el.type) ? el.value : '';
    const text = (el.innerText || value || el.getAttribute('aria-label') || '')
      .trim().replace(/\s+/g, ' ').slice(0, 40);
    return text ? `${name} "${text}"` : name;
  }

  const offenders = [];
  for (const el of document.querySelectorAll(CONTROLS)) {
    if (el.tagName === 'LABEL' && !el.querySelector('input:not([type=hidden]), select, textarea')) {
      continue; // a label pointing at its field with for= is text, not a target
    }
    if (el.tagName === 'INPUT' && el.closest('label')) continue; // measured as its label
    if (!shown(el) || inSentence(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width < minimum - 0.01 || box.height < minimum - 0.01) {
      const size = (n) => Math.round(n * 10) / 10;
      offenders.push(`${describe(el)}: ${size(box.width)} × ${size(box.height)}`);
    }
  }
  return offenders;
}
"""


def small_targets(page, minimum: float) -> list[str]:
    """The visible controls of ``page`` smaller than ``minimum`` × ``minimum`` CSS pixels."""
    return page.evaluate(MEASURE, minimum)


def assert_touch_targets(page, minimum: float) -> None:
    offenders = small_targets(page, minimum)
    listed = "".join(f"\n  {offender}" for offender in offenders)
    assert not offenders, f"Controls smaller than {minimum} × {minimum} px on {page.url}:{listed}"
