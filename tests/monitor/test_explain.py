"""Per-row contributions: they add up to the model's output and are by input column."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skloop.core import MissingExtraError, PipelineError
from skloop.data import make_churn
from skloop.monitor._explain import Explanation, _shap, explain_rows, importance_weights, weighted_drift
from skloop.pipelines import FeatureSets, build_preprocessor

try:
    _shap()  # imports shap with its import-time matplotlib deprecation warnings silenced
except MissingExtraError:
    pytest.skip("the explain extra (shap) is not installed", allow_module_level=True)

FEATURES = FeatureSets(
    numeric=("age", "tenure_months", "monthly_charges", "support_calls"),
    categorical=("contract", "region", "payment_method"),
    boolean=("has_partner",),
    datetime=("signup_date",),
)


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn(600, seed=0)


def _fit(model: object, churn: pd.DataFrame, target: str = "churned", features: FeatureSets = FEATURES) -> Pipeline:
    X = churn[list(features.all_columns)]
    return Pipeline([("preprocess", build_preprocessor(features)), ("model", model)]).fit(X, churn[target])


@pytest.mark.parametrize(
    ("model", "output"),
    [
        (RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0, n_jobs=1), "probability of class 1"),
        (GradientBoostingClassifier(n_estimators=20, random_state=0), "log-odds of class 1"),
    ],
    ids=["random_forest", "gradient_boosting"],
)
def test_contributions_sum_to_the_output_minus_the_expected_value(
    churn: pd.DataFrame, model: object, output: str
) -> None:
    pipe = _fit(model, churn)
    X = churn[list(FEATURES.all_columns)].iloc[:40]
    explained = explain_rows(pipe, X)
    raw = pipe.predict_proba(X)[:, 1] if output.startswith("probability") else pipe.decision_function(X)
    assert explained.output == output
    np.testing.assert_allclose(explained.expected_value + explained.values.sum(axis=1), raw, atol=1e-6)
    np.testing.assert_allclose(explained.predictions, raw, atol=1e-6)
    # one column per *input* column: the one-hot levels of contract are summed into "contract"
    assert set(explained.columns) == set(FEATURES.all_columns)
    assert explained.values.shape == (40, len(explained.columns))
    assert not any("__" in c for c in explained.columns)
    # contract is the strongest driver of the churn example
    mean_abs = dict(zip(explained.columns, np.abs(explained.values).mean(axis=0), strict=True))
    assert max(mean_abs, key=mean_abs.__getitem__) in {"contract", "tenure_months"}


def test_mapping_sums_one_hot_levels(churn: pd.DataFrame) -> None:
    shap = _shap()
    pipe = _fit(GradientBoostingClassifier(n_estimators=10, random_state=0), churn)
    X = churn[list(FEATURES.all_columns)].iloc[:10]
    per_feature = shap.TreeExplainer(pipe[-1]).shap_values(pipe[:-1].transform(X))
    names = list(pipe[:-1].get_feature_names_out())
    contract = [i for i, n in enumerate(names) if n.startswith("categorical__contract")]
    assert len(contract) == 3
    explained = explain_rows(pipe, X)
    np.testing.assert_allclose(explained.frame()["contract"].to_numpy(), per_feature[:, contract].sum(axis=1))


def test_regression_top_k_and_json(churn: pd.DataFrame) -> None:
    features = FeatureSets(numeric=("age", "tenure_months"), categorical=("contract",))
    pipe = _fit(GradientBoostingRegressor(n_estimators=15, random_state=0), churn, "total_charges", features)
    X = churn[["age", "tenure_months", "contract"]].iloc[:8]
    explained = explain_rows(pipe, X)
    assert explained.output == "prediction"
    np.testing.assert_allclose(explained.predictions, pipe.predict(X), atol=1e-6)
    top = explained.top(2)
    assert len(top) == 8 and all(len(row) == 2 for row in top)
    assert top[0][0][0] == explained.columns[int(np.argmax(np.abs(explained.values[0])))]
    again = Explanation.from_dict(json.loads(json.dumps(explained.to_dict())))
    np.testing.assert_allclose(again.values, explained.values)
    assert again.index == explained.index
    assert list(explained.to_dict(k=1)["rows"][0]["contributions"]) == [top[0][0][0]]


def test_unsupported_models_and_missing_extra(churn: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    X = churn[list(FEATURES.all_columns)].iloc[:5]
    linear = FeatureSets(numeric=("age", "tenure_months"))
    with pytest.raises(PipelineError, match="tree ensembles"):
        explain_rows(_fit(LogisticRegression(), churn, features=linear), X[["age", "tenure_months"]])
    with pytest.raises(PipelineError, match="Pipeline"):
        explain_rows(RandomForestClassifier(), X)
    monkeypatch.setitem(sys.modules, "shap", None)  # what an environment without the extra does on import
    with pytest.raises(MissingExtraError, match="explain"):
        explain_rows(_fit(GradientBoostingClassifier(n_estimators=5), churn), X)


def test_importance_weighted_drift() -> None:
    importance = {"contract": {"mean": 0.3, "std": 0.01}, "age": {"mean": 0.1}, "noise": {"mean": -0.01}}
    assert weighted_drift({"contract": True, "age": False, "noise": True}, importance) == pytest.approx(0.75)
    assert weighted_drift({"contract": False, "age": True, "noise": True}, importance) == pytest.approx(0.25)
    assert weighted_drift({"a": True, "b": False}, None) == 0.5  # no importance: every column weighs 1
    assert importance_weights(importance, ["noise", "unknown"]) == {"noise": 1.0, "unknown": 1.0}
