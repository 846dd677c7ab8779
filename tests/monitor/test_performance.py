"""Realised performance: every metric equals scikit-learn's, intervals are seeded and cover it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from skloop.core import DataError
from skloop.monitor._metrics import bootstrap_weights
from skloop.monitor._performance import PerformanceReport, performance


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1), 2)  # rounded: ties in the scores
    return y, (p > 0.5).astype(int), np.column_stack([1 - p, p])


def test_binary_metrics_match_sklearn(binary: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, pred, proba = binary
    report = performance(y, pred, proba=proba, classes=[0, 1], n_boot=0)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
        "f1": skm.f1_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "log_loss": skm.log_loss(y, proba),
    }
    assert report.names == list(expected)
    for name, value in expected.items():
        assert report[name].value == pytest.approx(value, abs=1e-12), name
    assert report["accuracy"].lower is None  # n_boot=0: no interval


def test_multiclass_and_regression_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    P = rng.dirichlet([1, 1, 1], 300)
    P[np.arange(300), y] += 0.4
    P /= P.sum(axis=1, keepdims=True)
    pred = P.argmax(axis=1)
    labels = np.array(["a", "b", "c"])
    report = performance(labels[y], labels[pred], proba=P, classes=["a", "b", "c"], n_boot=0)
    assert report["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovr"))
    assert report["f1"].value == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert report["log_loss"].value == pytest.approx(skm.log_loss(y, P))

    yr = rng.normal(size=200)
    yh = yr + 0.3 * rng.normal(size=200)
    reg = performance(yr, yh, task="regression", n_boot=0)
    assert reg["rmse"].value == pytest.approx(skm.root_mean_squared_error(yr, yh))
    assert reg["mae"].value == pytest.approx(skm.mean_absolute_error(yr, yh))
    assert reg["r2"].value == pytest.approx(skm.r2_score(yr, yh))


def test_intervals_are_seeded_cover_the_value_and_shrink_with_rows(
    binary: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    y, pred, proba = binary
    a = performance(y, pred, proba=proba, classes=[0, 1], n_boot=300, seed=7)
    b = performance(y, pred, proba=proba, classes=[0, 1], n_boot=300, seed=7)
    assert a == b
    for m in a.metrics:
        assert m.lower is not None and m.upper is not None
        assert m.lower <= m.value <= m.upper, m.name
    small = performance(y[:100], pred[:100], proba=proba[:100], classes=[0, 1], n_boot=300, seed=7)
    width = a["accuracy"].upper - a["accuracy"].lower
    assert small["accuracy"].upper - small["accuracy"].lower > width
    # the percentile interval of accuracy is close to the normal approximation
    acc = a["accuracy"].value
    assert width == pytest.approx(2 * 1.96 * np.sqrt(acc * (1 - acc) / len(y)), rel=0.25)


def test_bootstrap_weights_are_resample_counts() -> None:
    w = bootstrap_weights(50, 2000, np.random.default_rng(0))
    assert w.shape == (2000, 50) and (w.sum(axis=1) == 50).all()
    assert w.mean() == pytest.approx(1.0) and w.var() == pytest.approx(1 - 1 / 50, rel=0.05)


def test_change_against_the_training_holdout() -> None:
    y = np.array([0, 1] * 50)
    pred = y.copy()
    pred[:20] = 1 - pred[:20]  # accuracy 0.8
    version_metrics = {"holdout_accuracy": 0.9, "holdout_neg_log_loss": -0.3, "cv_accuracy_mean": 0.5}
    report = performance(y, pred, classes=[0, 1], reference=version_metrics, n_boot=0)
    acc = report["accuracy"]
    assert (acc.reference, round(acc.change, 10), round(acc.degradation, 10)) == (0.9, -0.1, 0.1)
    assert "log_loss" not in report  # no probabilities
    reg = performance([1.0, 2.0, 3.0], [1.5, 2.0, 2.0], task="regression", n_boot=0,
                      reference={"holdout_neg_root_mean_squared_error": -0.5})  # fmt: skip
    assert reg["rmse"].reference == 0.5 and not reg["rmse"].greater_is_better
    assert reg["rmse"].degradation == pytest.approx(reg["rmse"].value - 0.5)


def test_labels_as_text_match_numeric_predictions_and_missing_labels_are_dropped() -> None:
    labels = ["1", "0", None, "1", "0"]  # the store keeps labels as text
    report = performance(labels, [1, 0, 1, 0, 0], classes=[0, 1], n_boot=0)
    assert report.n_rows == 4 and report["accuracy"].value == 0.75


def test_json_round_trip(binary: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, pred, proba = binary
    report = performance(y, pred, proba=proba, classes=[0, 1], n_boot=50, reference={"holdout_roc_auc": 0.9})
    again = PerformanceReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="no prediction has a label"):
        performance([None, None], [0, 1], classes=[0, 1])
    with pytest.raises(DataError, match="3 labels for 2 predictions"):
        performance([0, 1, 1], [0, 1], classes=[0, 1])
    with pytest.raises(DataError, match="shape"):
        performance([0, 1], [0, 1], classes=[0, 1], proba=np.ones((2, 3)))
    with pytest.raises(DataError, match="unknown regression metrics"):
        performance([0.0], [1.0], task="regression", metrics=["accuracy"])


def test_binary_metrics_are_about_the_positive_class(binary: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, pred, proba = binary
    names = np.array(["leave", "stay"])  # sorted: "leave" first, as in the model's classes_
    y_names, pred_names = names[1 - y], names[1 - pred]  # class 1 is "leave"
    proba_names = proba[:, ::-1]  # columns in the order of ["leave", "stay"]
    report = performance(y_names, pred_names, proba=proba_names, classes=["leave", "stay"], positive="leave", n_boot=0)
    assert report.positive == "leave"
    for name, metric in (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)):
        assert report[name].value == pytest.approx(metric(y_names, pred_names, pos_label="leave")), name
    assert report["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    # without the recorded class, the last one ("stay"), as before
    plain = performance(y_names, pred_names, proba=proba_names, classes=["leave", "stay"], n_boot=0)
    assert plain.positive == "stay"
    assert plain["f1"].value == pytest.approx(skm.f1_score(y_names, pred_names, pos_label="stay"))
    assert PerformanceReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    with pytest.raises(DataError, match="positive class 'churned' is not one of the model's classes"):
        performance(y_names, pred_names, classes=["leave", "stay"], positive="churned", n_boot=0)


def test_float_and_integer_classes_are_one_name() -> None:
    """A model trained on 0.0/1.0 scores logged labels 0/1 and proba_0/proba_1 columns."""
    import pandas as pd

    proba = pd.DataFrame({"proba_0": [0.8, 0.3, 0.6], "proba_1": [0.2, 0.7, 0.4]})
    report = performance(["0", "1", "1"], [0.0, 1.0, 0.0], proba=proba, classes=[0.0, 1.0], n_boot=0)
    assert report.classes == ("0", "1") and report.positive == "1"
    assert report["accuracy"].value == pytest.approx(2 / 3) and report["recall"].value == pytest.approx(0.5)
