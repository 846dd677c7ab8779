"""End to end in headless Chromium: the real ``skloop ui`` command, a real browser.

The system's Chromium (``/usr/bin/chromium``) through Playwright, never a browser
download. One server and one browser for the module; each test opens a fresh page,
fails on any console error or failed request, and keeps a screenshot in the test
artifacts (``build/test-artifacts/ui/browser-<test>.png``; see ``ui_helpers.artifact_dir``).
The fixtures ``served`` and ``browser`` are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import CHROMIUM, FINGERPRINT, TOKEN, Served, recording_page, shot_name

from skloop.registry import Registry

HIGHLIGHT = "rgb(255, 243, 196)"  # tr.diff in ui.css

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive"
)


@pytest.fixture
def console_errors() -> list[str]:
    """What the page logged as errors; a test that expects one (a 4xx page) removes it."""
    return []


@pytest.fixture
def page(browser: Any, served: Served, request: pytest.FixtureRequest, console_errors: list[str]) -> Iterator[Any]:
    """A fresh page (1280×800) that records console errors and failed requests."""
    shot = served.shots / shot_name("browser", request.node.name)
    with recording_page(browser, shot, errors=console_errors, accept_downloads=True) as tab:
        yield tab


def _names(page: Any) -> list[str]:
    return page.locator("table.runs tbody tr td:nth-child(2)").all_inner_texts()


def test_runs_page_loads_with_a_page_of_runs(page: Any, served: Served) -> None:
    page.goto(served.url + "/")
    assert page.url.endswith("/projects/churn/runs")
    assert page.locator("h1").inner_text() == "Runs of churn"
    assert len(_names(page)) == 50 and _names(page)[:3] == ["broken", "other", "best"]
    # the total arrives after the table, by a second request; the pager's page count with it
    page.wait_for_function("document.querySelector('#runs-summary').innerText.startsWith('123 runs')")
    assert page.locator("#runs-summary").inner_text() == "123 runs, showing 1–50"
    assert page.locator("#runs-pages").inner_text() == "page 1 of 3"
    page.locator("a[rel=next]").click()
    page.wait_for_function("document.querySelector('#runs-summary').innerText.includes('51–100')")
    assert "page=2" in page.url


def test_sort_by_clicking_a_column_swaps_the_table_in_place(page: Any, served: Served) -> None:
    page.goto(served.url + "/projects/churn/runs")
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("link", name="cv_roc_auc_mean").click()
    page.wait_for_url("**sort=metrics.cv_roc_auc_mean**")
    page.wait_for_function("document.querySelector('table.runs tbody td:nth-child(2)').innerText === 'best'")
    page.get_by_role("link", name="cv_roc_auc_mean ▼").click()
    page.wait_for_url("**dir=asc**")
    page.wait_for_function("document.querySelector('table.runs tbody td:nth-child(2)').innerText === 'bulk-000'")
    assert page.evaluate("window.__notReloaded") is True  # htmx swapped the panel; the page stayed
    assert page.locator("th[aria-sort=ascending]").count() == 1


def test_filter_narrows_the_runs_and_shows_a_parse_error_beside_the_box(page: Any, served: Served) -> None:
    page.goto(served.url + "/projects/churn/runs")
    box = page.get_by_label("Filter")
    box.fill("metrics.cv_roc_auc_mean > 0.79")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#runs-summary').innerText.startsWith('4 runs')")
    assert sorted(_names(page)) == ["best", "bulk-117", "bulk-118", "bulk-119"]
    box = page.get_by_label("Filter")
    box.fill("metrics.cv_roc_auc_mean >")
    box.press("Enter")
    error = page.locator("#filter-error")
    error.wait_for()
    assert "bad search filter" in error.inner_text()
    assert page.get_by_label("Filter").get_attribute("aria-invalid") == "true"
    page.get_by_label("failed").check()  # the status facet applies on change
    page.wait_for_url("**status=failed**")
    page.locator("#filter-error").wait_for()  # the swapped panel, still with the bad filter
    page.get_by_label("Filter").fill("")
    page.get_by_label("Filter").press("Enter")
    page.wait_for_function("!document.querySelector('#filter-error')")
    statuses = page.locator("table.runs tbody td:nth-child(3)").all_inner_texts()
    assert statuses and set(statuses) == {"failed"}


def test_compare_two_runs_highlights_a_difference(page: Any, served: Served) -> None:
    page.goto(served.url + "/projects/churn/runs")
    page.get_by_label("select run best").check()
    page.get_by_label("select run other").check()
    page.get_by_role("button", name="Compare selected runs").click()
    page.wait_for_url("**/compare?**")
    row = page.locator("table.params tr.diff", has_text="model__C")
    assert row.count() == 1 and "10.0" in row.inner_text()
    color = row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == HIGHLIGHT
    same = page.locator("table.params tr", has_text="LogisticRegression")
    assert "diff" not in (same.get_attribute("class") or "")
    page.locator("[data-fold-chart] canvas").first.wait_for()  # uPlot drew the folds


def test_open_a_run_and_download_an_artifact(page: Any, served: Served, model_bytes: bytes) -> None:
    page.goto(served.url + "/projects/churn/runs")
    page.get_by_role("link", name="best", exact=True).click()
    page.wait_for_url(f"**/runs/{served.seeded.best}")
    assert "c0ffee1234" in page.content()
    with page.expect_download() as info:
        page.get_by_role("link", name="model.skops").click()
    download = info.value
    assert Path(download.path()).read_bytes() == model_bytes
    assert download.suggested_filename == "model.skops"


def test_promote_needs_the_token_then_records_the_move(page: Any, served: Served, console_errors: list[str]) -> None:
    page.goto(served.url + "/models/churn")
    page.get_by_label("Version", exact=True).select_option("1")
    page.get_by_label("Alias", exact=True).fill("champion")
    page.locator("#promote-reason").fill("v1 passed its gates")
    page.locator("#promote-token").fill("a wrong token")
    page.get_by_role("button", name="Promote").click()
    page.locator(".form-error").wait_for()
    assert "token is wrong" in page.locator(".form-error").inner_text()
    console_errors.remove("Failed to load resource: the server responded with a status of 401 (Unauthorized)")
    assert Registry(served.seeded.store).aliases("churn") == {}
    page.locator("#promote-token").fill(TOKEN)
    assert page.locator("#promote-reason").input_value() == "v1 passed its gates"  # the form kept it
    page.get_by_role("button", name="Promote").click()
    page.locator(".notice").wait_for()
    assert "champion" in page.locator(".notice").inner_text()
    assert Registry(served.seeded.store).aliases("churn") == {"champion": 1}
    assert "v1 passed its gates" in page.locator("ol.timeline").inner_text()


def test_narrow_screen_and_error_pages(page: Any, served: Served, console_errors: list[str]) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(served.url + "/projects/churn/runs")
    assert page.get_by_label("Filter").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls in its box
    response = page.goto(served.url + "/runs/" + "f" * 32)
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    console_errors.remove("Failed to load resource: the server responded with a status of 404 (Not Found)")


def test_lineage_graph_links_the_run_dataset_parent_and_decision(page: Any, served: Served) -> None:
    page.goto(served.url + "/models")
    page.get_by_role("link", name="decisions").click()
    page.wait_for_url("**/models/churn/loop")
    assert "kept" in page.locator("ol.decisions").inner_text()
    decision_id = page.locator("ol.decisions li.decision").last.get_attribute("id")  # the oldest: it retrained v2
    assert decision_id is not None and decision_id.startswith("d-")
    page.locator("ol.decisions").get_by_role("link", name="v2").click()
    page.wait_for_url("**/models/churn/2/lineage")
    graph = page.locator("svg.lineage")
    version = graph.locator('g[data-key="v:churn/2"] rect')
    run = graph.locator(f'a[href="/runs/{served.seeded.other}"]')
    dataset = graph.locator(f'a[href="/datasets/{FINGERPRINT}/lineage"]')
    parent = graph.locator('a[href="/models/churn/1/lineage"]')
    decision = graph.locator(f'a[href="/models/churn/loop#{decision_id}"]')
    assert run.count() == dataset.count() == parent.count() == decision.count() == 1
    # SVG nodes have text, not HTML inner text: the box's label is its <text>
    assert graph.locator("g.node-commit text").text_content() == "commit c0ffee1234"
    assert parent.locator("text").text_content() == "parent churn/1"
    assert decision.locator("text").text_content() == "decision: drift_psi → kept"  # what fired, the outcome
    nodes = {"version": version, "run": run, "dataset": dataset, "parent": parent, "decision": decision}
    boxes = {k: n.bounding_box() for k, n in nodes.items()}
    assert all(b is not None and b["width"] > 100 for b in boxes.values()), boxes
    # drawn by depth: the version, then its run, parent and decision in one column, then the run's data
    assert boxes["version"]["x"] < boxes["run"]["x"] == boxes["parent"]["x"] == boxes["decision"]["x"]
    assert boxes["run"]["y"] < boxes["parent"]["y"] < boxes["decision"]["y"]
    assert boxes["dataset"]["x"] > boxes["run"]["x"]
    decision.click()  # to the decision, on the loop page
    page.wait_for_url(f"**/models/churn/loop#{decision_id}")
    assert page.locator(f"#{decision_id}").is_visible() and "kept" in page.locator(f"#{decision_id}").inner_text()
    page.go_back()
    page.wait_for_url("**/models/churn/2/lineage")
    page.locator('svg.lineage a[href="/models/churn/1/lineage"]').click()  # to the parent's own lineage
    page.wait_for_url("**/models/churn/1/lineage")
    assert page.locator("h1").inner_text() == "Lineage of churn/1"
    assert page.locator("svg.lineage g.node-parent").count() == 0  # v1 was trained from scratch
    page.locator(f'svg.lineage a[href="/datasets/{FINGERPRINT}/lineage"]').click()
    page.wait_for_url(f"**/datasets/{FINGERPRINT}/lineage")
    for v in (1, 2):  # every version trained on the dataset
        assert page.locator(f'svg.lineage a[href="/models/churn/{v}/lineage"]').count() == 1
