"""Cross-validation, scoring and hyperparameter search from a :class:`SearchSpec`.

Everything here is plain scikit-learn: the search objects are ``GridSearchCV``,
``RandomizedSearchCV`` and the successive-halving searches, so a result can always be
reproduced by hand with the same pipeline, grid, folds and seed. ``strategy: optuna``
(an extra) is :class:`~skloop.pipelines._optuna.OptunaSearchCV`, which fills the same
attributes.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from scipy import stats
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    KFold,
    ParameterGrid,
    RandomizedSearchCV,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
)
from sklearn.model_selection._search import BaseSearchCV

from skloop.core import CVSpec, Distribution, PipelineError, SearchSpec
from skloop.pipelines._fold_cache import fold_cached_search_class
from skloop.pipelines._scoring import build_scorer, build_scorers

__all__ = [
    "SearchPlan",
    "build_cv",
    "build_search",
    "default_scoring",
    "resolve_scoring",
    "summarize_cv",
    "to_search_space",
]


@dataclass(frozen=True)
class SearchPlan:
    """A search ready to fit, and what it will do.

    Attributes
    ----------
    search : BaseSearchCV or OptunaSearchCV
        The search object (unfitted).
    scoring : list of str
        The metrics computed per fold.
    refit : str
        The metric that picks the best candidate.
    n_candidates : int or None
        Candidates to evaluate (None when a halving search decides as it goes).
    n_folds : int
        Folds per candidate.
    scorers : dict
        Metric name → the scorer the search uses (binary ones about ``positive``).
    positive : scalar or None
        The positive class of a binary target.
    """

    search: Any
    scoring: list[str]
    refit: str
    n_candidates: int | None
    n_folds: int
    scorers: dict[str, Any] = field(default_factory=dict)
    positive: Any = None

    @property
    def n_fits(self) -> int | None:
        """Fits in the search (candidates x folds), before the final refit."""
        return None if self.n_candidates is None else self.n_candidates * self.n_folds


def default_scoring(task: str, n_classes: int = 2) -> list[str]:
    """The metrics computed when the spec names none; the first picks the best candidate.

    Examples
    --------
    >>> default_scoring("classification")
    ['roc_auc', 'accuracy', 'f1']
    >>> default_scoring("regression")[0]
    'neg_root_mean_squared_error'
    """
    if task == "regression":
        return ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]
    if n_classes > 2:
        return ["accuracy", "f1_macro", "roc_auc_ovr"]
    return ["roc_auc", "accuracy", "f1"]


def resolve_scoring(spec: SearchSpec, task: str, n_classes: int = 2) -> tuple[list[str], str]:
    """The metric names and the refit metric, checked against scikit-learn's scorers."""
    names = spec.scorers or default_scoring(task, n_classes)
    known = set(get_scorer_names())
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PipelineError(
                f"search.scoring: {name!r} is not a scikit-learn scorer{hint} (see sklearn.metrics.get_scorer_names())"
            )
    return list(names), spec.refit or names[0]


def build_cv(spec: CVSpec, *, task: str, seed: int) -> Any:
    """The cross-validation splitter for the spec.

    Classification folds are stratified unless ``stratified: false``; ``group`` keeps
    each group in one fold; ``time_series`` trains on the past and tests on the future.
    """
    stratified = task == "classification" if spec.stratified is None else spec.stratified
    if stratified and task != "classification":
        raise PipelineError("search.cv.stratified: stratified folds need a classification target")
    random_state = seed if spec.shuffle else None
    if spec.time_series:
        return TimeSeriesSplit(n_splits=spec.folds)
    if spec.group:
        if stratified:
            return StratifiedGroupKFold(n_splits=spec.folds, shuffle=spec.shuffle, random_state=random_state)
        return GroupKFold(n_splits=spec.folds, shuffle=spec.shuffle, random_state=random_state)
    if stratified:
        return StratifiedKFold(n_splits=spec.folds, shuffle=spec.shuffle, random_state=random_state)
    return KFold(n_splits=spec.folds, shuffle=spec.shuffle, random_state=random_state)


def _distribution(d: Distribution) -> Any:
    if d.dist == "uniform":
        return stats.uniform(d.low, d.high - d.low)
    if d.dist == "loguniform":
        return stats.loguniform(d.low, d.high)
    return stats.randint(int(d.low), int(d.high))


def to_search_space(space: dict[str, Any], estimator: Any) -> dict[str, Any]:
    """Turn spec values into scikit-learn's, checking every key against ``estimator``."""
    valid = set(estimator.get_params(deep=True))
    out: dict[str, Any] = {}
    for key, values in space.items():
        if key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PipelineError(f"search.space.{key}: the pipeline has no parameter {key!r}{hint}")
        out[key] = _distribution(values) if isinstance(values, Distribution) else list(values)
    return out


def build_search(
    pipeline: Any,
    spec: SearchSpec,
    *,
    task: str,
    seed: int,
    n_classes: int = 2,
    n_jobs: int | None = None,
    positive: Any = None,
) -> SearchPlan:
    """Build the search the spec asks for.

    ``strategy: none`` is a grid of one candidate, so CV scores are still measured.
    Halving searches accept one metric only: the refit metric. ``positive`` (the
    positive class of a binary target) is the ``pos_label`` of the scorers that need
    one (:data:`~skloop.pipelines.POS_LABEL_SCORERS`). With ``search.cache`` (the
    default) the search class is its fold-cached variant (see
    :func:`~skloop.pipelines.fold_cached_search_class`): same results, each fold's
    preprocessing fitted once per distinct preprocessing parameters.
    """
    scoring, refit = resolve_scoring(spec, task, n_classes)
    scorers = build_scorers(scoring, positive if task == "classification" else None)
    cv = build_cv(spec.cv, task=task, seed=seed)
    if spec.strategy == "optuna":
        from skloop.pipelines._optuna import build_optuna_search

        optuna_search = build_optuna_search(
            pipeline, spec, cv=cv, scorers=scorers, refit=refit, seed=seed, n_jobs=n_jobs
        )
        return SearchPlan(
            search=optuna_search, scoring=scoring, refit=refit, n_candidates=spec.n_trials, n_folds=spec.cv.folds,
            scorers=scorers, positive=positive if task == "classification" else None,
        )  # fmt: skip
    space = to_search_space(spec.space, pipeline) if spec.strategy != "none" else {}
    all_lists = all(isinstance(v, list) for v in space.values())
    jobs = spec.n_jobs if n_jobs is None else n_jobs
    common: dict[str, Any] = {"cv": cv, "n_jobs": jobs, "error_score": "raise"}
    n_candidates: int | None
    search: BaseSearchCV
    if spec.strategy in ("none", "grid"):
        grid = space or {}
        n_candidates = len(ParameterGrid(grid))
        search = _search_class(GridSearchCV, spec)(pipeline, grid, scoring=scorers, refit=refit, **common)
    elif spec.strategy == "random":
        n_candidates = spec.n_iter
        if all_lists:
            n_candidates = min(spec.n_iter, len(ParameterGrid(space)))
        search = _search_class(RandomizedSearchCV, spec)(
            pipeline, space, n_iter=spec.n_iter, scoring=scorers, refit=refit, random_state=seed, **common
        )
    else:
        n_candidates = None
        if refit not in scorers:
            scorers[refit] = build_scorer(refit, positive if task == "classification" else None)
        if all_lists:
            search = _search_class(HalvingGridSearchCV, spec)(
                pipeline, space, factor=spec.factor, scoring=scorers[refit], random_state=seed, **common
            )
        else:
            search = _search_class(HalvingRandomSearchCV, spec)(
                pipeline, space, factor=spec.factor, scoring=scorers[refit], random_state=seed, **common
            )
        scoring = [refit]
        scorers = {refit: scorers[refit]}
    return SearchPlan(
        search=search, scoring=scoring, refit=refit, n_candidates=n_candidates, n_folds=spec.cv.folds,
        scorers=scorers, positive=positive if task == "classification" else None,
    )  # fmt: skip


def _search_class(search_class: type[BaseSearchCV], spec: SearchSpec) -> type[BaseSearchCV]:
    """The scikit-learn search class, or its fold-cached variant when ``search.cache`` is on."""
    cls: type[BaseSearchCV] = fold_cached_search_class(search_class, spec.cache)
    return cls


def summarize_cv(cv_results: dict[str, Any], scoring: list[str], index: int) -> dict[str, dict[str, Any]]:
    """Per-metric fold scores, mean and std for candidate ``index`` of ``cv_results_``."""
    out: dict[str, dict[str, Any]] = {}
    for name in scoring:
        suffix = name if f"mean_test_{name}" in cv_results else "score"  # halving: one unnamed scorer
        key = f"split{{}}_test_{suffix}"
        mean_key, std_key = f"mean_test_{suffix}", f"std_test_{suffix}"
        folds = []
        i = 0
        while key.format(i) in cv_results:
            folds.append(float(cv_results[key.format(i)][index]))
            i += 1
        mean = float(cv_results[mean_key][index])
        out[name] = {
            "folds": folds,
            "mean": mean if not math.isnan(mean) else None,
            "std": float(cv_results[std_key][index]),
        }
    return out
