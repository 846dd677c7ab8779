"""What a stored report carries for the monitoring page: per-window counts, distributions, alerts, summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.monitor import MetricResult, MonitorReport, PerformanceReport, monitor_frame, relative_drift


@pytest.fixture(scope="module")
def report() -> MonitorReport:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=800), "c": rng.choice(["a", "b", "c"], 800)})
    cur = pd.DataFrame({
        "x": np.concatenate([rng.normal(size=300), rng.normal(2.0, size=300)]),
        "c": np.concatenate([rng.choice(["a", "b", "c"], 300), rng.choice(["a", "new"], 300)]),
    })  # fmt: skip
    return monitor_frame(cur, ref, window=300)


def test_each_window_keeps_its_counts_from_the_accumulators(report: MonitorReport) -> None:
    assert report.windows is not None and len(report.windows) == 2
    for w in report.windows.windows:
        x, c = w.features["x"], w.features["c"]
        assert sum(x["current_counts"]) == w.n_rows == 300  # every value on the reference's bins
        assert len(x["current_counts"]) == len(report.drift["x"].bin_edges) - 1  # type: ignore[arg-type]
        assert "categories" not in x  # numeric bins are the report's, shared by every window
        assert sum(c["current_counts"]) == 300 and len(c["categories"]) == len(c["reference_counts"])
    first, second = report.windows.windows
    assert "new" not in first.features["c"]["categories"] and "new" in second.features["c"]["categories"]
    assert not first.features["x"]["drifted"] and second.features["x"]["drifted"]
    again = MonitorReport.from_json(report.to_json())  # kept through the stored JSON
    assert again.windows is not None and again.windows.windows[1].features["c"] == second.features["c"]


def test_distribution_of_a_feature_overall_and_in_a_window(report: MonitorReport) -> None:
    whole = report.distribution("x")
    assert whole["kind"] == "numeric" and sum(whole["current"]) == 600 and whole["window"] is None
    assert "–" in whole["labels"][0] and abs(sum(whole["reference_share"]) - 1) < 1e-9
    late = report.distribution("c", window=1)
    counts = dict(zip(late["labels"], late["current"], strict=True))
    assert counts.get("b", 0) == 0 and counts["new"] > 0 and late["drifted"] is True
    assert dict(zip(late["labels"], late["reference"], strict=True))["new"] == 0
    with pytest.raises(DataError, match="feature 'nope' was not tested"):
        report.distribution("nope")
    with pytest.raises(DataError, match="window 5 does not exist; this report has 2"):
        report.distribution("x", window=5)


def test_performance_alerts_need_the_interval_past_the_reference() -> None:
    def perf(*metrics: MetricResult) -> PerformanceReport:
        return PerformanceReport(task="classification", n_rows=100, metrics=metrics)

    base = MonitorReport.from_json(
        monitor_frame(pd.DataFrame({"x": range(50)}), pd.DataFrame({"x": range(50)})).to_json()
    )
    worse = MetricResult("roc_auc", 0.70, lower=0.65, upper=0.75, reference=0.80)
    within = MetricResult("accuracy", 0.78, lower=0.74, upper=0.82, reference=0.80)
    loss = MetricResult("log_loss", 0.60, lower=0.55, upper=0.66, reference=0.40, greater_is_better=False)
    no_interval = MetricResult("f1", 0.10, reference=0.80)
    r = MonitorReport(drift=base.drift, performance=perf(worse, within, no_interval), estimate=perf(loss))
    assert r.performance_alerts() == ["realised roc_auc", "estimated log_loss"]
    summary = r.summary()
    assert summary["alerts"] == r.performance_alerts() and summary["n_windows"] == 0
    assert summary["performance"]["metrics"]["roc_auc"] == {"value": 0.7, "lower": 0.65, "upper": 0.75,
                                                             "reference": 0.8}  # fmt: skip
    json.dumps(summary, allow_nan=False)  # JSON-able as stored


def test_relative_drift_is_one_at_the_threshold() -> None:
    assert relative_drift(0.1, None, 0.1) == 1.0 and relative_drift(0.05, 0.05, 0.05) == pytest.approx(1.0)
    assert relative_drift(0.9, 1e-300, 0.05) == 5.0 and relative_drift(None, None, 0.1) is None
    assert relative_drift(0.1, 0.5, 0.0) is None
