"""The compare and run pages' charts in headless Chromium, over the real ``skloop ui``.

As tests/ui/test_browser.py: the system's Chromium through Playwright, one server and
one browser for the module, a fresh page per test that fails on any console error or
failed request, and a screenshot kept under pytest's temporary directory. The store
holds a real grid search (trained here, 8 candidates) and two runs that logged
metrics step by step.
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
from ui_helpers import CURVES, log_curves, recording_page, shot_name, train_search

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
    search_run: str
    curve_runs: dict[str, str]
    shots: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``skloop ui`` (the CLI, in a subprocess) over the store of a trained search."""
    root = tmp_path_factory.mktemp("ui-search")
    project, run_id = train_search(root)
    try:
        curve_runs = log_curves(project.store)
        url, artifacts = project.store.url, str(project.store.artifacts.root)
    finally:
        project.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env |= {"SKLOOP_STORE_URL": url, "SKLOOP_ARTIFACT_ROOT": artifacts}
    port = _free_port()
    cmd = [sys.executable, "-m", "skloop.cli", "ui", "--port", str(port), "--spec", str(root / "skloop.yaml")]
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield Served(f"http://127.0.0.1:{port}", run_id, curve_runs, tmp_path_factory.mktemp("screenshots"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def page(browser: Any, served: Served, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1280×800) that records console errors and failed requests."""
    with recording_page(browser, served.shots / shot_name("compare", request.node.name)) as tab:
        yield tab


def test_compare_overlays_the_curves_with_a_legend_naming_the_runs(page: Any, served: Served) -> None:
    page.goto(served.url + "/projects/churn/runs")
    page.get_by_label("select run curve-a").check()
    page.get_by_label("select run curve-b").check()
    page.get_by_role("button", name="Compare selected runs").click()
    page.wait_for_url("**/compare?**")
    loss = page.locator('[data-curve-chart="loss"]')
    loss.locator("canvas").wait_for()
    assert page.locator("[data-curve-chart] canvas").count() == len({k for m in CURVES.values() for k in m})
    box = loss.locator("canvas").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    legend = loss.locator(".u-legend").inner_text()
    assert "curve-a" in legend and "curve-b" in legend
    assert "loss by step, one line per run" in (loss.get_attribute("aria-label") or "")


def test_run_page_draws_the_search_and_the_select_switches_the_scatter(page: Any, served: Served) -> None:
    page.goto(served.url + f"/runs/{served.search_run}")
    parallel = page.locator("svg.parallel")
    parallel.wait_for()
    box = parallel.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200
    assert parallel.locator("polyline.candidate").count() == 8
    assert parallel.get_attribute("role") == "img" and "Parallel coordinates" in parallel.get_attribute("aria-label")
    shown = page.locator("figure.scatter:visible")
    assert shown.count() == 1 and shown.get_attribute("data-scatter-param") == "model__criterion"
    before = shown.locator("circle").evaluate_all("cs => cs.map(c => c.getAttribute('cx'))")
    page.get_by_label("Score against").select_option("model__min_samples_leaf")
    page.wait_for_function(
        "document.querySelector('figure.scatter:not([hidden])').dataset.scatterParam === 'model__min_samples_leaf'"
    )
    shown = page.locator("figure.scatter:visible")
    assert shown.count() == 1 and shown.get_attribute("data-scatter-param") == "model__min_samples_leaf"
    after = shown.locator("circle").evaluate_all("cs => cs.map(c => c.getAttribute('cx'))")
    assert len(after) == 8 and sorted(after) != sorted(before)  # another x axis, other positions
    assert "(log)" in shown.locator("svg").inner_html()


def test_compare_shows_the_search_of_a_selected_run(page: Any, served: Served) -> None:
    page.goto(served.url + f"/compare?run={served.search_run}&run={served.curve_runs['a']}")
    page.locator("svg.parallel").wait_for()
    page.locator("[data-fold-chart] canvas").first.wait_for()  # the search's folds, by uPlot
    assert page.locator("svg.parallel polyline.candidate").count() == 8
    assert page.locator('[data-curve-chart="loss"] canvas').count() == 1
