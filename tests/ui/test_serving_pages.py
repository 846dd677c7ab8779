"""The serving page: the prediction log's traffic, and a server's ``/metrics``.

The percentiles are checked against a hand computation; the page against the seeded
store (SQLite and, when configured, PostgreSQL), a closed port, a server that is not a
skloop server, and a real ``skloop serve`` (a subprocess on 127.0.0.1) that received a
known number of requests.
"""

from __future__ import annotations

import http.client
import http.server
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_helpers import Seeded

from skloop.core import ServerMetricsError, Settings, UsageError
from skloop.serve._metrics import ServeMetrics
from skloop.store import Store
from skloop.ui import create_app
from skloop.ui._server_metrics import histogram_quantile, metrics_url, parse_metrics
from skloop.ui._serving_pages import seconds

T0 = datetime(2026, 2, 3, 10, 0, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1)


def _route_row(html: str, route: str) -> list[str]:
    row = re.search(rf'<tr[^>]*data-route="{re.escape(route)}">(.*?)</tr>', html, re.S)
    assert row, f"no latency row for {route}"
    return re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row.group(1))


# -- percentiles ----------------------------------------------------------------------


def test_histogram_quantile_equals_a_hand_computation() -> None:
    # 20 observations: 2 in (0, 0.01], 8 in (0.01, 0.05], 6 in (0.05, 0.1], 3 in (0.1, 0.5], 1 above
    buckets = [(0.01, 2.0), (0.05, 10.0), (0.1, 16.0), (0.5, 19.0), (math.inf, 20.0)]
    # p50: rank 10 -> the (0.01, 0.05] bucket, 8 of its 8: 0.01 + 0.04 * (10 - 2) / 8 = 0.05
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.05)
    # p90: rank 18 -> (0.1, 0.5], 2 of its 3: 0.1 + 0.4 * 2 / 3
    assert histogram_quantile(0.9, buckets) == pytest.approx(0.1 + 0.4 * 2 / 3)
    # p5: rank 1 -> the first bucket, from 0: 0.01 * 1 / 2
    assert histogram_quantile(0.05, buckets) == pytest.approx(0.005)
    # p99: rank 19.8 -> the +Inf bucket: the largest finite bound, as PromQL
    assert histogram_quantile(0.99, buckets) == 0.5
    assert histogram_quantile(0.5, list(reversed(buckets))) == pytest.approx(0.05)  # any order
    assert histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None  # no observation
    with pytest.raises(ValueError, match="Inf"):
        histogram_quantile(0.5, [(0.1, 3.0)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        histogram_quantile(1.5, buckets)


def test_parse_the_servers_own_exposition() -> None:
    metrics = ServeMetrics()
    for s in (0.0008, 0.003, 0.004, 0.012, 0.3):
        metrics.observe("/invocations", 200, s)
    metrics.observe("/invocations", 400, 0.0004)
    metrics.observe("/v2/models/{name}/infer", 503, 0.015)
    metrics.observe("/metrics", 200, 0.001)
    metrics.serving("churn", 3, "onnx")
    metrics.rows.inc(12)
    metrics.rejected.inc()
    metrics.swaps.inc(2)
    metrics.flags.labels("age", "missing_imputed").inc(4)
    metrics.batch_rows.observe(3)
    got = parse_metrics(metrics.exposition().decode(), "http://h/metrics")
    assert (got.model, got.version, got.runtime) == ("churn", "3", "onnx")
    assert (got.predicted_rows, got.rejected, got.swaps) == (12, 1, 2)
    assert got.flags == (("age", "missing_imputed", 4),)
    assert [r.route for r in got.routes] == ["/invocations", "/metrics", "/v2/models/{name}/infer"]
    p = got.predictions  # the two prediction routes, not /metrics
    assert (p.requests, p.errors, p.server_errors, p.latency_count) == (7, 2, 1, 7)
    # 7 observations; rank 3.5 falls in (0.002, 0.005], which holds 2 (the 3rd and 4th): 0.002 + 0.003 * 1.5 / 2
    assert p.percentiles[0.5] == pytest.approx(0.002 + 0.003 * 1.5 / 2)
    assert got.batch_rows[0.5] == pytest.approx(2 + 2 * 0.5)  # one observation in (2, 4]
    with pytest.raises(ServerMetricsError, match="skloop serve"):
        parse_metrics("# HELP up up\n# TYPE up gauge\nup 1\n", "u")
    with pytest.raises(ServerMetricsError, match="Prometheus text"):
        parse_metrics("<html>not metrics</html>", "u")


def test_metrics_url_and_latency_text() -> None:
    assert metrics_url(" http://127.0.0.1:8080/ ") == "http://127.0.0.1:8080/metrics"
    for bad in ("ftp://h/metrics", "127.0.0.1:8080", "file:///etc/passwd", "http://"):
        with pytest.raises(ServerMetricsError, match="http:// or https://"):
            metrics_url(bad)
    assert [seconds(v) for v in (None, 0.0042, 0.25, 1.5)] == ["–", "4.2 ms", "250 ms", "1.5 s"]


# -- the page over the seeded store -------------------------------------------------------


def _log(store: Store, n: int = 12) -> None:
    """``n`` requests of 3 rows, one a minute: v1, then v2 from the 8th; every 5th request's rows flagged."""
    flag = {"row": None, "column": "plan", "problem": "is a category not seen in training", "severity": "flag"}
    store.predictions.insert_predictions(
        {"request_id": f"r{i}", "row": row, "time": T0 + timedelta(minutes=i), "model": "churn",
         "version": 1 if i < 7 else 2, "outputs": {"prediction": "0"}, "flags": [flag] if i % 5 == 0 else []}
        for i in range(n) for row in range(3)
    )  # fmt: skip


def test_unknown_model_is_a_404_page(client: TestClient) -> None:
    response = client.get("/models/nope/serving")
    assert response.status_code == 404 and "nope" in response.text


def test_no_logged_prediction_says_how_to_start_serving(client: TestClient) -> None:
    response = client.get("/models/churn/serving")
    assert response.status_code == 200
    assert "No prediction of churn has been logged" in response.text
    assert "skloop serve churn --port 8080" in response.text
    assert "skloop ui --server" in response.text  # and how to see latency
    assert 'href="/models/churn/serving"' in client.get("/models/churn").text  # linked from the model page


def test_logged_traffic_versions_and_flags(client: TestClient, seeded: Seeded) -> None:
    _log(seeded.store)
    response = client.get("/models/churn/serving")
    html = response.text
    assert response.status_code == 200
    counts = (_cell(html, "log-requests"), _cell(html, "log-rows"), _cell(html, "log-flagged"))
    assert counts == ("12", "36", "9 (25.0 %)")
    assert 'id="traffic-chart"' in html and 'id="version-chart"' in html
    chart = json.loads(re.search(r'id="serving-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert chart["bucket"] == 10  # 11 minutes in < 120 buckets
    assert sum(chart["requests"]) * chart["bucket"] == pytest.approx(12)
    assert len(chart["t"]) == 67 and chart["t"][0] == int(T0.timestamp())  # every bucket, empty ones as 0
    assert [v for v in chart["version"] if v is not None] == [1] * 7 + [2] * 5
    assert chart["swaps"] == [{"t": (T0 + timedelta(minutes=7)).timestamp(), "from": 1, "to": 2}]
    assert "v1 → <strong>v2</strong>" in html
    assert "is a category not seen in training" in html
    assert 'href="/models/churn/2/lineage"' in html
    assert "give the server's URL above" in html
    past = client.get("/models/churn/serving?window=1h")  # the log is from 2026-02-03
    assert past.status_code == 200 and "has been logged in the last 1h" in past.text
    bad = client.get("/models/churn/serving?window=2y")
    assert bad.status_code == 400 and "window must be one of" in bad.text


def test_unreachable_and_wrong_servers_are_said_so(seeded: Seeded) -> None:
    _log(seeded.store, 3)
    closed = f"http://127.0.0.1:{_free_port()}"
    with TestClient(create_app(seeded.store, server=closed)) as c:
        response = c.get("/models/churn/serving")
    assert response.status_code == 200
    assert f"could not reach {closed}/metrics" in response.text and 'id="log-requests">3<' in response.text

    class NotMetrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 404 if self.path != "/metrics" else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"# HELP up up\n# TYPE up gauge\nup 1\n")

        def log_message(self, *args: Any) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMetrics)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(seeded.store)) as c:
            base = f"http://127.0.0.1:{other.server_address[1]}"
            wrong = c.get("/models/churn/serving", params={"server": base})
            missing = c.get("/models/churn/serving", params={"server": base + "/api"})
            scheme = c.get("/models/churn/serving", params={"server": "file:///etc/passwd"})
    finally:
        other.shutdown()
        other.server_close()
    assert wrong.status_code == 200 and "without skloop_requests_total" in wrong.text
    assert missing.status_code == 200 and "answered HTTP 404" in missing.text
    assert scheme.status_code == 200 and "must be an http:// or https:// URL" in scheme.text
    with pytest.raises(UsageError, match="--server"):
        create_app(seeded.store, server="localhost:8080")


# -- against a real skloop serve -----------------------------------------------------------


def _register_churn(settings: Settings) -> None:
    """A small random forest on make_churn, registered as churn v1 and promoted champion."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from skloop.data import infer_schema, make_churn
    from skloop.pipelines import FeatureSets, build_preprocessor
    from skloop.registry import Registry, infer_signature, save_model

    df = make_churn(300, seed=0)
    X, y = df.drop(columns=["churned", "customer_id"]), df["churned"]
    schema = infer_schema(X)
    features = FeatureSets(**{k: tuple(schema.by_kind(k)) for k in ("numeric", "categorical", "boolean", "datetime")})
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0, n_jobs=1)
    pipe = Pipeline([("preprocess", build_preprocessor(features)), ("model", model)]).fit(X, y)
    with Store.open(settings) as store:
        with store.runs.start_run("churn", spec={"name": "churn"}, code_commit="c0ffee", environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"), media_type="application/x-skops")
        registry = Registry(store)
        signature = infer_signature(X, y, task="classification", model=pipe).to_dict()
        version = registry.register(run.id, "churn", signature=signature)
        registry.promote("churn", version.version, "champion", reason="test")


ROW = {
    "signup_date": "2024-06-20", "age": 41, "tenure_months": 12, "contract": "one-year", "payment_method": None,
    "paperless_billing": False, "has_partner": True, "region": "north", "monthly_charges": 61.82,
    "total_charges": 700.5, "support_calls": 1,
}  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``skloop serve churn`` in a subprocess over a fresh project: ``(project, base URL)``."""
    _register_churn(Settings.from_env(tmp_path, env={}))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    command = [sys.executable, "-m", "skloop.cli", "serve", "churn", "--port", str(port), "--spec", str(tmp_path),
               "--log-dir", str(tmp_path / "wal"), "--no-onnx"]  # fmt: skip
    stderr = tmp_path / "serve.err"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"skloop serve exited early: {stderr.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/v2/health/ready")
                ready = conn.getresponse().status == 200
                conn.close()
                if ready:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("skloop serve did not become ready")
            time.sleep(0.2)
        yield tmp_path, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _buckets_of(text: str, route: str) -> list[tuple[float, float]]:
    """The route's latency buckets, read from the exposition with a regex (not the parser under test)."""
    pattern = rf'skloop_request_seconds_bucket\{{le="([^"]+)",route="{re.escape(route)}"\}} ([0-9.e+]+)'
    return [(float(le), float(n)) for le, n in re.findall(pattern, text)]


def _as_seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) / 1000 if unit == "ms" else float(value)


@pytest.mark.timeout(300)
def test_the_page_shows_a_real_servers_requests_and_latency(served: tuple[Path, str]) -> None:
    project, base = served
    sent = 23
    conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
    body = json.dumps({"dataframe_records": [ROW, ROW]})
    for _ in range(sent):
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200, response.read()
        response.read()
    conn.close()
    with Store.open(Settings.from_env(project, env={})) as store:
        deadline = time.monotonic() + 60  # the server's ingestor moves the log into the store every second
        while store.predictions.count_predictions("churn") < 2 * sent and time.monotonic() < deadline:
            time.sleep(0.2)
        with TestClient(create_app(store, server=base)) as c:
            html = c.get("/models/churn/serving").text
        with TestClient(create_app(store)) as c:  # the page's field instead of --server
            field = c.get("/models/churn/serving", params={"server": base + "/metrics"}).text
    with urllib.request.urlopen(base + "/metrics", timeout=10) as scrape:
        text = scrape.read().decode()
    assert "could not reach" not in html
    assert _cell(html, "served-version").startswith("churn v1 (sklearn)")
    assert _cell(html, "server-requests") == str(sent) and _cell(field, "server-requests") == str(sent)
    assert _cell(html, "server-errors").startswith("0 (0 5xx")
    requests, errors, p50, p90, p99, _mean = _route_row(html, "/invocations")
    assert (requests, errors) == (str(sent), "0")
    latencies = [_as_seconds(p) for p in (p50, p90, p99)]
    assert 0 < latencies[0] <= latencies[1] <= latencies[2] < 5
    buckets = sorted(_buckets_of(text, "/invocations"))
    assert buckets[-1] == (math.inf, sent)
    for q, shown in zip((0.5, 0.9, 0.99), latencies, strict=True):
        rank = q * sent  # the value lies in the first bucket holding the rank, as the hand rule says
        i = next(i for i, (_, n) in enumerate(buckets) if n >= rank)
        lower = buckets[i - 1][0] if i else 0.0
        upper = buckets[i][0] if math.isfinite(buckets[i][0]) else buckets[i - 1][0]
        assert lower * 0.99 <= shown <= upper * 1.01, (q, shown, lower, upper)
    assert (_cell(html, "log-requests"), _cell(html, "log-rows")) == (str(sent), str(2 * sent))


def test_the_pages_field_fetches_only_hosts_the_operator_chose(seeded: Seeded) -> None:
    # anyone who can open the read-only UI can fill the field: it must not make the UI fetch any host
    _log(seeded.store, 3)
    with TestClient(create_app(seeded.store)) as c:
        other = c.get("/models/churn/serving", params={"server": "http://10.0.0.7:8080"})
    assert other.status_code == 400
    assert "field may name" in other.text and "10.0.0.7" in other.text
    assert "skloop ui --server URL" in other.text
    closed = f"http://127.0.0.1:{_free_port()}"
    with TestClient(create_app(seeded.store, server="http://models.internal:8080")) as c:
        loopback = c.get("/models/churn/serving", params={"server": closed})
        elsewhere = c.get("/models/churn/serving", params={"server": "http://other.internal:8080"})
    assert loopback.status_code == 200 and f"could not reach {closed}/metrics" in loopback.text
    assert elsewhere.status_code == 400 and "models.internal" in elsewhere.text
