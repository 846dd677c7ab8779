"""Accessibility of every page of the UI, in headless Chromium, at 1280×800 and 390×844.

Each page of ``ui_helpers.UI_PAGES`` at each viewport: axe-core (vendored for the tests,
``tests/ui/vendor``, injected into the page; no network) finds no violation of impact
serious or critical; every form control has a label; nothing makes the page scroll
sideways, and a box that scrolls sideways itself (a wide table) is a focusable, named
region a keyboard can scroll. The keyboard alone reaches the runs page's filter box, run
checkboxes and compare button, and the promote form, each with a visible focus outline.
Every case keeps a screenshot (``build/test-artifacts/ui/a11y-<page>-<viewport>.png``).

One server and one browser for the module (fixtures in conftest.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from a11y_helpers import AXE, VENDOR, VIEWPORTS, assert_accessible, scrolling_boxes_are_named_regions
from ui_helpers import CHROMIUM, UI_PAGES, Served, UIPage, shot_name

from skloop.store import Run

MAX_TABS = 400

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive"
)

FOCUSED_JS = """() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {id: e.id, tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '',
          text: (e.innerText || '').trim(), form: e.form ? e.form.id : '',
          outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
          shown: r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.left < innerWidth}; }"""


def _axe_recorded_sha256() -> str:
    found = re.search(r"^\| `axe\.min\.js` \|.*\| `([0-9a-f]{64})` \|$", (VENDOR / "VENDORED.md").read_text(), re.M)
    assert found, "tests/ui/vendor/VENDORED.md has no row for axe.min.js"
    return found.group(1)


def test_vendored_axe_matches_its_record_and_licence() -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == _axe_recorded_sha256()
    assert "Mozilla Public License" in (VENDOR / "LICENSE.axe-core.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(served: Served) -> Served:
    """The served store with a second project, so that ``/`` is the projects list."""
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    served.seeded.store.runs.import_runs(
        [Run(id="", project="fraud", kind="train", status="finished", start_time=t0, end_time=t0, name="first")]
    )
    return served


@pytest.fixture(scope="module")
def tabs(browser: Any) -> Iterator[dict[str, Any]]:
    """One page per viewport, shared by the module's tests (each navigates it afresh)."""
    contexts = {name: browser.new_context(viewport=size) for name, size in VIEWPORTS.items()}
    try:
        yield {name: context.new_page() for name, context in contexts.items()}
    finally:
        for context in contexts.values():
            context.close()


@pytest.fixture
def tab(tabs: dict[str, Any], request: pytest.FixtureRequest, site: Served) -> Iterator[Any]:
    """The page of the viewport the test names (default desktop); its screenshot kept; no script error."""
    callspec = getattr(request.node, "callspec", None)
    page = tabs[callspec.params.get("viewport", "desktop") if callspec else "desktop"]
    errors: list[str] = []

    def record(error: Any) -> None:
        errors.append(str(error))

    page.on("pageerror", record)
    try:
        yield page
    finally:
        page.remove_listener("pageerror", record)
        page.screenshot(path=str(site.shots / shot_name("a11y", request.node.name)), full_page=True)
    assert errors == [], errors


def _open(tab: Any, site: Served, ui_page: UIPage) -> None:
    response = tab.goto(ui_page.url(site.url, site.seeded), wait_until="load")
    assert response is not None and response.status == ui_page.status, (ui_page.path, response and response.status)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("ui_page", UI_PAGES, ids=[p.name for p in UI_PAGES])
def test_page_is_accessible(tab: Any, site: Served, ui_page: UIPage, viewport: str) -> None:
    _open(tab, site, ui_page)
    assert_accessible(tab)


def _tab_through(tab: Any, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """Press Tab from the top of the page: what took the focus, in order, until ``done`` or the page's end."""
    seen: list[dict[str, Any]] = []
    for _ in range(MAX_TABS):
        tab.keyboard.press("Tab")
        focused = tab.evaluate(FOCUSED_JS)
        if focused["tag"] == "body" or (seen and focused == seen[0]):  # past the last stop, or round again
            return seen
        seen.append(focused)
        if done(seen):
            return seen
    raise AssertionError(f"{MAX_TABS} presses of Tab did not reach the end of the page")


def _visibly_focused(stop: dict[str, Any]) -> bool:
    return stop["outline"] != "none" and stop["width"] >= 2 and stop["shown"]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_keyboard_reaches_the_runs_filter_checkboxes_and_compare(tab: Any, site: Served, viewport: str) -> None:
    _open(tab, site, UIPage("runs", "/projects/churn/runs"))
    stops = _tab_through(tab, lambda seen: sum(s["name"] == "run" for s in seen) >= 10)
    first = stops[0]
    assert first["text"] == "Skip to content" and _visibly_focused(first), first
    filter_box = [s for s in stops if s["id"] == "runs-q"]
    run_boxes = [s for s in stops if s["name"] == "run" and s["type"] == "checkbox"]
    compare = [s for s in stops if s["text"] == "Compare selected runs"]
    assert filter_box and run_boxes and compare, [s["id"] or s["text"] for s in stops]
    assert len(run_boxes) >= 10  # each row's box is a stop
    for stop in filter_box + run_boxes[:3] + compare:
        assert _visibly_focused(stop), stop


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_keyboard_reaches_every_control_of_the_promote_form(tab: Any, site: Served, viewport: str) -> None:
    _open(tab, site, UIPage("model", "/models/churn"))
    left_the_form = lambda seen: len(seen) > 1 and seen[-2]["form"] == "promote-form" != seen[-1]["form"]  # noqa: E731
    stops = [s for s in _tab_through(tab, left_the_form) if s["form"] == "promote-form"]
    reached = [s["id"] or s["name"] or s["text"] for s in stops]
    assert reached == ["promote-version", "promote-alias", "promote-reason", "force", "promote-token", "Promote"]
    for stop in stops:
        assert _visibly_focused(stop), stop


def test_the_skip_link_moves_the_focus_past_the_navigation(tab: Any, site: Served) -> None:
    _open(tab, site, UIPage("runs", "/projects/churn/runs"))
    tab.keyboard.press("Tab")
    tab.keyboard.press("Enter")
    tab.keyboard.press("Tab")
    focused = tab.evaluate(FOCUSED_JS)
    assert focused["text"] == "Compare selected runs", focused  # the first control of the content, not the nav


@pytest.mark.parametrize("viewport", ["narrow"])
def test_a_table_swapped_in_by_htmx_is_a_named_region_too(tab: Any, site: Served, viewport: str) -> None:
    _open(tab, site, UIPage("runs", "/projects/churn/runs"))
    assert [b["name"] for b in scrolling_boxes_are_named_regions(tab)] == ["Runs of churn (scrolls sideways)"]
    tab.evaluate("document.querySelector('#runs-panel .table-wrap').id = 'before-the-swap'")
    box = tab.get_by_label("Filter")
    box.focus()
    tab.keyboard.type("metrics.cv_roc_auc_mean > 0.79")
    tab.keyboard.press("Enter")
    tab.wait_for_function("document.querySelector('#runs-summary').innerText.startsWith('4 runs')")
    assert tab.locator("#before-the-swap").count() == 0  # a new box, marked after the swap
    tab.wait_for_function("document.querySelector('#runs-panel .table-wrap').getAttribute('role') === 'region'")
    assert len(scrolling_boxes_are_named_regions(tab)) == 1
