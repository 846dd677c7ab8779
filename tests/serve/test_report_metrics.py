"""``/metrics`` carries the latest monitor report of the served version, and the Grafana
dashboard in docs/ reads only metrics the server exports.

A project per kind (diabetes: regression, realised performance; breast cancer: strings,
with the CBPE estimate), served with a fast poller; ``skloop monitor`` stores a report,
and the gauges must become that report's figures, then the next report's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from typer.testing import CliRunner

from deploy_helpers import Trained, train_project
from skloop.cli import app as cli
from skloop.registry import Registry
from skloop.serve import create_app
from skloop.store import Store, StoredReport

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "skloop-dashboard.json"
runner = CliRunner()


@pytest.fixture(scope="module", params=["diabetes", "breast_cancer"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return train_project(tmp_path_factory.mktemp(request.param) / "p", request.param)


@pytest.fixture
def served(trained: Trained) -> Iterator[tuple[TestClient, Store]]:
    store = Store.open(trained.settings)
    server = create_app(trained.settings, model_name=trained.name, registry=Registry(store), poll_seconds=0.05)
    try:
        with TestClient(server) as client:
            yield client, store
    finally:
        store.close()


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def gauge(values: dict[Any, float], name: str, **labels: str) -> float | None:
    return values.get((name, frozenset(labels.items())))


def monitor(trained: Trained, rows: pd.DataFrame, file: str) -> StoredReport:
    path = trained.root / file
    rows.to_csv(path, index=False)
    result = runner.invoke(cli, ["monitor", trained.name, "--current", str(path), "--n-boot", "0", "--spec",
                                 str(trained.spec)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code in (0, 3) and "stored as report" in result.output, result.output  # 3: drifted
    store = Store.open(trained.settings)
    try:
        return store.reports.list_reports(trained.name, limit=1)[0]
    finally:
        store.close()


def wait_for_report(client: TestClient, report: StoredReport) -> dict[Any, float]:
    stamp = report.created.timestamp() if report.created.tzinfo else report.created.replace(tzinfo=None).timestamp()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        values = samples(client)
        rows = gauge(values, "skloop_monitor_report_rows", model=report.name, version=str(report.version))
        if rows == report.n_rows and values:
            return values
        time.sleep(0.05)
    pytest.fail(f"/metrics did not show report {report.id} ({stamp}) within 30 s")


def check_equal(values: dict[Any, float], report: StoredReport) -> None:
    base = {"model": report.name, "version": str(report.version)}
    features = report.summary["features"]
    assert features
    for feature, test in features.items():
        labels = {**base, "feature": feature, "test": test["method"]}
        assert gauge(values, "skloop_feature_drift_score", **labels) == pytest.approx(test["statistic"])
        assert gauge(values, "skloop_feature_drift_threshold", **labels) == pytest.approx(test["threshold"])
        assert gauge(values, "skloop_feature_drift_p_value", **labels) == (
            None if test["p_value"] is None else pytest.approx(test["p_value"])
        )
        assert gauge(values, "skloop_feature_drifted", **base, feature=feature) == float(test["drifted"])
    assert gauge(values, "skloop_drift_share", **base) == pytest.approx(report.drift_share)
    assert gauge(values, "skloop_dataset_drifted", **base) == float(report.drifted)
    assert gauge(values, "skloop_performance_alert", **base) == float(report.performance_alert)
    for key, name in (("performance", "skloop_realised_performance"), ("estimate", "skloop_estimated_performance")):
        metrics = (report.summary.get(key) or {}).get("metrics") or {}
        for metric, figure in metrics.items():
            expected = None if figure["value"] is None else pytest.approx(figure["value"])
            assert gauge(values, name, **base, metric=metric) == expected, (name, metric)
            if figure.get("reference") is not None:
                assert gauge(values, "skloop_reference_performance", **base, metric=metric) == pytest.approx(
                    figure["reference"]
                )
    shown = {labels for name, labels in values if name == "skloop_feature_drift_score"}
    assert len(shown) == len(features)  # the previous report's series are gone


def test_metrics_carry_the_latest_monitor_report(trained: Trained, served: tuple[TestClient, Store]) -> None:
    client, _ = served
    assert not any(name.startswith("skloop_feature_drift") for name, _ in samples(client))  # no report yet
    table: Any = trained.table
    shifted = monitor(trained, table.make(150, seed=9, shift=0.8), "shifted.csv")
    assert shifted.drifted
    values = wait_for_report(client, shifted)
    check_equal(values, shifted)
    kinds = {name for name, _ in values}
    assert "skloop_realised_performance" in kinds  # the rows carry their labels
    if trained.table.task != "regression":  # type: ignore[attr-defined]
        assert "skloop_estimated_performance" in kinds  # CBPE: classifiers only
    calm = monitor(trained, table.make(120, seed=4), "calm.csv")  # a new report lands: the gauges follow
    check_equal(wait_for_report(client, calm), calm)


def test_every_metric_of_the_grafana_dashboard_is_exported(trained: Trained, served: tuple[TestClient, Store]) -> None:
    client, _ = served
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    used = {name for e in exprs for name in re.findall(r"\b(skloop_[a-z0-9_]+)", e)}
    assert len(exprs) >= 15 and len(used) >= 15
    table: Any = trained.table
    monitor(trained, table.make(100, seed=2, shift=0.5), "traffic.csv")
    rows = table.make(5, seed=1).drop(columns=[trained.target])
    numeric = rows.select_dtypes("number").columns[0]
    rows.loc[0, numeric] = rows[numeric].abs().max() * 1000 + 1  # out of the training range: a validation flag
    answer = client.post("/invocations", json={"dataframe_records": json.loads(rows.to_json(orient="records"))})
    assert answer.status_code == 200, answer.text
    client.post("/invocations", json={"dataframe_records": [{"nope": 1}]})  # a refused request
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        exported = {name for name, _ in samples(client)}
        if "skloop_feature_drift_score" in exported:
            break
        time.sleep(0.05)
    if trained.table.task == "regression":  # type: ignore[attr-defined]
        exported.add("skloop_estimated_performance")  # CBPE estimates classifiers only
    assert used - exported == set(), f"the dashboard reads metrics /metrics does not export: {used - exported}"
    for panel in dashboard["panels"]:
        assert panel["type"] == "row" or panel["datasource"]["uid"] == "${datasource}", panel["title"]
