"""Per-row contributions: they add up to the model's output and are by input column."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from skloop.core import MissingExtraError, PipelineError, parse_spec
from skloop.data import make_churn
from skloop.monitor._explain import Explanation, _shap, explain_rows, importance_weights, weighted_drift
from skloop.pipelines import FeatureSets, build_pipeline, build_preprocessor

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


# -- every preprocessing kind, trees and linear models: contributions add up ----------

KIND_FEATURES = {
    "numeric": FeatureSets(numeric=("age", "tenure_months")),
    "categorical": FeatureSets(categorical=("contract", "region")),
    "datetime": FeatureSets(datetime=("signup_date",)),
    "text": FeatureSets(numeric=("age",), text=("note",)),
    "boolean": FeatureSets(boolean=("has_partner", "paperless_billing")),
}
MODELS = {
    # unlimited depth: the trees on the TF-IDF of the note grow ~100 levels deep
    "random_forest_classifier": ("churned", "sklearn.ensemble.RandomForestClassifier", {"n_estimators": 20}),
    "logistic_regression": ("churned", "sklearn.linear_model.LogisticRegression", {"max_iter": 500}),
    "random_forest_regressor": (
        "total_charges",
        "sklearn.ensemble.RandomForestRegressor",
        {"n_estimators": 20, "max_depth": 30},
    ),
    "ridge": ("total_charges", "sklearn.linear_model.Ridge", {}),
}


@pytest.fixture(scope="module")
def churn_text() -> pd.DataFrame:
    """The churn example with a free-text note over a large vocabulary, a word in it tied to churn.

    Unlimited-depth forests on its TF-IDF grow trees ~100 deep along distinct sparse
    terms: path-dependent TreeSHAP returned contributions of ±1e7 there.
    """
    df = make_churn(400, seed=1)
    rng = np.random.default_rng(1)
    vocabulary = np.asarray([f"w{i}" for i in range(2000)])
    notes = [" ".join(rng.choice(vocabulary, 8)) for _ in range(len(df))]
    df["note"] = [
        n + (" cancel" if c and rng.random() < 0.8 else "") for n, c in zip(notes, df["churned"], strict=True)
    ]
    return df


def _spec_pipeline(df: pd.DataFrame, features: FeatureSets, model: str) -> tuple[Pipeline, pd.DataFrame, str]:
    target, cls, params = MODELS[model]
    spec = parse_spec(
        f"name: t\nseed: 0\ndata: {{train: t.csv, target: {target}}}\n"
        f"pipeline: {{model: {{class: {cls}, params: {json.dumps(params)}}}}}\n"
    )
    X = df[list(features.all_columns)]
    return build_pipeline(spec, features).fit(X, df[target]), X, target


def _model_output(pipe: Pipeline, X: pd.DataFrame) -> np.ndarray:
    estimator = pipe[-1]
    if not hasattr(estimator, "classes_"):
        return pipe.predict(X)
    if isinstance(estimator, LogisticRegression):
        return pipe.decision_function(X)  # log-odds of class 1
    return pipe.predict_proba(X)[:, 1]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("kind", list(KIND_FEATURES))
def test_contributions_add_up_for_every_preprocessing_kind(churn_text: pd.DataFrame, kind: str, model: str) -> None:
    features = KIND_FEATURES[kind]
    pipe, X, target = _spec_pipeline(churn_text, features, model)
    rows = X.iloc[:30]
    explained = explain_rows(pipe, rows)
    output = _model_output(pipe, rows)
    np.testing.assert_allclose(explained.expected_value + explained.values.sum(axis=1), output, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(explained.predictions, output, rtol=1e-6, atol=1e-6)
    assert set(explained.columns) == set(features.all_columns)  # input columns, not TF-IDF terms
    if target == "churned":
        assert np.all(np.abs(explained.values) <= 50)  # log-odds or probabilities, not 1e7
    expected_output = {
        "random_forest_classifier": "probability of class 1",
        "logistic_regression": "log-odds of class 1",
    }.get(model, "prediction")
    assert explained.output == expected_output


def test_a_model_that_cannot_be_explained_exactly_is_refused(churn_text: pd.DataFrame) -> None:
    features = KIND_FEATURES["numeric"]
    X = churn_text[list(features.all_columns)]
    knn = _fit(KNeighborsClassifier(), churn_text, features=features)
    with pytest.raises(PipelineError, match=r"model step \(KNeighborsClassifier\) cannot be explained") as info:
        explain_rows(knn, X.iloc[:5])
    assert "\n" not in str(info.value)
    # a linear model under a log link: its prediction is exp(z @ coef), not additive
    poisson = _fit(PoissonRegressor(), churn_text, "support_calls", features)
    with pytest.raises(PipelineError, match=r"model step \(PoissonRegressor\) cannot be explained exactly") as info:
        explain_rows(poisson, X.iloc[:5])
    assert "\n" not in str(info.value)


def test_a_forest_too_deep_to_explain_exactly_is_refused_with_the_cause(churn_text: pd.DataFrame) -> None:
    # regression trees on 400 rows of TF-IDF grow ~140 levels deep: neither TreeSHAP
    # algorithm keeps the precision to add up; the error says so instead of printing noise
    features = KIND_FEATURES["text"]
    X = churn_text[list(features.all_columns)]
    deep = _fit(RandomForestRegressor(n_estimators=20, random_state=0, n_jobs=1), churn_text, "total_charges", features)
    with pytest.raises(
        PipelineError, match=r"RandomForestRegressor\) cannot be explained exactly.*levels deep.*max_depth"
    ):
        explain_rows(deep, X.iloc[:5], background=X.iloc[:20])


def test_a_linear_model_needs_no_shap(churn: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    features = FeatureSets(numeric=("age", "tenure_months"), categorical=("contract",))
    pipe = _fit(Ridge(), churn, "total_charges", features)
    monkeypatch.setitem(sys.modules, "shap", None)
    X = churn[list(features.all_columns)].iloc[:10]
    background = churn[list(features.all_columns)].iloc[100:200]
    explained = explain_rows(pipe, X, background=background)
    np.testing.assert_allclose(explained.predictions, pipe.predict(X), rtol=1e-6)
    # the base is the average output over the background
    assert explained.expected_value == pytest.approx(float(pipe.predict(background).mean()))
