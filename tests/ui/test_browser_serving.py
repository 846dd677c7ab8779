"""The serving page in headless Chromium: the real ``skloop ui --server``, a real browser.

As tests/ui/test_browser.py: the system's Chromium through Playwright, never a browser
download; every test fails on a console error or a failed request and keeps a
screenshot. The store holds logged predictions of ``churn`` (v1, then a swap to v2);
``--server`` names a small HTTP server answering ``/metrics`` with the model server's
own exposition (:class:`skloop.serve._metrics.ServeMetrics`), so the latency table is
real Prometheus text without starting a model server.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import artifact_dir, recording_page, running_ui, seed, shot_name

from skloop.serve._metrics import ServeMetrics
from skloop.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive"
)
T0 = datetime(2026, 2, 3, 10, 0, 0, tzinfo=UTC)
N_REQUESTS = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    shots: Path


def _metrics_server() -> http.server.ThreadingHTTPServer:
    metrics = ServeMetrics()
    for i in range(40):
        metrics.observe("/invocations", 200, 0.002 + i / 4000)
    metrics.observe("/invocations", 400, 0.001)
    metrics.serving("churn", 2, "onnxruntime")
    metrics.swaps.inc()
    body = metrics.exposition()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, model_bytes: bytes, request: pytest.FixtureRequest
) -> Iterator[Served]:
    """``skloop ui --server URL`` (the CLI, in a subprocess) over a store with a prediction log."""
    root = tmp_path_factory.mktemp("ui-serving-store")
    url, artifacts = f"sqlite:///{root}/skloop.db", root / "artifacts"
    store = Store.open(url, artifacts)
    seed(store, model_bytes)
    store.predictions.insert_predictions(
        {"request_id": f"r{i}", "row": row, "time": T0 + timedelta(seconds=20 * i), "model": "churn",
         "version": 1 if i < 60 else 2, "outputs": {"prediction": "0"},
         "flags": [{"row": row, "column": "age", "problem": "missing value", "severity": "flag"}] if i % 9 == 0 else []}
        for i in range(N_REQUESTS) for row in range(1 + i % 4)
    )  # fmt: skip
    metrics = _metrics_server()
    thread = threading.Thread(target=metrics.serve_forever, daemon=True)
    thread.start()
    try:
        server = f"http://127.0.0.1:{metrics.server_address[1]}"
        settings = {"SKLOOP_STORE_URL": url, "SKLOOP_ARTIFACT_ROOT": str(artifacts)}
        with running_ui(root, settings, ["--server", server]) as base:
            yield Served(base, artifact_dir(request.config.rootpath))
    finally:
        metrics.shutdown()
        metrics.server_close()
        store.close()


@pytest.fixture
def page(browser: Any, served: Served, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1280×800) that records console errors and failed requests."""
    with recording_page(browser, served.shots / shot_name("serving", request.node.name)) as tab:
        yield tab


def test_serving_page_draws_the_traffic_and_version_charts(page: Any, served: Served) -> None:
    page.goto(served.url + "/models/churn")
    page.locator("nav").get_by_role("link", name="Serving of churn").click()
    page.wait_for_url("**/models/churn/serving")
    assert page.locator("h1").inner_text() == "Serving of churn"
    page.locator("#traffic-chart canvas").wait_for()  # uPlot drew both charts
    page.locator("#version-chart canvas").wait_for()
    legend = page.locator("#traffic-chart .u-legend").inner_text()
    assert "requests/s" in legend and "rows/s" in legend
    box = page.locator("#traffic-chart canvas").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("#log-requests").inner_text() == str(N_REQUESTS)
    assert "v1 → v2" in page.locator("ol.swaps").inner_text()
    assert page.locator("#served-version").inner_text().startswith("churn v2 (onnxruntime)")
    assert page.locator("#server-requests").inner_text() == "41"
    row = page.locator('tr[data-route="/invocations"] td[data-quantile="0.5"]').inner_text()
    assert row.endswith("ms")


def test_the_window_and_server_fields_reload_the_page(page: Any, served: Served) -> None:
    page.goto(served.url + "/models/churn/serving")
    page.get_by_label("Window", exact=True).select_option("1h")
    page.get_by_label("Server", exact=True).fill(f"http://127.0.0.1:{_free_port()}")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**window=1h**")
    assert "could not reach" in page.locator(".server-error").inner_text()
    assert "logged in the last 1h" in page.locator(".no-predictions").inner_text()
    assert page.locator("#traffic-chart").count() == 0
