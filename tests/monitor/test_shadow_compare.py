"""The shadow against the served model: agreement, output drift, realised metrics, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error
from sklearn.tree import DecisionTreeRegressor

from skloop.core import DataError
from skloop.monitor import MonitorReport, ShadowAccumulator, ShadowReport, compare_shadow, shadow_page
from skloop.monitor._compare import compare_data
from skloop.store import Store

COLORS = np.array(["blue", "green", "red"])


def _pages(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _classifier_pairs(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two logistic regressions of a three-colour label, one on fewer features, as logged pairs (string labels)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = COLORS[np.argmax(X[:, :3] + rng.normal(0, 0.8, size=(n, 3)), axis=1)]
    a = LogisticRegression().fit(X[:300], y[:300])
    b = LogisticRegression().fit(X[:300, :2], y[:300])
    frame = pd.DataFrame({
        "served_version": 3, "served": a.predict(X), "shadow_version": 4, "shadow": b.predict(X[:, :2]).astype(object),
        "error": None, "label": np.where(np.arange(n) % 2 == 0, y.astype(object), None),
    }, index=pd.RangeIndex(1, n + 1, name="id"))  # fmt: skip
    for prefix, proba in (("served_proba::", a.predict_proba(X)), ("shadow_proba::", b.predict_proba(X[:, :2]))):
        for j, c in enumerate(a.classes_):
            frame[prefix + c] = proba[:, j]
    return frame, y


def test_agreement_and_confusion_match_pandas_whatever_the_pages() -> None:
    frame, _ = _classifier_pairs()
    frame.loc[frame.index[:40], ["shadow", "error"]] = [None, "timed out after 100 ms"]  # 40 rows the shadow missed
    answered = frame[frame["shadow"].notna()]
    expected = float((answered["served"] == answered["shadow"]).mean())
    table = pd.crosstab(answered["served"], answered["shadow"]).reindex(index=COLORS, columns=COLORS, fill_value=0)
    reports = [compare_shadow(_pages(frame, size), "classification", classes=list(COLORS), n_boot=0)
               for size in (len(frame), 64, 7)]  # fmt: skip
    r = reports[0]
    assert r.n_rows == 900 and r.n_shadowed == 860 and r.n_failed == 40 and r.failures == ["timed out after 100 ms"]
    assert r.agreement == pytest.approx(expected, abs=1e-15) and 0.5 < expected < 0.95
    assert r.classes == list(COLORS) and r.confusion == table.to_numpy().tolist()
    assert r.served_versions == {"3": 860} and r.shadow_versions == {"4": 860}
    assert all(x.to_dict() == r.to_dict() for x in reports[1:])  # the pages do not change the report
    # multiclass: the label's drift only, by the monitor's own test (chi-square under 1,000 pairs)
    assert [f.name for f in r.drift] == ["prediction"] and r.n_drift_rows == 860
    counts = pd.DataFrame({"served": answered["served"].value_counts(), "shadow": answered["shadow"].value_counts()})
    chi2 = stats.chi2_contingency(counts.fillna(0).to_numpy().T)
    f = r.drift[0]
    assert f.method == "chisquare" and f.statistic == pytest.approx(chi2.statistic, rel=1e-9)
    assert f.p_value == pytest.approx(chi2.pvalue, rel=1e-9)


def test_string_labels_realised_accuracy_and_mcnemar_match_sklearn_and_scipy() -> None:
    frame, _ = _classifier_pairs(seed=1)
    compare = {"metric": "accuracy", "method": "mcnemar", "margin": 0.0, "confidence": 0.95}
    r = compare_shadow([frame], "classification", classes=list(COLORS), n_boot=0, compare=compare)
    labelled = frame[frame["label"].notna()]
    assert r.n_labelled == len(labelled) == 450
    truth = labelled["label"].astype(str)
    acc_a, acc_b = accuracy_score(truth, labelled["served"]), accuracy_score(truth, labelled["shadow"])
    assert r.served_performance is not None and r.shadow_performance is not None
    assert r.served_performance["accuracy"].value == pytest.approx(acc_a, abs=1e-15)
    assert r.shadow_performance["accuracy"].value == pytest.approx(acc_b, abs=1e-15)
    c = r.comparison
    assert c is not None and c.method == "mcnemar"
    right_a, right_b = labelled["served"] == truth, labelled["shadow"] == truth
    b, cc = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    assert (c.detail["b"], c.detail["c"]) == (b, cc)
    assert c.difference == pytest.approx(acc_b - acc_a, abs=1e-15)
    assert c.p_value == pytest.approx(stats.binomtest(cc, b + cc, 0.5, alternative="greater").pvalue, rel=1e-9)
    assert not r.better and acc_a > acc_b  # the shadow sees two of the three useful features
    assert "keep the served model" in r.conclusion()


def test_a_regression_pair_gets_mean_absolute_difference_and_correlation() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(800, 3))
    y = 2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.5, size=800)
    served = LinearRegression().fit(X[:200], y[:200]).predict(X)
    shadow = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X[:200], y[:200]).predict(X)
    frame = pd.DataFrame({"served_version": 1, "served": served, "shadow_version": 2, "shadow": shadow,
                          "error": None, "label": y.astype(str).astype(object)},
                         index=pd.RangeIndex(10, 810, name="id"))  # fmt: skip
    frame.loc[frame.index[::4], "label"] = None
    whole = compare_shadow([frame], "regression", n_boot=0, compare={"method": "bootstrap", "n_boot": 200})
    paged = compare_shadow(_pages(frame, 33), "regression", n_boot=0, compare={"method": "bootstrap", "n_boot": 200})
    assert whole.mean_abs_difference == pytest.approx(np.mean(np.abs(shadow - served)), rel=1e-12)
    assert whole.mean_difference == pytest.approx(np.mean(shadow - served), rel=1e-9, abs=1e-12)
    assert whole.correlation == pytest.approx(pd.Series(served).corr(pd.Series(shadow)), rel=1e-12)
    assert paged.mean_abs_difference == pytest.approx(whole.mean_abs_difference, rel=1e-12)
    assert paged.correlation == pytest.approx(whole.correlation, rel=1e-12)
    assert whole.agreement is None and whole.confusion == []
    ks = stats.ks_2samp(served, shadow)
    (f,) = whole.drift
    assert f.name == "prediction" and f.method == "ks"
    assert f.statistic == pytest.approx(ks.statistic, abs=1e-12) and f.p_value == pytest.approx(ks.pvalue, rel=1e-6)
    labelled = frame["label"].notna().to_numpy()
    c = whole.comparison
    assert c is not None and c.metric == "rmse" and c.method == "bootstrap" and c.n_rows == labelled.sum()
    assert c.champion == pytest.approx(root_mean_squared_error(y[labelled], served[labelled]), rel=1e-12)
    assert c.challenger == pytest.approx(root_mean_squared_error(y[labelled], shadow[labelled]), rel=1e-12)
    assert whole.served_performance is not None
    mae = mean_absolute_error(y[labelled], served[labelled])
    assert whole.served_performance["mae"].value == pytest.approx(mae, rel=1e-12)
    assert "differ from the served model's (v1)" in whole.conclusion()
    assert ShadowReport.from_dict(whole.to_dict()).to_dict() == whole.to_dict()


def test_labels_too_few_or_absent_are_said_not_failed() -> None:
    frame, _ = _classifier_pairs(n=60)
    frame["label"] = None
    r = compare_shadow([frame], "classification", classes=list(COLORS), n_boot=0)
    assert r.comparison is None and r.n_labelled == 0 and "skloop labels" in (r.comparison_reason or "")
    frame.loc[frame.index[:3], "label"] = "blue"  # one class only: DeLong/McNemar cannot say anything useful
    r = compare_shadow([frame], "classification", classes=list(COLORS), n_boot=0)
    assert r.n_labelled == 3 and r.served_performance is not None
    with pytest.raises(DataError, match="task must be"):
        ShadowAccumulator("ranking")


def test_store_pages_carry_the_shadow_and_monitor_reports_keep_it(store: Store) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    shadow: list[dict[str, Any]] = [
        {"version": 2, "prediction": "red", "probabilities": {"blue": 0.1, "red": 0.9}},
        {"version": 2, "error": "timed out after 100 ms"},
        {"version": 2, "prediction": "blue", "probabilities": {"blue": 0.6, "red": 0.4}},
    ]
    records = [
        {"request_id": "r1", "row": i, "time": t0 + timedelta(seconds=i), "model": "m", "version": 1,
         "inputs": {"x": i}, "outputs": {"prediction": "red", "probabilities": {"blue": 0.3, "red": 0.7},
                                         "shadow": shadow[i]}}
        for i in range(3)
    ] + [{"request_id": "r2", "row": 0, "time": t0 + timedelta(seconds=9), "model": "m", "version": 1,
          "inputs": {"x": 9}, "outputs": {"prediction": "blue"}}]  # fmt: skip
    store.predictions.insert_predictions(records)
    store.predictions.insert_labels("m", [{"request_id": "r1", "row": 2, "label": "blue"}])
    pages = list(store.predictions.iter_pages("m", page_size=2, order="time"))
    assert [len(p) for p in pages] == [2, 2]
    pairs = pd.concat([shadow_page(p) for p in pages])
    assert pairs["shadow"].tolist() == ["red", None, "blue", None]
    assert pairs["error"].tolist() == [None, "timed out after 100 ms", None, None]
    assert pairs["shadow_proba::red"].iloc[0] == 0.9 and pairs["label"].tolist()[2] == "blue"
    assert list(pages[1].shadow.columns) == ["version", "prediction", "error"]
    r = compare_shadow((shadow_page(p) for p in pages), "classification", classes=["blue", "red"], n_boot=0)
    assert (r.n_rows, r.n_shadowed, r.n_failed, r.agreement) == (4, 2, 1, 0.5)
    assert r.confusion == [[0, 0], [1, 1]]
    report = MonitorReport(drift=compare_data(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 3.0]})),
                           shadow=r)  # fmt: skip
    assert MonitorReport.from_json(report.to_json()).shadow == ShadowReport.from_dict(r.to_dict())
    assert "shadow" not in MonitorReport(drift=report.drift).to_dict()  # absent unless asked for
