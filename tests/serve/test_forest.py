"""Big batches of a forest: scikit-learn's trees on the ONNX feature graph, checked against the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serve_helpers import churn_pipeline, project_settings

from skloop.registry import Registry, infer_signature, save_model
from skloop.serve import _forest, load_served_model
from skloop.serve._validate import to_frame
from skloop.store import Store


def _register(tmp_path: Path, pipe: Any, X: pd.DataFrame, y: pd.Series, task: str) -> Registry:
    store = Store.open(project_settings(tmp_path))
    with store.runs.start_run("m", spec={"name": "m"}, code_commit="c0ffee", environment={}) as run:
        store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
    registry = Registry(store)
    registry.register(run.id, "m", signature=infer_signature(X, y, task=task, model=pipe).to_dict())
    return registry


def _regressor() -> tuple[Any, pd.DataFrame, pd.Series]:
    """Extra trees on numbers with gaps and a category with gaps (text columns are not exported to ONNX)."""
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.pipeline import Pipeline

    from skloop.pipelines import FeatureSets, build_preprocessor

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.choice(["a", "b", "c"], n),
            "z": rng.uniform(0, 100, n),
        }
    )
    X.loc[::7, "x"] = np.nan
    X.loc[::11, "k"] = None
    y = pd.Series(3 * X["x"].fillna(0) + (X["k"] == "b") + X["z"] / 50 + rng.normal(size=n) / 10)
    features = FeatureSets(numeric=("x", "z"), categorical=("k",))
    model = ExtraTreesRegressor(n_estimators=15, random_state=0)
    return Pipeline([("preprocess", build_preprocessor(features)), ("model", model)]).fit(X, y), X, y


def _big_batch(served: Any, X: pd.DataFrame, n: int) -> tuple[Any, pd.DataFrame]:
    """``n`` rows of ``X`` (with its gaps) and more gaps, validated as the server does."""
    rows = X.sample(n, replace=True, random_state=1).reset_index(drop=True)
    column = rows.columns[1]
    rows[column] = rows[column].astype(object).where(np.arange(n) % 5 != 0, None)
    prepared = served.compiled.from_table(rows)
    return prepared, to_frame(prepared, served.signature)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_big_batch_of_a_forest_answers_as_the_pipeline(tmp_path: Path, task: str) -> None:
    pipe, X, y = churn_pipeline(n_rows=600) if task == "classification" else _regressor()
    registry = _register(tmp_path, pipe, X, y, task)
    try:
        served = load_served_model(registry, "m/1")
    finally:
        registry.store.close()
    assert served.runtime == "onnxruntime" and served.forest is not None
    prepared, frame = _big_batch(served, X, _forest.FOREST_ROWS + 88)
    predictions, proba = served.predict(prepared)
    whole, served.forest = served.forest, None
    graph_predictions, graph_proba = served.predict(prepared)  # the same rows on the whole ONNX graph
    if task == "classification":
        expected = pipe.predict_proba(frame)
        np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)  # scikit-learn's own trees
        np.testing.assert_allclose(graph_proba, expected, rtol=0, atol=1e-5)
        assert predictions.tolist() == pipe.predict(frame).tolist()
    else:
        expected = pipe.predict(frame)
        scale = max(float(np.abs(expected).max()), 1.0)
        np.testing.assert_allclose(predictions, expected, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(graph_predictions, expected, rtol=0, atol=2e-5 * scale)
        assert proba is None
    # a small batch stays on the whole graph
    small = served.compiled.from_table(frame.head(10))
    served.forest = whole
    calls: list[int] = []
    run = whole.run
    whole.run = lambda *a: calls.append(1) or run(*a)  # type: ignore[method-assign]
    served.predict(small)
    assert calls == []
    served.predict(prepared)
    assert calls == [1]


def test_a_forest_that_fails_its_parity_check_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipe, X, y = churn_pipeline(n_rows=300)
    registry = _register(tmp_path, pipe, X, y, "classification")
    monkeypatch.setattr(_forest.ForestRunner, "parity_failure", lambda *a: "max |Δ| = 0.5 (planted)")
    try:
        served = load_served_model(registry, "m/1")
    finally:
        registry.store.close()
    assert served.runtime == "onnxruntime" and served.forest is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_pipeline_not_ending_in_a_forest_has_no_forest_runner(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    pipe, X, y = churn_pipeline(n_rows=300)
    pipe.steps[-1] = ("model", LogisticRegression(max_iter=500))
    pipe.fit(X, y)
    registry = _register(tmp_path, pipe, X, y, "classification")
    try:
        served = load_served_model(registry, "m/1")
    finally:
        registry.store.close()
    assert served.runtime == "onnxruntime" and served.forest is None
