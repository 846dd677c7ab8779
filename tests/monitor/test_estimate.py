"""CBPE: the estimate without labels is close to the realised figure on data that did not drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from skloop.core import DataError
from skloop.data import make_churn
from skloop.monitor._estimate import CBPE
from skloop.monitor._performance import performance

COLUMNS = ["age", "tenure_months", "monthly_charges", "total_charges", "support_calls"]


@pytest.fixture(scope="module")
def churn_forest() -> tuple[RandomForestClassifier, CBPE]:
    train = make_churn(3000, seed=0)
    holdout = make_churn(1500, seed=1)
    model = RandomForestClassifier(n_estimators=60, min_samples_leaf=5, random_state=0, n_jobs=1)
    model.fit(train[COLUMNS], train["churned"])
    # an overfitted forest is over-confident on its own training rows: calibrate on the holdout
    estimator = CBPE(classes=model.classes_).fit(model.predict_proba(holdout[COLUMNS]), holdout["churned"])
    return model, estimator


def test_estimate_is_close_to_realised_without_drift(churn_forest: tuple[RandomForestClassifier, CBPE]) -> None:
    model, estimator = churn_forest
    current = make_churn(2000, seed=2)
    proba = model.predict_proba(current[COLUMNS])
    pred = model.predict(current[COLUMNS])
    estimated = estimator.estimate(proba, pred, n_boot=200, reference={"holdout_accuracy": 0.75})
    realised = performance(current["churned"], pred, proba=proba, classes=model.classes_, n_boot=0)
    assert estimated.estimated and all(m.estimated for m in estimated.metrics)
    assert not realised.estimated
    for name, tolerance in (("accuracy", 0.03), ("roc_auc", 0.04), ("log_loss", 0.04)):
        est, real = estimated[name], realised[name]
        assert est.value == pytest.approx(real.value, abs=tolerance), name
        assert est.lower <= real.value <= est.upper, name  # labels are drawn in the resamples
    assert estimated["accuracy"].reference == 0.75


def test_estimate_misses_a_concept_drift(churn_forest: tuple[RandomForestClassifier, CBPE]) -> None:
    """CBPE assumes P(y | x) is unchanged; under concept drift only labels tell the truth."""
    model, estimator = churn_forest
    drifted = make_churn(2000, seed=3, shift=1.0)
    proba = model.predict_proba(drifted[COLUMNS])
    estimated = estimator.estimate(proba, n_boot=100)
    realised = performance(drifted["churned"], proba.argmax(axis=1), proba=proba, classes=model.classes_, n_boot=0)
    assert estimated["roc_auc"].value - realised["roc_auc"].value > 0.1


def test_calibration_corrects_overconfident_probabilities() -> None:
    rng = np.random.default_rng(0)
    true_p = rng.random(3000)
    y = (rng.random(3000) < true_p).astype(int)
    overconfident = np.clip((true_p - 0.5) * 3 + 0.5, 0.01, 0.99)
    proba = np.column_stack([1 - overconfident, overconfident])
    raw = CBPE(classes=[0, 1], calibrate=False).fit(proba[:1500], y[:1500]).estimate(proba[1500:], n_boot=0)
    cal = CBPE(classes=[0, 1]).fit(proba[:1500], y[:1500]).estimate(proba[1500:], n_boot=0)
    truth = performance(y[1500:], proba[1500:].argmax(axis=1), proba=proba[1500:], classes=[0, 1], n_boot=0)
    assert abs(cal["accuracy"].value - truth["accuracy"].value) < 0.04
    assert raw["accuracy"].value - truth["accuracy"].value > 0.1  # over-confident: far too optimistic


def test_multiclass_and_dataframe_probabilities() -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet([2, 2, 2], 2000)
    y = np.array([rng.choice(3, p=row) for row in P])
    frame = pd.DataFrame(P, columns=["proba_a", "proba_b", "proba_c"])
    labels = np.array(["a", "b", "c"])[y]
    estimator = CBPE(classes=["a", "b", "c"]).fit(frame.iloc[:1000], labels[:1000])
    est = estimator.estimate(frame.iloc[1000:].reset_index(drop=True), n_boot=0)
    predicted = np.array(["a", "b", "c"])[P[1000:].argmax(axis=1)]
    real = performance(labels[1000:], predicted, proba=P[1000:], classes=["a", "b", "c"], n_boot=0)
    assert est["accuracy"].value == pytest.approx(real["accuracy"].value, abs=0.04)
    assert np.allclose(estimator.calibrated(P[:5]).sum(axis=1), 1.0)


def test_cbpe_needs_fitting_and_enough_rows() -> None:
    with pytest.raises(DataError, match="not fitted"):
        CBPE(classes=[0, 1]).estimate(np.full((3, 2), 0.5))
    with pytest.raises(DataError, match="at least 20"):
        CBPE(classes=[0, 1]).fit(np.full((5, 2), 0.5), [0, 1, 0, 1, 0])
    with pytest.raises(DataError, match="cannot estimate"):
        CBPE(classes=[0, 1], metrics=["rmse"]).fit(np.full((30, 2), 0.5), [0, 1] * 15)


def test_binary_estimates_are_about_the_positive_class() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(600)  # P("leave"), the first of the sorted classes
    y = np.where(rng.random(600) < p, "leave", "stay")
    P = np.column_stack([p, 1 - p])
    est = CBPE(classes=["leave", "stay"], positive="leave", calibrate=False).fit(P, y)
    report = est.estimate(P, n_boot=0)
    assert report.positive == "leave"
    # expected recall of "leave": E[TP] / E[positives] = Σ_{p>.5} p / Σ p
    assert report["recall"].value == pytest.approx(p[p > 0.5].sum() / p.sum())
    other = CBPE(classes=["leave", "stay"], calibrate=False).fit(P, y).estimate(P, n_boot=0)
    assert other.positive == "stay" and other["recall"].value == pytest.approx((1 - p)[p < 0.5].sum() / (1 - p).sum())
