"""The monitoring page in headless Chromium: the real ``skloop ui`` over a real monitored model.

As in test_browser: the system's Chromium through Playwright (never a download), one
server and one browser for the module, a fresh page per test that fails on any console
error or failed request, and a screenshot under pytest's temporary directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import Monitored, monitor_and_store, train_project

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive"
)


@dataclass
class Served:
    url: str
    monitored: Monitored
    shots: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``skloop ui`` (the CLI, in a subprocess) over the trained, monitored project."""
    root = tmp_path_factory.mktemp("monitored-ui")
    project = train_project(root)
    monitored = monitor_and_store(project, root)
    project.store.flush()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    port = _free_port()
    cmd = [sys.executable, "-m", "skloop.cli", "ui", "--port", str(port), "--spec", str(root / "skloop.yaml")]
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"skloop ui at http://127.0.0.1:{port}/", first
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield Served(f"http://127.0.0.1:{port}", monitored, tmp_path_factory.mktemp("screenshots"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        project.close()


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, served: Served, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1280×900) that records console errors and failed requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    try:
        yield tab
        tab.screenshot(path=str(served.shots / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert errors == [], errors


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
