"""Windows over a logged prediction stream: a time series of every statistic."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import infer_schema
from skloop.monitor import WindowSeries, monitor_windows, parse_window, split_windows

IMPORTANCE = {"tenure_months": {"mean": 0.05}, "contract": {"mean": 0.02}, "age": {"mean": 0.001}}


def test_parse_window() -> None:
    assert parse_window("1d") == timedelta(days=1)
    assert parse_window("12h") == timedelta(hours=12)
    assert parse_window("30min") == timedelta(minutes=30)
    assert parse_window("2w") == timedelta(weeks=2)
    assert parse_window("500") == 500 and parse_window(7) == 7 and parse_window("5000 rows") == 5000
    for bad in ("", "1y", "0", "-1d", "soon", "0 rows"):
        with pytest.raises(DataError, match="window"):
            parse_window(bad)


def test_split_by_time_and_rows(perf_log: pd.DataFrame) -> None:
    shuffled = perf_log.sample(frac=1.0, random_state=0)  # windows sort by time themselves
    days = split_windows(shuffled, "1d")
    assert [len(rows) for _, _, rows in days] == [400] * 5
    assert days[0][0] == pd.Timestamp("2025-03-01", tz="UTC") and days[0][1] == pd.Timestamp("2025-03-02", tz="UTC")
    assert all(rows["time"].is_monotonic_increasing for _, _, rows in days)
    halves = split_windows(perf_log, "12h")
    assert len(halves) == 10 and sum(len(r) for _, _, r in halves) == 2000
    by_rows = split_windows(perf_log, 750)
    assert [len(r) for _, _, r in by_rows] == [750, 750, 500]
    assert by_rows[0][0] == perf_log["time"].iloc[0] and by_rows[0][1] == perf_log["time"].iloc[749]
    with pytest.raises(DataError, match="need a 'time' column"):
        split_windows(perf_log.drop(columns=["time"]), "1d")
    assert len(split_windows(perf_log.drop(columns=["time"]), 1000)) == 2


def test_every_statistic_per_window(perf_log: pd.DataFrame, perf_churn_model: tuple) -> None:
    model, estimator, train = perf_churn_model
    schema = infer_schema(train, target="churned")
    series = monitor_windows(
        perf_log, train, window="1d", schema=schema, task="classification", classes=model.classes_,
        reference_metrics={"holdout_accuracy": 0.76}, importance=IMPORTANCE, estimator=estimator, n_boot=100,
    )  # fmt: skip
    assert len(series) == 5 and series.window == "1d"
    first, last = series.windows[0], series.windows[-1]
    # drift: nothing on the training-like days, most features on the drifted ones
    assert series.series("drift_share")[:3] == [0.0, 0.0, 0.0]
    assert all(s >= 0.5 for s in series.series("drift_share")[3:])
    assert [w.drifted for w in series.windows] == [False, False, False, True, True]
    assert last.weighted_drift > 0.9  # the important tenure_months and contract drifted
    assert set(first.features) == {"age", "tenure_months", "monthly_charges", "total_charges", "support_calls",
                                   "contract", "region"}  # fmt: skip
    assert {"method", "statistic", "p_value", "threshold", "drifted"} <= set(last.features["tenure_months"])
    assert series.series("feature:tenure_months")[4] > series.series("feature:tenure_months")[0]
    # quality: the drifted days bring a new region and values outside the training range
    assert first.quality == {} and last.quality.get("unseen_categories") == 1
    # performance on the labeled days, with intervals and the change against the holdout
    assert [w.n_labeled for w in series.windows] == [400, 400, 400, 0, 0]
    acc = first.performance["accuracy"]
    assert acc.lower < acc.value < acc.upper and acc.reference == 0.76
    assert last.performance is None
    # the estimate is there for every window and close to the realised figure before the drift
    assert all(w.estimate is not None and w.estimate.estimated for w in series.windows)
    for w in series.windows[:3]:
        assert w.estimate["accuracy"].value == pytest.approx(w.performance["accuracy"].value, abs=0.06)
    assert series.series("performance:accuracy")[3:] == [None, None]


def test_row_windows_without_probabilities_and_json(perf_log: pd.DataFrame, perf_churn_model: tuple) -> None:
    train = perf_churn_model[2]
    log = perf_log.drop(columns=["proba_0", "proba_1"])
    series = monitor_windows(log, train.drop(columns=["churned"]), window=1000, n_boot=0)
    assert [w.n_rows for w in series.windows] == [1000, 1000]
    assert series.windows[0].estimate is None
    assert series.windows[0].performance is not None and "roc_auc" not in series.windows[0].performance
    assert series.windows[1].performance is not None  # 200 labeled rows in the second thousand
    again = WindowSeries.from_dict(json.loads(json.dumps(series.to_dict())))
    assert again == series
