"""Permutation importance per raw input column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from skloop.core import RegistryError
from skloop.registry import column_importance


def test_importance_is_per_input_column_sorted_and_seeded(churn_forest, churn_split) -> None:
    X, y = churn_split["X_test"], churn_split["y_test"]
    result = column_importance(churn_forest, X, y, scoring="roc_auc", n_repeats=2)
    assert set(result) == set(X.columns)  # one entry per raw column, not per one-hot feature
    means = [v["mean"] for v in result.values()]
    assert means == sorted(means, reverse=True)
    assert all(set(v) == {"mean", "std"} and v["std"] >= 0 for v in result.values())
    assert result == column_importance(churn_forest, X, y, scoring="roc_auc", n_repeats=2)


def test_a_useless_column_ranks_last_and_rows_are_capped() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=500), "noise": rng.normal(size=500)})
    y = 3 * X["signal"]
    model = LinearRegression().fit(X, y)
    result = column_importance(model, X, y, scoring="r2", max_rows=100, n_repeats=3)
    assert list(result) == ["signal", "noise"]
    assert result["signal"]["mean"] > 1 and result["noise"]["mean"] == pytest.approx(0, abs=1e-9)


def test_bad_inputs_are_registry_errors() -> None:
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(RegistryError, match="non-empty DataFrame"):
        column_importance(model, np.zeros((2, 1)), [0, 1], scoring="r2")
    with pytest.raises(RegistryError, match="X has 2 rows but y has 3"):
        column_importance(model, pd.DataFrame({"a": [0.0, 1.0]}), [0, 1, 2], scoring="r2")
    with pytest.raises(RegistryError, match="permutation importance failed with scoring 'no_such'"):
        column_importance(model, pd.DataFrame({"a": [0.0, 1.0]}), [0, 1], scoring="no_such")


def _mixed_frame(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "c": pd.Categorical(rng.choice(list("xyz"), n)),
        "d": rng.choice(["p", "q"], n),
    })  # fmt: skip


@pytest.mark.parametrize(
    ("task", "scoring"),
    [("binary", "roc_auc"), ("binary", "neg_log_loss"), ("multiclass", "accuracy"),
     ("multiclass", "roc_auc_ovr"), ("regression", "r2"), ("regression", "neg_root_mean_squared_error")],
)  # fmt: skip
def test_batched_permutations_give_scikit_learns_importances(
    task: str, scoring: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skloop.registry import _importance

    X = _mixed_frame()
    noise = np.random.default_rng(1).normal(size=len(X))
    y, model = {
        "binary": (((X["a"] + (X["c"] == "x") + noise) > 0.5).astype(int), RandomForestClassifier(5, random_state=0)),
        "multiclass": (np.where(X["a"] > 0.5, "hi", np.where(X["b"] > 0, "mid", "lo")), LogisticRegression()),
        "regression": (3 * X["a"] + X["b"] + noise, Ridge()),
    }[task]
    pipeline = make_pipeline(
        make_column_transformer((StandardScaler(), ["a", "b"]), (OneHotEncoder(), ["c", "d"])), model
    ).fit(X, y)
    monkeypatch.setattr(_importance, "BATCH_ROWS", 3 * len(X) + 1)  # calls of three permuted copies
    ours = column_importance(pipeline, X, y, scoring=scoring, seed=3, n_repeats=3)
    theirs = permutation_importance(pipeline, X, np.asarray(y), scoring=scoring, n_repeats=3, random_state=3)
    for i, column in enumerate(X.columns):
        assert ours[column]["mean"] == pytest.approx(theirs.importances_mean[i], abs=1e-12)
        assert ours[column]["std"] == pytest.approx(theirs.importances_std[i], abs=1e-12)
