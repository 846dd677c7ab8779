"""``search.strategy: optuna``: Optuna's TPE sampler with median pruning over the folds.

Optuna is an optional extra (``pip install 'skloop[optuna]'``), imported when a search
is built. :class:`OptunaSearchCV` looks like a scikit-learn search to the training
workflow: after ``fit`` it has ``cv_results_`` (the same columns as ``GridSearchCV``'s,
plus ``state``), ``best_index_``, ``best_params_``, ``best_score_`` and the refitted
``best_estimator_``.

Each trial fits the pipeline fold by fold. After each fold the running mean of the
refit metric is reported to Optuna as the intermediate value at step ``fold``, and a
:class:`optuna.pruners.MedianPruner` stops the trial when that mean is below the median
of the earlier trials' at the same fold (every trial sees the same folds, so the means
are comparable). The folds of one trial run in parallel in chunks of ``n_jobs``; the
pruning decision is still taken fold by fold in order, so the trials, their scores and
what was pruned do not depend on ``n_jobs``. The sampler is seeded: the same spec on the
same data gives the same trials (unless ``timeout`` ends the search first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing

from skloop.core import Distribution, MissingExtraError, PipelineError, SearchSpec, optional_import
from skloop.pipelines._search import to_search_space

logger = logging.getLogger(__name__)

__all__ = [
    "MEDIAN_PRUNER_STARTUP_TRIALS",
    "MEDIAN_PRUNER_WARMUP_FOLDS",
    "OPTUNA_EXTRA",
    "OptunaSearchCV",
    "build_optuna_search",
    "check_optuna_space",
    "import_optuna",
]

OPTUNA_EXTRA = "optuna"
"""The extra that installs Optuna: ``pip install 'skloop[optuna]'``."""

MEDIAN_PRUNER_STARTUP_TRIALS = 5
"""Trials run to the end before any is pruned (the median needs a few to be meaningful)."""

MEDIAN_PRUNER_WARMUP_FOLDS = 1
"""Folds every trial scores before it may be pruned (one fold's score is too noisy)."""

_PLAIN = (type(None), bool, int, float, str)


def import_optuna() -> Any:
    """Optuna, or :class:`MissingExtraError` naming ``search.strategy`` and the extra."""
    try:
        return optional_import("optuna", OPTUNA_EXTRA)
    except MissingExtraError as exc:
        raise MissingExtraError("optuna", OPTUNA_EXTRA, key="search.strategy") from exc


def _choices(key: str, values: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Optuna's categorical choices for a list of values, and the values they stand for.

    Optuna stores only ``None``, bool, int, float and str; other values (lists, dicts)
    are offered by their ``repr`` and mapped back.
    """
    values = list(values)
    if all(isinstance(v, _PLAIN) for v in values):
        return values, values
    labels = [repr(v) for v in values]
    if len(set(labels)) != len(labels):
        raise PipelineError(f"search.space.{key}: the values {values!r} repeat; list each value once")
    return labels, values


def check_optuna_space(space: dict[str, Any]) -> None:
    """Check that every value of ``space`` maps to an Optuna distribution, naming the key otherwise."""
    if not space:
        raise PipelineError(
            "search.space: strategy 'optuna' needs parameters to search, e.g. "
            "model__max_depth: {dist: randint, low: 2, high: 12}"
        )
    for key, values in space.items():
        if isinstance(values, Distribution):
            if values.dist == "randint" and not (float(values.low).is_integer() and float(values.high).is_integer()):
                raise PipelineError(
                    f"search.space.{key}: randint needs whole numbers for 'low' and 'high' "
                    f"(got {values.low} and {values.high}); 'high' is excluded, as in scipy.stats.randint"
                )
        elif isinstance(values, list):
            _choices(key, values)
        else:
            raise PipelineError(f"search.space.{key}: expected a list of values or {{dist, low, high}}, got {values!r}")


def _suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """The candidate's parameters drawn by ``trial`` (``randint``'s ``high`` is excluded)."""
    params: dict[str, Any] = {}
    for key, values in space.items():
        if isinstance(values, Distribution):
            if values.dist == "randint":
                params[key] = trial.suggest_int(key, int(values.low), int(values.high) - 1)
            else:
                params[key] = trial.suggest_float(key, values.low, values.high, log=values.dist == "loguniform")
        else:
            labels, originals = _choices(key, values)
            params[key] = originals[labels.index(trial.suggest_categorical(key, labels))]
    return params


def _fit_fold(
    estimator: Any, params: dict[str, Any], X: Any, y: Any, train: Any, test: Any, scorers: dict[str, Any]
) -> tuple[dict[str, float], float, float]:
    """Fit one (candidate, fold) and score it: the scores, the fit time and the scoring time."""
    model = clone(estimator).set_params(**clone(params, safe=False))
    started = time.perf_counter()
    model.fit(_safe_indexing(X, train), _safe_indexing(y, train))
    fitted = time.perf_counter()
    scores = check_scoring(model, scoring=scorers)(model, _safe_indexing(X, test), _safe_indexing(y, test))
    return {name: float(scores[name]) for name in scorers}, fitted - started, time.perf_counter() - fitted


class OptunaSearchCV(BaseEstimator):  # type: ignore[misc]
    """Cross-validated search driven by Optuna's TPE sampler, pruning on the folds' scores.

    Parameters
    ----------
    estimator : estimator
        The pipeline to tune.
    space : dict
        Parameter name → list of values (categorical) or :class:`~skloop.core.Distribution`
        (``uniform`` and ``loguniform`` floats, ``randint`` integers with ``high`` excluded).
    scoring : dict
        Metric name → scorer; every one is computed on every fold.
    refit : str
        The metric that is optimised, pruned on and picks the best trial.
    cv : cross-validation splitter
    n_trials : int
        Trials to run (fewer when ``timeout`` ends the search first).
    timeout : float, optional
        Seconds after which no new trial starts.
    seed : int
        The sampler's seed.
    n_jobs : int, optional
        Folds of one trial fitted at a time.
    pruning : bool
        Prune trials with a :class:`optuna.pruners.MedianPruner`.

    Attributes
    ----------
    cv_results_ : dict
        ``GridSearchCV``'s columns (``params``, ``split<i>_test_<m>``, ``mean_test_<m>``,
        ``std_test_<m>``, ``rank_test_<m>``, fit and score times) and ``state``
        (``complete`` or ``pruned``). A pruned trial's unscored folds are NaN, its means
        are over the folds it scored and its ranks are NaN.
    best_index_, best_params_, best_score_, best_estimator_
        As in scikit-learn, for the best complete trial.
    study_ : optuna.Study
        The study, for Optuna's own plots and analyses.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.metrics import get_scorer
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from skloop.core import Distribution
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> search = OptunaSearchCV(
    ...     LogisticRegression(), {"C": Distribution(dist="loguniform", low=0.01, high=10)},
    ...     scoring={"accuracy": get_scorer("accuracy")}, refit="accuracy",
    ...     cv=StratifiedKFold(3, shuffle=True, random_state=0), n_trials=8, seed=0,
    ... ).fit(X, y)
    >>> len(search.cv_results_["params"]), search.best_score_ > 0.8
    (8, True)
    """

    def __init__(
        self,
        estimator: Any,
        space: dict[str, Any],
        *,
        scoring: dict[str, Any],
        refit: str,
        cv: Any,
        n_trials: int = 20,
        timeout: float | None = None,
        seed: int = 0,
        n_jobs: int | None = None,
        pruning: bool = True,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.scoring = scoring
        self.refit = refit
        self.cv = cv
        self.n_trials = n_trials
        self.timeout = timeout
        self.seed = seed
        self.n_jobs = n_jobs
        self.pruning = pruning

    def set_callbacks(self, callback: Any) -> OptunaSearchCV:
        """Report progress to ``callback.advance(n)``: a tick per fold (a pruned trial's rest at once)."""
        self._advance: Callable[[int], None] | None = getattr(callback, "advance", None)
        return self

    def fit(self, X: Any, y: Any, groups: Any = None) -> OptunaSearchCV:
        """Run the trials, then refit the best candidate on all of ``X``."""
        optuna = import_optuna()
        check_optuna_space(self.space)
        if self.refit not in self.scoring:
            raise PipelineError(f"search.refit: {self.refit!r} is not one of the scorers {sorted(self.scoring)}")
        splits = list(self.cv.split(X, y, groups))
        pruner = (
            optuna.pruners.MedianPruner(
                n_startup_trials=MEDIAN_PRUNER_STARTUP_TRIALS, n_warmup_steps=MEDIAN_PRUNER_WARMUP_FOLDS
            )
            if self.pruning
            else optuna.pruners.NopPruner()
        )
        trials: list[dict[str, Any]] = []
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # optuna logs every trial at INFO to stderr
        try:
            study = optuna.create_study(
                direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.seed), pruner=pruner
            )
            chunk = max(1, min(len(splits), effective_n_jobs(1 if self.n_jobs is None else self.n_jobs)))
            with Parallel(n_jobs=chunk, return_as="generator") as parallel:  # one pool for every trial
                objective = self._objective(optuna, parallel, chunk, splits, X, y, trials)
                study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout, catch=())
        finally:
            optuna.logging.set_verbosity(level)
        self.study_ = study
        self.cv_results_ = self._results(trials, len(splits))
        complete = [i for i, t in enumerate(trials) if t["state"] == "complete"]
        if not complete:
            raise PipelineError("search: no trial scored all its folds; raise search.n_trials or search.timeout")
        means = self.cv_results_[f"mean_test_{self.refit}"]
        self.best_index_ = max(complete, key=lambda i: (means[i], -i))
        self.best_params_ = dict(trials[self.best_index_]["params"])
        self.best_score_ = float(means[self.best_index_])
        started = time.perf_counter()
        self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        self.best_estimator_.fit(X, y)
        self.refit_time_ = time.perf_counter() - started
        self.n_splits_ = len(splits)
        self.scorer_ = self.scoring
        return self

    def _objective(
        self,
        optuna: Any,
        parallel: Parallel,
        chunk: int,
        splits: list[Any],
        X: Any,
        y: Any,
        trials: list[dict[str, Any]],
    ) -> Callable[[Any], float]:
        """Optuna's objective: a trial's folds, ``chunk`` at a time, reported one by one, kept in ``trials``."""
        advance = getattr(self, "_advance", None)

        def objective(trial: Any) -> float:
            params = _suggest(trial, self.space)
            record: dict[str, Any] = {"params": params, "folds": [], "fit": [], "score": [], "state": "complete"}
            trials.append(record)
            for start in range(0, len(splits), chunk):
                results = parallel(
                    delayed(_fit_fold)(self.estimator, params, X, y, train, test, self.scoring)
                    for train, test in splits[start : start + chunk]
                )
                for scores, fit_time, score_time in list(results):  # the whole chunk, then fold by fold
                    record["folds"].append(scores)
                    record["fit"].append(fit_time)
                    record["score"].append(score_time)
                    if advance is not None:
                        advance(1)
                    step = len(record["folds"]) - 1
                    trial.report(float(np.mean([f[self.refit] for f in record["folds"]])), step)
                    # a trial that scored every fold is complete: pruning it then would save nothing
                    if step < len(splits) - 1 and trial.should_prune():
                        record["state"] = "pruned"
                        if advance is not None:
                            advance(len(splits) - step - 1)
                        raise optuna.TrialPruned(f"pruned after fold {step}")
            return float(np.mean([f[self.refit] for f in record["folds"]]))

        return objective

    def _results(self, trials: list[dict[str, Any]], n_splits: int) -> dict[str, Any]:
        """The trials in scikit-learn's ``cv_results_`` layout."""
        n = len(trials)
        out: dict[str, Any] = {
            "params": [t["params"] for t in trials],
            "state": np.array([t["state"] for t in trials], dtype=object),
        }
        for timing, key in (("fit", "fit_time"), ("score", "score_time")):
            out[f"mean_{key}"] = np.array([np.mean(t[timing]) for t in trials])
            out[f"std_{key}"] = np.array([np.std(t[timing]) for t in trials])
        complete = np.array([t["state"] == "complete" for t in trials])
        for name in self.scoring:
            folds = np.full((n, n_splits), np.nan)
            for i, t in enumerate(trials):
                folds[i, : len(t["folds"])] = [f[name] for f in t["folds"]]
            for j in range(n_splits):
                out[f"split{j}_test_{name}"] = folds[:, j]
            means = np.array([np.nanmean(row) for row in folds])
            out[f"mean_test_{name}"] = means
            out[f"std_test_{name}"] = np.array([np.nanstd(row) for row in folds])
            ranks = np.full(n, np.nan)
            order = sorted((int(i) for i in np.flatnonzero(complete)), key=lambda i: (-means[i], i))
            for position, i in enumerate(order):  # ties share the lower rank, as scikit-learn's
                tied = position > 0 and means[i] == means[order[position - 1]]
                ranks[i] = ranks[order[position - 1]] if tied else position + 1
            out[f"rank_test_{name}"] = ranks
        return out


def build_optuna_search(
    pipeline: Any, spec: SearchSpec, *, cv: Any, scorers: dict[str, Any], refit: str, seed: int, n_jobs: int | None
) -> OptunaSearchCV:
    """The :class:`OptunaSearchCV` of a :class:`~skloop.core.SearchSpec` with ``strategy: optuna``.

    Optuna is imported here, so a missing extra fails before a run starts; every key of
    ``search.space`` is checked against the pipeline and against Optuna's distributions.
    """
    import_optuna()
    to_search_space(spec.space, pipeline)  # names a key the pipeline does not have
    check_optuna_space(spec.space)
    return OptunaSearchCV(
        pipeline, dict(spec.space), scoring=scorers, refit=refit, cv=cv, n_trials=spec.n_trials,
        timeout=spec.timeout, seed=seed, n_jobs=spec.n_jobs if n_jobs is None else n_jobs, pruning=spec.pruning,
    )  # fmt: skip
