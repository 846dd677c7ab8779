"""The fold cache: a search's candidates share each fold's fitted preprocessing, with
exactly a plain scikit-learn search's results."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skloop.core import SpecError, parse_spec
from skloop.pipelines import (
    FOLD_CACHE,
    FeatureSets,
    FoldCachedGridSearchCV,
    FoldCachedHalvingGridSearchCV,
    FoldCachedRandomizedSearchCV,
    build_preprocessor,
    build_search,
)

CV = StratifiedKFold(3, shuffle=True, random_state=0)


class CountingScaler(StandardScaler):
    """A StandardScaler that counts its fits (in this process: the searches run with n_jobs=1)."""

    fits: ClassVar[int] = 0

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> CountingScaler:
        CountingScaler.fits += 1
        super().fit(X, y, sample_weight)
        return self


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    n = 150
    X = pd.DataFrame({
        "a": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "b": rng.normal(size=n),
        "city": rng.choice(["paris", "lyon", "nice", "pau"], n, p=[0.5, 0.3, 0.19, 0.01]).astype(object),
        "member": rng.choice([True, False], n),
    })  # fmt: skip
    y = pd.Series(((X["b"] + (X["city"] == "lyon") + rng.normal(size=n)) > 0.3).astype(int), name="y")
    return X, y


def _pipeline(scaler: Any = None) -> Pipeline:
    pre = build_preprocessor(FeatureSets(numeric=("a", "b"), categorical=("city",), boolean=("member",)))
    steps: list[tuple[str, Any]] = [("preprocess", pre)]
    if scaler is not None:
        steps.append(("scale", scaler))
    return Pipeline([*steps, ("model", LogisticRegression(max_iter=500))])


def _scores(search: Any) -> dict[str, Any]:
    return {k: v for k, v in search.cv_results_.items() if "test" in k}


def _assert_same_results(plain: Any, cached: Any, X: pd.DataFrame) -> None:
    assert plain.cv_results_["params"] == cached.cv_results_["params"]
    for key, values in _scores(plain).items():
        np.testing.assert_array_equal(values, cached.cv_results_[key], err_msg=key)
    assert plain.best_params_ == cached.best_params_
    assert type(cached.best_estimator_) is Pipeline  # the user's pipeline, not the wrapper
    np.testing.assert_array_equal(plain.best_estimator_.predict_proba(X), cached.best_estimator_.predict_proba(X))


MODEL_ONLY = {"model__C": [0.01, 0.1, 1.0, 10.0]}
MIXED = {"model__C": [0.1, 1.0], "preprocess__numeric__impute__strategy": ["median", "mean"]}


@pytest.mark.parametrize(
    ("grid", "n_jobs"), [(MODEL_ONLY, 1), (MIXED, 1), (MODEL_ONLY, 2)], ids=["model-only", "mixed", "two-workers"]
)
def test_cached_grid_search_gives_plain_grid_search_results(frame, grid, n_jobs) -> None:
    X, y = frame
    scoring = ["roc_auc", "accuracy", "neg_log_loss"]
    kw: dict[str, Any] = {"cv": CV, "scoring": scoring, "refit": "roc_auc", "n_jobs": n_jobs}
    plain = GridSearchCV(_pipeline(), grid, **kw).fit(X, y)
    cached = FoldCachedGridSearchCV(_pipeline(), grid, **kw).fit(X, y)
    _assert_same_results(plain, cached, X)
    assert type(cached.estimator) is Pipeline and len(FOLD_CACHE) == 0  # nothing outlives the search


def test_preprocessing_is_fitted_once_per_fold_and_distinct_preprocessing(frame) -> None:
    X, y = frame
    model_only = {"model__C": [0.01, 0.1, 1.0, 10.0]}
    mixed = {"model__C": [0.1, 1.0], "scale__with_mean": [True, False]}
    for grid, cached_fits in ((model_only, 3 * 1 + 1), (mixed, 3 * 2 + 1)):  # folds x distinct, + the refit
        CountingScaler.fits = 0
        GridSearchCV(_pipeline(CountingScaler()), grid, cv=CV).fit(X, y)
        assert CountingScaler.fits == 4 * 3 + 1  # plain: every candidate refits every fold
        CountingScaler.fits = 0
        FOLD_CACHE.fits = FOLD_CACHE.hits = 0
        FoldCachedGridSearchCV(_pipeline(CountingScaler()), grid, cv=CV).fit(X, y)
        assert CountingScaler.fits == cached_fits
        assert (FOLD_CACHE.fits, FOLD_CACHE.hits) == (cached_fits, 4 * 3 + 1 - cached_fits)


def test_cached_halving_and_random_searches_give_plain_results(frame) -> None:
    X, y = frame
    grid = {"model__C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}
    kw: dict[str, Any] = {"cv": CV, "factor": 2, "random_state": 0, "min_resources": 40}
    plain = HalvingGridSearchCV(_pipeline(), grid, **kw).fit(X, y)
    FOLD_CACHE.hits = 0
    cached = FoldCachedHalvingGridSearchCV(_pipeline(), grid, **kw).fit(X, y)
    assert plain.n_iterations_ == cached.n_iterations_ > 1
    assert FOLD_CACHE.hits > 0  # candidates of a round share its subsampled folds
    _assert_same_results(plain, cached, X)
    rkw: dict[str, Any] = {"cv": CV, "n_iter": 4, "random_state": 1}
    plain = RandomizedSearchCV(_pipeline(), grid, **rkw).fit(X, y)
    cached = FoldCachedRandomizedSearchCV(_pipeline(), grid, **rkw).fit(X, y)
    _assert_same_results(plain, cached, X)


def test_a_table_without_a_unique_index_is_searched_without_the_cache(frame) -> None:
    X, y = frame
    X, y = X.set_axis([0] * len(X)), y.set_axis([0] * len(y))  # row labels cannot tell folds apart
    grid = {"model__C": [0.1, 1.0]}
    CountingScaler.fits = 0
    cached = FoldCachedGridSearchCV(_pipeline(CountingScaler()), grid, cv=CV).fit(X, y)
    assert CountingScaler.fits == 2 * 3 + 1
    plain = GridSearchCV(_pipeline(CountingScaler()), grid, cv=CV).fit(X, y)
    np.testing.assert_array_equal(plain.cv_results_["mean_test_score"], cached.cv_results_["mean_test_score"])


class Overwriter(LogisticRegression):
    """A model that writes into its input: refused on a cached (read-only) fold."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Overwriter:
        X[:, 0] = 0.0
        return super().fit(X, y, sample_weight)


def test_a_cached_fold_is_read_only(frame) -> None:
    X, y = frame
    pipe = Pipeline([("preprocess", ColumnTransformer([("n", StandardScaler(), ["b"])])), ("model", Overwriter())])
    with pytest.raises(ValueError, match="read-only"):
        FoldCachedGridSearchCV(pipe, {"model__C": [0.1, 1.0]}, cv=CV, error_score="raise").fit(X, y)


SPEC = """\
name: churn
data: {train: data.csv, target: y}
search:
  space: {model__C: [0.1, 1.0]}
"""


def test_search_cache_is_a_spec_key_on_by_default(frame) -> None:
    on = parse_spec(SPEC)
    off = parse_spec(SPEC.replace("search:\n", "search:\n  cache: false\n"))
    assert on.search.cache is True and off.search.cache is False
    pipe = _pipeline()
    assert isinstance(build_search(pipe, on.search, task="classification", seed=0).search, FoldCachedGridSearchCV)
    plain = build_search(pipe, off.search, task="classification", seed=0).search
    assert type(plain) is GridSearchCV
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC.replace("search:\n", "search:\n  cache: sometimes\n"), "skloop.yaml")
    assert "search.cache" in str(info.value) and "'sometimes'" in str(info.value)
