"""The monitoring page in headless Chromium: the real ``skloop ui`` over a real monitored model.

As in test_browser: the system's Chromium through Playwright (never a download), one
server and one browser for the module, a fresh page per test that fails on any console
error or failed request, and a screenshot in the test artifacts
(``build/test-artifacts/ui/monitor-<test>.png``). The monitoring pages are checked for
accessibility here (``a11y_helpers``), on this module's monitored store: one line each in
``MONITOR_PAGES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from a11y_helpers import VIEWPORTS, assert_accessible
from monitor_helpers import Monitored, monitor_and_store, train_project
from ui_helpers import CHROMIUM, UIPage, artifact_dir, recording_page, running_ui, shot_name

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive"
)


@dataclass
class Served:
    url: str
    monitored: Monitored
    shots: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Served]:
    """``skloop ui`` (the CLI, in a subprocess) over the trained, monitored project (its spec's store)."""
    root = tmp_path_factory.mktemp("monitored-ui")
    project = train_project(root)
    try:
        monitored = monitor_and_store(project, root)
        project.store.flush()
        with running_ui(root, {}) as base:
            yield Served(base, monitored, artifact_dir(request.config.rootpath))
    finally:
        project.close()


@pytest.fixture
def page(browser: Any, served: Served, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1280×900) that records console errors and failed requests."""
    shot = served.shots / shot_name("monitor", request.node.name)
    with recording_page(browser, shot, viewport=(1280, 900)) as tab:
        yield tab


def test_click_a_heatmap_cell_and_see_the_two_distributions(page: Any, served: Served) -> None:
    page.goto(served.url + "/models/churn")
    page.get_by_role("link", name="Monitoring").click()
    page.wait_for_url("**/models/churn/monitoring")
    assert "Drift detected" in page.locator("#latest-verdict").inner_text()
    page.locator("#perf-chart canvas").first.wait_for()  # uPlot drew the performance
    page.evaluate("window.__notReloaded = true")
    cell = page.locator('tr[data-feature="contract"] td.drifted a').first
    cell.click()
    panel = page.locator("#distribution #feature-distribution[data-feature=contract]")
    panel.wait_for()
    assert page.evaluate("window.__notReloaded") is True  # htmx swapped the panel in; the page stayed
    assert panel.locator("svg.chart.distribution rect").count() >= 6  # reference and current per category
    assert "drifted" in panel.locator("h3").inner_text()
    assert page.locator("table.heatmap td.active").count() == 1
    page.locator('tr[data-feature="tenure_months"] td a').nth(2).click()
    page.locator("#distribution #feature-distribution[data-feature=tenure_months]").wait_for()
    assert "window 3" in page.locator("#feature-distribution .meta").inner_text()


def test_open_a_stored_drift_report(page: Any, served: Served) -> None:
    page.goto(served.url + "/models/churn/monitoring")
    shifted = served.monitored.shifted.id
    page.locator(f"#r-{shifted}").get_by_role("link", name="full report").click()
    page.wait_for_url(f"**/models/churn/monitoring/reports/{shifted}")
    assert "Drift detected" in page.locator("body").inner_text()
    assert page.locator("svg").count() > 3
    page.go_back()
    page.locator(f"#r-{served.monitored.same.id}").get_by_role("link", name="view here").click()
    page.wait_for_url(f"**report={served.monitored.same.id}")
    assert "one column per stored report" in page.locator("body").inner_text()


MONITOR_PAGES: list[UIPage] = [
    UIPage("monitoring", "/models/churn/monitoring"),
    UIPage("report", "/models/churn/monitoring/reports/{shifted}"),
    UIPage("feature", "/models/churn/monitoring/reports/{shifted}/features/contract?window=1"),
]
"""The monitoring pages (``{same}`` and ``{shifted}``: the stored reports' ids), as ui_helpers.UI_PAGES."""


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("ui_page", MONITOR_PAGES, ids=[p.name for p in MONITOR_PAGES])
def test_monitoring_page_is_accessible(page: Any, served: Served, ui_page: UIPage, viewport: str) -> None:
    page.set_viewport_size(VIEWPORTS[viewport])
    ids = {"same": served.monitored.same.id, "shifted": served.monitored.shifted.id}
    response = page.goto(served.url + ui_page.path.format(**ids), wait_until="load")
    assert response is not None and response.status == ui_page.status
    assert_accessible(page)
