"""The accessibility checks of the UI's browser tests, for any page of any test module.

:func:`assert_accessible` runs them on an open Playwright page: axe-core (vendored for the
tests in ``tests/ui/vendor``, injected into the page; no network) finds no violation of
impact serious or critical; every form control has a label; nothing makes the page scroll
sideways; and a box that scrolls sideways itself (a wide table) is a focusable, named
region, so that a keyboard can scroll it and a screen reader says what it holds.
A module whose pages need another store (the monitoring pages) calls it on its own server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["AXE", "VENDOR", "VIEWPORTS", "assert_accessible", "scrolling_boxes_are_named_regions", "serious_violations"]

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "narrow": {"width": 390, "height": 844}}
"""The two screens every page must work on: a laptop, and a phone 390 px wide."""
BLOCKING = ("serious", "critical")

UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
               && !(e.tagName === 'BUTTON' && e.innerText.trim()))
  .map(e => e.outerHTML.slice(0, 120))"""

SIDEWAYS_JS = """() => [...document.querySelectorAll('body *')]
  .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
  .map(e => ({html: e.outerHTML.slice(0, 100), tabIndex: e.tabIndex, role: e.getAttribute('role'),
              name: e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || ''}))"""

STICKING_OUT_JS = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .filter(e => { for (let a = e.parentElement; a; a = a.parentElement)
                   if (getComputedStyle(a).overflowX !== 'visible') return false; return true; })
  .slice(0, 5).map(e => e.outerHTML.slice(0, 100))"""


def serious_violations(tab: Any) -> list[str]:
    """axe-core's violations of impact serious or critical on the open page, one line each."""
    tab.add_script_tag(path=str(AXE))
    result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def scrolling_boxes_are_named_regions(tab: Any) -> list[dict[str, Any]]:
    """The boxes that scroll sideways; each must be a keyboard stop, a region and named."""
    boxes = tab.evaluate(SIDEWAYS_JS)
    for box in boxes:
        assert box["tabIndex"] >= 0 and box["role"] == "region" and box["name"], f"an unnamed scrolling box: {box}"
    return boxes


def assert_accessible(tab: Any) -> None:
    """Every check of the module docstring on the page open in ``tab``."""
    violations = serious_violations(tab)  # (plain asserts: pytest rewrites test modules and conftest only)
    assert not violations, "axe-core: " + "; ".join(violations)
    unlabelled = tab.evaluate(UNLABELLED_JS)
    assert not unlabelled, f"form controls without a label: {unlabelled}"
    sideways = tab.evaluate("document.documentElement.scrollWidth > innerWidth")
    assert not sideways, f"the page scrolls sideways: {tab.evaluate(STICKING_OUT_JS)}"
    scrolling_boxes_are_named_regions(tab)
