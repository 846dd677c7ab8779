from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from skloop.core import PipelineError
from skloop.pipelines import (
    FeatureSets,
    build_pipeline,
    build_preprocessor,
    feature_names_to_inputs,
)

RF = {"class": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 25}}


def _fit_predict(pipeline, df):
    X, y = df.drop(columns="y"), df["y"]
    pipeline.fit(X, y)
    return pipeline.predict_proba(X)


def test_auto_pipeline_fits_and_predicts_on_mixed_frame(mixed_frame, mixed_features, make_spec):
    pipeline = build_pipeline(make_spec({"model": RF}, seed=5), mixed_features)
    assert [name for name, _ in pipeline.steps] == ["preprocess", "model"]
    assert isinstance(pipeline["preprocess"], ColumnTransformer)
    assert isinstance(pipeline["model"], RandomForestClassifier)
    assert pipeline["model"].random_state == 5
    proba = _fit_predict(pipeline, mixed_frame)
    assert proba.shape == (len(mixed_frame), 2)
    assert not np.isnan(pipeline["preprocess"].transform(mixed_frame)).any()
    # unseen category, unseen words, all-missing row at predict time
    new = pd.DataFrame({"age": [np.nan], "city": ["tokyo"], "member": [None], "signup": [pd.NaT], "review": [None]})
    assert pipeline.predict(new).shape == (1,)


def test_auto_groups_and_rare_levels(mixed_frame, mixed_features):
    pre = build_preprocessor(mixed_features, rare_min_frequency=0.05).fit(mixed_frame)
    assert [name for name, _, _ in pre.transformers] == [
        "numeric", "categorical", "boolean", "datetime", "text_review",
    ]  # fmt: skip
    names = pre.get_feature_names_out().tolist()
    assert "categorical__city___rare__" in names  # 'marseille' and the missing value
    assert "categorical__city_marseille" not in names
    assert "datetime__signup_year" in names and "text_review__service" in names
    assert pre.remainder == "drop"


def test_groups_without_columns_are_skipped_and_pandas_output(mixed_frame):
    pre = build_preprocessor(FeatureSets(numeric=("age",), boolean=("member",)))
    out = pre.set_output(transform="pandas").fit_transform(mixed_frame)
    assert list(out.columns) == ["numeric__age", "boolean__member"]


def test_deterministic_with_a_seed(mixed_frame, mixed_features, make_spec):
    runs = [
        _fit_predict(build_pipeline(make_spec({"model": RF}, seed=11), mixed_features), mixed_frame) for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_explicit_preprocessing_and_auto_for_the_rest(mixed_frame, mixed_features, make_spec):
    pipeline = build_pipeline(
        make_spec(
            {
                "model": RF,
                "preprocessing": {
                    "numeric": [
                        {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "mean"}},
                        {"class": "skloop.pipelines.QuantileClipper"},
                    ],
                    "text": [{"class": "sklearn.feature_extraction.text.CountVectorizer"}],
                },
            }
        ),
        mixed_features,
    )
    _fit_predict(pipeline, mixed_frame)
    pre = pipeline["preprocess"]
    numeric = pre.named_transformers_["numeric"]
    assert [type(s).__name__ for _, s in numeric.steps] == ["SimpleImputer", "QuantileClipper"]
    assert type(pre.named_transformers_["text_review"][-1]).__name__ == "CountVectorizer"
    assert type(pre.named_transformers_["categorical"][-1]).__name__ == "OneHotEncoder"


def test_explicit_step_errors_name_the_key(mixed_features, make_spec):
    spec = make_spec({"model": RF, "preprocessing": {"categorical": [{"class": "sklearn.preprocessing.Nope"}]}})
    with pytest.raises(PipelineError, match=r"^pipeline\.preprocessing\.categorical\[0\]\.class: "):
        build_pipeline(spec, mixed_features)
    not_transformer = make_spec({"model": RF, "preprocessing": {"numeric": [{"class": "sklearn.linear_model.Ridge"}]}})
    with pytest.raises(PipelineError, match="is not a transformer"):
        build_pipeline(not_transformer, mixed_features)


def test_none_passes_numeric_through(mixed_frame, mixed_features, make_spec):
    spec = make_spec({"model": {"class": "sklearn.ensemble.HistGradientBoostingClassifier"},
                      "preprocessing": "none"})  # fmt: skip
    pipeline = build_pipeline(spec, mixed_features)
    _fit_predict(pipeline, mixed_frame)
    assert pipeline["preprocess"].get_feature_names_out().tolist() == ["numeric__age"]
    with pytest.raises(PipelineError, match="numeric columns only"):
        build_pipeline(spec, FeatureSets(categorical=("city",)))


def test_no_feature_columns(make_spec):
    with pytest.raises(PipelineError, match="no feature columns"):
        build_pipeline(make_spec({"model": RF}), FeatureSets())


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "my_factories.py").write_text(
        textwrap.dedent(
            """
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.tree import DecisionTreeClassifier

            def tree():
                return DecisionTreeClassifier(max_depth=3)

            def whole(features):
                assert features.numeric == ("age",)
                return make_pipeline(StandardScaler(), LogisticRegression())

            def broken():
                raise RuntimeError("boom")

            def not_an_estimator():
                return 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_factory_estimator_gets_preprocessor_and_seed(factories, mixed_frame, mixed_features, make_spec):
    pipeline = build_pipeline(make_spec({"factory": "my_factories:tree"}, seed=4), mixed_features)
    assert [n for n, _ in pipeline.steps] == ["preprocess", "model"]
    assert pipeline["model"].random_state == 4 and pipeline["model"].max_depth == 3
    _fit_predict(pipeline, mixed_frame)


def test_factory_pipeline_used_as_is_and_receives_features(factories, make_spec):
    pipeline = build_pipeline(make_spec({"factory": "my_factories:whole"}), FeatureSets(("age",)))
    assert isinstance(pipeline, Pipeline)
    assert [n for n, _ in pipeline.steps] == ["standardscaler", "logisticregression"]


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        ("my_factories:tre", r"^pipeline\.factory: .*has no attribute 'tre'; did you mean 'tree'"),
        ("my_factories:broken", r"^pipeline\.factory: calling .* failed: RuntimeError: boom"),
        ("my_factories:not_an_estimator", r"^pipeline\.factory: .* returned int"),
        ("no_such_factories_mod:f", r"^pipeline\.factory: .*module 'no_such_factories_mod'"),
    ],
)
def test_factory_errors(factories, make_spec, mixed_features, factory, match):
    with pytest.raises(PipelineError, match=match):
        build_pipeline(make_spec({"factory": factory}), mixed_features)


def test_feature_names_to_inputs(mixed_frame, mixed_features, make_spec):
    pipeline = build_pipeline(make_spec({"model": RF}), mixed_features)
    _fit_predict(pipeline, mixed_frame)
    mapping = feature_names_to_inputs(pipeline)
    assert list(mapping) == pipeline["preprocess"].get_feature_names_out().tolist()
    assert mapping["numeric__age"] == "age"
    assert mapping["categorical__city_paris"] == "city"
    assert mapping["boolean__member"] == "member"
    assert mapping["datetime__signup_dayofweek"] == "signup"
    assert mapping["text_review__great"] == "review"
    assert set(mapping.values()) == set(mixed_features.all_columns)


def test_feature_names_to_inputs_prefers_longest_column_and_needs_a_fitted_pipeline():
    df = pd.DataFrame({"a": ["x", "y"], "a_b": ["z", "x"]})
    pre = build_preprocessor(FeatureSets(categorical=("a", "a_b")), rare_min_frequency=0).fit(df)
    assert feature_names_to_inputs(pre) == {
        "categorical__a_x": "a",
        "categorical__a_y": "a",
        "categorical__a_b_x": "a_b",
        "categorical__a_b_z": "a_b",
    }
    with pytest.raises(PipelineError, match="fitted"):
        feature_names_to_inputs(Pipeline([("model", RandomForestClassifier())]))


def test_used_input_columns_follow_the_column_transformer() -> None:
    from sklearn.compose import make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skloop.pipelines import used_input_columns

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0], "c": ["x", "y", "x", "y"],
                      "d": [5.0, 6.0, 7.0, 9.0], "e": [1.0, 1.0, 2.0, 2.0]})  # fmt: skip
    y = [1.0, 2.0, 3.0, 4.0]

    def fitted(*transformers: tuple, remainder: str = "drop") -> Pipeline:
        select = ColumnTransformer(list(transformers), remainder=remainder)
        return Pipeline([("select", select), ("model", LinearRegression())]).fit(X, y)

    hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    assert used_input_columns(fitted(("n", StandardScaler(), ["d", "a"]), ("c", hot, ["c"]))) == ["a", "c", "d"]
    # the remainder is read unless dropped; a "drop" transformer's columns are not
    passthrough = fitted(("n", StandardScaler(), ["a"]), ("x", "drop", ["c"]), remainder="passthrough")
    assert used_input_columns(passthrough) == ["a", "b", "d", "e"]
    # positions, masks and selectors are resolved to names
    assert used_input_columns(fitted(("n", StandardScaler(), [0, 4]))) == ["a", "e"]
    assert used_input_columns(fitted(("n", StandardScaler(), [True, True, False, False, False]))) == ["a", "b"]
    assert used_input_columns(fitted(("n", StandardScaler(), make_column_selector(pattern="^[de]$")))) == ["d", "e"]
    # nested: the first step of the first step
    nested = Pipeline([("inner", Pipeline([("select", ColumnTransformer([("n", "passthrough", ["b"])]))])),
                       ("model", LinearRegression())]).fit(X, y)  # fmt: skip
    assert used_input_columns(nested) == ["b"]
    # any other first step reads everything it was fitted on; arrays have no names
    numbers = X.drop(columns="c")
    plain = Pipeline([("impute", SimpleImputer()), ("model", LinearRegression())]).fit(numbers, y)
    assert used_input_columns(plain) == ["a", "b", "d", "e"]
    assert used_input_columns(LinearRegression().fit(numbers.to_numpy(), y)) is None
