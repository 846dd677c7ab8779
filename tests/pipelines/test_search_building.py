"""Search building: every strategy is plain scikit-learn and checks its inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    KFold,
    RandomizedSearchCV,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skloop.core import CVSpec, PipelineError, SearchSpec
from skloop.pipelines import (
    SearchProgress,
    attach_progress,
    build_cv,
    build_search,
    default_scoring,
    resolve_scoring,
    summarize_cv,
)


@pytest.fixture
def pipe() -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=200))])


@pytest.fixture
def xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] + rng.normal(scale=0.5, size=120) > 0).astype(int))
    return X, y


def spec(**kw) -> SearchSpec:
    return SearchSpec.model_validate(kw)


def test_grid_is_grid_search_cv_with_all_scorers(pipe) -> None:
    plan = build_search(
        pipe, spec(space={"model__C": [0.1, 1.0]}, scoring=["roc_auc", "accuracy"]), task="classification", seed=3
    )
    assert isinstance(plan.search, GridSearchCV)
    assert plan.n_candidates == 2 and plan.n_fits == 10 and plan.refit == "roc_auc"
    assert isinstance(plan.search.cv, StratifiedKFold) and plan.search.cv.random_state == 3


def test_none_is_one_candidate_still_cross_validated(pipe, xy) -> None:
    plan = build_search(pipe, spec(strategy="none", space={"model__C": [5.0]}), task="classification", seed=0)
    assert plan.n_candidates == 1
    plan.search.fit(*xy)
    summary = summarize_cv(plan.search.cv_results_, plan.scoring, plan.search.best_index_)
    assert set(summary) == set(default_scoring("classification"))
    assert len(summary["roc_auc"]["folds"]) == 5


def test_random_samples_distributions_with_the_seed(pipe, xy) -> None:
    s = spec(strategy="random", n_iter=4, space={"model__C": {"dist": "loguniform", "low": 0.01, "high": 10}})
    a = build_search(pipe, s, task="classification", seed=1)
    b = build_search(pipe, s, task="classification", seed=1)
    assert isinstance(a.search, RandomizedSearchCV)
    a.search.fit(*xy)
    b.search.fit(*xy)
    assert [p["model__C"] for p in a.search.cv_results_["params"]] == [
        p["model__C"] for p in b.search.cv_results_["params"]
    ]


def test_random_over_lists_caps_candidates_at_the_grid_size(pipe) -> None:
    plan = build_search(
        pipe, spec(strategy="random", n_iter=50, space={"model__C": [1, 2]}), task="classification", seed=0
    )
    assert plan.n_candidates == 2


def test_halving_uses_the_refit_scorer_only(pipe, xy) -> None:
    grid = build_search(
        pipe,
        spec(strategy="halving", space={"model__C": [0.1, 1, 10]}, scoring=["accuracy", "roc_auc"]),
        task="classification",
        seed=0,
    )
    assert isinstance(grid.search, HalvingGridSearchCV) and grid.scoring == ["accuracy"]
    rnd = build_search(
        pipe,
        spec(strategy="halving", space={"model__C": {"dist": "uniform", "low": 0.1, "high": 5}}),
        task="classification",
        seed=0,
    )
    assert isinstance(rnd.search, HalvingRandomSearchCV)
    grid.search.fit(*xy)
    summary = summarize_cv(grid.search.cv_results_, grid.scoring, grid.search.best_index_)
    assert len(summary["accuracy"]["folds"]) == 5


@pytest.mark.parametrize(
    ("cv", "task", "expected"),
    [
        ({}, "classification", StratifiedKFold),
        ({}, "regression", KFold),
        ({"stratified": False}, "classification", KFold),
        ({"group": "g"}, "classification", StratifiedGroupKFold),
        ({"group": "g", "stratified": False}, "classification", GroupKFold),
        ({"time_series": True, "stratified": False}, "classification", TimeSeriesSplit),
    ],
)
def test_cv_splitters(cv, task, expected) -> None:
    assert type(build_cv(CVSpec.model_validate(cv), task=task, seed=0)) is expected


def test_stratified_regression_is_refused() -> None:
    with pytest.raises(PipelineError, match=r"search\.cv\.stratified"):
        build_cv(CVSpec(stratified=True), task="regression", seed=0)


def test_unknown_scorer_is_named_with_suggestions() -> None:
    with pytest.raises(PipelineError, match=r"search\.scoring: 'roc_acu'.*'roc_auc'"):
        resolve_scoring(spec(scoring="roc_acu"), "classification")


def test_unknown_space_key_is_named_with_suggestions(pipe) -> None:
    with pytest.raises(PipelineError, match=r"search\.space\.model__c:.*'model__C'"):
        build_search(pipe, spec(space={"model__c": [1]}), task="classification", seed=0)


def test_default_scoring_per_task() -> None:
    assert default_scoring("classification", 3)[0] == "accuracy"
    assert default_scoring("regression") == ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]


def test_progress_ticks_once_per_fit_from_worker_processes(pipe, xy) -> None:
    ticks: list[int] = []
    plan = build_search(
        pipe, spec(space={"model__C": [0.1, 1.0, 10.0]}, cv={"folds": 3}), task="classification", seed=0, n_jobs=2
    )
    assert attach_progress(plan.search, ticks.append)
    plan.search.fit(*xy)
    assert sum(ticks) == plan.n_fits == 9


def test_progress_callback_pickles_without_the_function() -> None:
    import pickle

    cb = pickle.loads(pickle.dumps(SearchProgress(lambda n: None)))
    assert cb.advance is None


@pytest.mark.parametrize("strategy", ["grid", "halving"])
def test_scorers_of_a_target_of_names_are_about_the_positive_class(pipe, xy, strategy: str) -> None:
    from sklearn.metrics import average_precision_score, f1_score, recall_score

    from skloop.pipelines import build_scorer

    X, y = xy
    names = y.map({0: "stay", 1: "leave"})  # "leave" sorts first: scikit-learn's default pos_label=1 is no class
    scoring = ["f1", "roc_auc", "average_precision", "recall"] if strategy == "grid" else ["f1"]
    s = spec(strategy=strategy, space={"model__C": [0.5, 1.0]}, scoring=scoring, cv={"folds": 3})
    plan = build_search(pipe, s, task="classification", seed=0, positive="leave")
    assert plan.positive == "leave" and set(plan.scorers) == set(plan.scoring)
    plan.search.fit(X, names)  # was: ValueError pos_label=1 is not a valid label
    model = plan.search.best_estimator_
    pred = model.predict(X)
    leave = list(model.classes_).index("leave")
    assert build_scorer("f1", "leave")(model, X, names) == pytest.approx(f1_score(names, pred, pos_label="leave"))
    expected_recall = recall_score(names, pred, pos_label="leave")
    assert build_scorer("recall", "leave")(model, X, names) == pytest.approx(expected_recall)
    expected_ap = average_precision_score(names, model.predict_proba(X)[:, leave], pos_label="leave")
    assert build_scorer("average_precision", "leave")(model, X, names) == pytest.approx(expected_ap)
