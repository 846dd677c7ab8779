"""``search.strategy: optuna``: TPE trials pruned on their folds, seeded, in scikit-learn's layout."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skloop.core import MissingExtraError, PipelineError, SearchSpec
from skloop.pipelines import OptunaSearchCV, build_search, candidates_table, summarize_cv

optuna = pytest.importorskip("optuna")


def spec(**kw) -> SearchSpec:
    return SearchSpec.model_validate({"strategy": "optuna", **kw})


@pytest.fixture
def tree() -> Pipeline:
    return Pipeline([("model", DecisionTreeClassifier(random_state=0))])


@pytest.fixture
def xy() -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(n_samples=240, n_features=8, n_informative=4, flip_y=0.1, random_state=0)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]), pd.Series(y)


TREE_SPACE = {
    "model__max_depth": {"dist": "randint", "low": 1, "high": 12},
    "model__min_samples_leaf": {"dist": "loguniform", "low": 0.002, "high": 0.3},
    "model__criterion": ["gini", "entropy"],
}


def _fit(pipe, xy, *, seed: int = 0, n_jobs: int = 1, n_trials: int = 20, **kw):
    s = spec(space=TREE_SPACE, n_trials=n_trials, cv={"folds": 4}, scoring=["roc_auc", "accuracy"], **kw)
    plan = build_search(pipe, s, task="classification", seed=seed, n_jobs=n_jobs)
    return plan, plan.search.fit(*xy)


def test_trials_complete_and_pruned_in_grid_search_layout(tree, xy) -> None:
    plan, search = _fit(tree, xy)
    assert isinstance(search, OptunaSearchCV) and plan.n_candidates == 20 and plan.n_fits == 80
    cv = search.cv_results_
    states = list(cv["state"])
    assert len(cv["params"]) == 20 and {"complete", "pruned"} <= set(states)
    assert states[:5] == ["complete"] * 5  # the median pruner waits for 5 trials
    pruned = [i for i, s in enumerate(states) if s == "pruned"]
    for i in pruned:  # scored 2 or 3 of 4 folds (never pruned after the first, nor after the last)
        scored = [cv[f"split{j}_test_roc_auc"][i] for j in range(4)]
        assert 2 <= sum(not np.isnan(v) for v in scored) <= 3 and np.isnan(scored[-1])
        assert np.isnan(cv["rank_test_roc_auc"][i])
        assert cv["mean_test_roc_auc"][i] == pytest.approx(np.nanmean(scored))
    complete = [i for i, s in enumerate(states) if s == "complete"]
    means = cv["mean_test_roc_auc"]
    assert search.best_index_ == max(complete, key=lambda i: means[i])
    assert cv["rank_test_roc_auc"][search.best_index_] == 1
    assert search.best_params_ == cv["params"][search.best_index_]
    # the params respect the space: randint's high is excluded, as in scipy.stats.randint
    depths = [p["model__max_depth"] for p in cv["params"]]
    assert all(isinstance(d, int) and 1 <= d <= 11 for d in depths)
    assert {p["model__criterion"] for p in cv["params"]} <= {"gini", "entropy"}
    # the refit model is the best params fitted on everything
    assert search.best_estimator_.get_params()["model__max_depth"] == search.best_params_["model__max_depth"]
    assert summarize_cv(cv, plan.scoring, search.best_index_)["roc_auc"]["mean"] == search.best_score_
    # the run's table: states, the folds each trial scored, ranks null for the pruned
    rows = candidates_table(cv, plan.scoring)
    assert [r["state"] for r in rows] == states
    assert all(len(rows[i]["folds_test_accuracy"]) < 4 and rows[i]["rank_test_roc_auc"] is None for i in pruned)
    assert rows[search.best_index_]["rank_test_roc_auc"] == 1


def test_the_same_seed_gives_the_same_trials_whatever_n_jobs(tree, xy) -> None:
    _, a = _fit(tree, xy, seed=3, n_trials=12)
    _, b = _fit(tree, xy, seed=3, n_trials=12, n_jobs=2)  # folds in parallel: the pruning still goes fold by fold
    _, c = _fit(tree, xy, seed=4, n_trials=12)
    assert "pruned" in set(a.cv_results_["state"])
    assert a.cv_results_["params"] == b.cv_results_["params"]
    assert list(a.cv_results_["state"]) == list(b.cv_results_["state"])
    np.testing.assert_array_equal(a.cv_results_["mean_test_roc_auc"], b.cv_results_["mean_test_roc_auc"])
    assert a.cv_results_["params"] != c.cv_results_["params"]


def test_without_pruning_every_trial_scores_every_fold(tree, xy) -> None:
    _, search = _fit(tree, xy, pruning=False, n_trials=8)
    assert set(search.cv_results_["state"]) == {"complete"}
    assert not np.isnan(search.cv_results_["split3_test_accuracy"]).any()


def test_progress_ticks_every_fold_including_a_pruned_trials_rest(tree, xy) -> None:
    ticks: list[int] = []
    s = spec(space=TREE_SPACE, n_trials=12, cv={"folds": 3})
    plan = build_search(tree, s, task="classification", seed=0)
    plan.search.set_callbacks(type("P", (), {"advance": staticmethod(ticks.append)})())
    plan.search.fit(*xy)
    assert sum(ticks) == plan.n_fits == 36


def test_timeout_stops_starting_trials(tree, xy) -> None:
    s = spec(space=TREE_SPACE, n_trials=10_000, timeout=0.5, cv={"folds": 3})
    search = build_search(tree, s, task="classification", seed=0).search.fit(*xy)
    assert 1 <= len(search.cv_results_["params"]) < 10_000


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_fold_scores_equal_cross_validate_on_the_same_folds(task: str) -> None:
    """Any trial's scores are plain scikit-learn's for its params: a regression and a 3-class table."""
    if task == "regression":
        X, y = make_regression(n_samples=200, n_features=6, noise=10.0, random_state=1)
        pipe = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
        space = {"model__alpha": {"dist": "loguniform", "low": 1e-3, "high": 1e3}}
        scoring, sk_task, cv = (
            ["neg_root_mean_squared_error", "r2"],
            "regression",
            KFold(3, shuffle=True, random_state=5),
        )
    else:
        X, y = make_classification(n_samples=240, n_classes=3, n_informative=5, random_state=1)
        pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=500))])
        space = {"model__C": {"dist": "loguniform", "low": 1e-3, "high": 1e2}, "model__fit_intercept": [True, False]}
        scoring, sk_task = ["accuracy", "f1_macro"], "classification"
        cv = StratifiedKFold(3, shuffle=True, random_state=5)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    plan = build_search(pipe, spec(space=space, n_trials=10, cv={"folds": 3}, scoring=scoring), task=sk_task, seed=5)
    search = plan.search.fit(X, y)
    for i in {0, search.best_index_}:
        expected = cross_validate(
            clone(pipe).set_params(**search.cv_results_["params"][i]), X, y, cv=cv, scoring=scoring
        )
        for name in scoring:
            got = [search.cv_results_[f"split{j}_test_{name}"][i] for j in range(3)]
            np.testing.assert_allclose(got, expected[f"test_{name}"], rtol=1e-12)
    assert search.best_index_ == int(np.nanargmax(search.cv_results_[f"mean_test_{scoring[0]}"]))


def test_values_that_optuna_cannot_store_are_offered_by_repr() -> None:
    X, y = make_classification(n_samples=90, random_state=0)
    pipe = Pipeline([("model", LogisticRegression(max_iter=300))])
    weights = [None, {0: 1, 1: 3}]
    s = spec(space={"model__class_weight": weights}, n_trials=4, cv={"folds": 3})
    search = build_search(pipe, s, task="classification", seed=0).search.fit(X, y)
    assert all(p["model__class_weight"] in weights for p in search.cv_results_["params"])
    assert {t.params["model__class_weight"] for t in search.study_.trials} <= {"None", "{0: 1, 1: 3}"}


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({}, r"search\.space: strategy 'optuna' needs parameters"),
        ({"model__max_depth": {"dist": "randint", "low": 1.5, "high": 8}}, r"search\.space\.model__max_depth: randint"),
        ({"model__max_dept": [2, 3]}, r"search\.space\.model__max_dept:.*'model__max_depth'"),
        ({"model__max_depth": [[1], [1]]}, r"search\.space\.model__max_depth: the values .* repeat"),
    ],
)
def test_a_bad_space_is_named(tree, space, match) -> None:
    with pytest.raises(PipelineError, match=match):
        build_search(tree, spec(space=space), task="classification", seed=0)


def test_without_optuna_the_error_names_the_key_and_the_extra(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(MissingExtraError, match=r"^search\.strategy: .*'optuna'.*pip install 'skloop\[optuna\]'"):
        build_search(tree, spec(space=TREE_SPACE), task="classification", seed=0)
