"""``skloop.autolog()``: record every scikit-learn ``fit`` of a plain script as a run.

Like ``mlflow.sklearn.autolog``: the ``fit`` of every estimator class (scikit-learn's,
``Pipeline``, ``GridSearchCV`` / ``RandomizedSearchCV`` through ``BaseSearchCV``, and
the user's own ``BaseEstimator`` subclasses, including those defined after the call)
is wrapped. Only the outermost ``fit`` is recorded: the steps a ``Pipeline`` fits and
the clones a search fits (in this process or in joblib's workers) are not.

A recorded fit writes into the active run of :func:`skloop.start_run` (the second
recorded fit in that run gets a child run of its own, since parameters cannot change),
or else into a run of its own that ends with the fit (``failed`` if it raises). It
records the parameters (``get_params(deep=True)``, one param per key), the training
scores, for a search its candidate table (``cv_results.json``, as ``skloop train``
writes it) and best parameters and score, the scores on ``eval_set``, the dataset
fingerprint of ``X``/``y``, the fitted model (skops, with its signature) and, through
the run, the code version and environment.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from skloop.core import Settings, UsageError
from skloop.workflows._tracking import ActiveRun, active_run, estimator_scores, param_text, start_run

__all__ = ["autolog", "autolog_enabled"]

logger = logging.getLogger(__name__)

CV_RESULTS_ARTIFACT = "cv_results.json"


@dataclass(frozen=True)
class _Config:
    project: str | None
    eval_set: tuple[Any, Any] | None
    log_models: bool
    log_datasets: bool
    registered_model_name: str | None
    settings: Settings | None


_CONFIG: _Config | None = None
_PATCHED: dict[type, Callable[..., Any]] = {}
_LOCK = threading.Lock()
_DEPTH = 0  # recorded fits under way in this process: a fit inside one (any thread) is not recorded


def autolog_enabled() -> bool:
    """Whether :func:`autolog` is on."""
    return _CONFIG is not None


def autolog(
    *,
    disable: bool = False,
    project: str | None = None,
    eval_set: tuple[Any, Any] | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    registered_model_name: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Record every outermost scikit-learn ``fit`` of this process as a run.

    Parameters
    ----------
    disable : bool, default=False
        Undo it: every ``fit`` is scikit-learn's own again.
    project : str, optional
        The project of the runs a fit starts (see :func:`skloop.start_run`).
    eval_set : (X, y), optional
        After each recorded fit, the model's scores on it are recorded as ``eval_*``
        metrics (:func:`skloop.workflows.estimator_scores`).
    log_models : bool, default=True
        Store the fitted model (a search's best estimator), with its signature.
    log_datasets : bool, default=True
        Record the fingerprint, schema and profile of ``X`` (with ``y``).
    registered_model_name : str, optional
        Register each recorded model under this name when its run ends.
    settings : Settings, optional
        Where the store is (default: the working directory's, as for ``start_run``).

    Examples
    --------
    >>> import skloop
    >>> skloop.autolog(eval_set=(X_test, y_test))      # doctest: +SKIP
    >>> GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}).fit(X, y)   # doctest: +SKIP
    """
    global _CONFIG
    from sklearn.base import BaseEstimator

    if disable:
        _CONFIG = None
        for cls, original in _PATCHED.items():
            cls.fit = original  # type: ignore[attr-defined]
        _PATCHED.clear()
        if "__init_subclass__" in BaseEstimator.__dict__:
            delattr(BaseEstimator, "__init_subclass__")
        return
    if eval_set is not None and (not isinstance(eval_set, tuple | list) or len(eval_set) != 2):
        raise UsageError("autolog: eval_set must be a pair (X, y)")
    _CONFIG = _Config(
        project, tuple(eval_set) if eval_set is not None else None, log_models, log_datasets,
        registered_model_name, settings,
    )  # fmt: skip
    if _PATCHED:
        return
    # the search classes' fit lives in BaseSearchCV: import them so that it is wrapped
    import sklearn.model_selection
    import sklearn.pipeline  # noqa: F401

    for cls in _subclasses(BaseEstimator):
        _patch(cls)

    def init_subclass(cls: type, /, **kwargs: Any) -> None:  # classes defined from now on
        super(BaseEstimator, cls).__init_subclass__(**kwargs)
        _patch(cls)

    BaseEstimator.__init_subclass__ = classmethod(init_subclass)


def _subclasses(root: type) -> Iterator[type]:
    seen: set[type] = set()
    stack: list[type] = [root]
    while stack:
        subs: list[type] = stack.pop().__subclasses__()
        for sub in subs:
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
                yield sub


def _patch(cls: type) -> None:
    original = cls.__dict__.get("fit")
    if not isinstance(original, types.FunctionType) or cls in _PATCHED:
        return

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _DEPTH
        config = _CONFIG
        if config is None or _DEPTH:
            return original(self, *args, **kwargs)
        with _LOCK:
            _DEPTH += 1
        try:
            return _recorded_fit(config, original, self, args, kwargs)
        finally:
            with _LOCK:
                _DEPTH -= 1

    _PATCHED[cls] = original
    cls.fit = fit  # type: ignore[attr-defined]


def _recorded_fit(
    config: _Config, original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    outer = active_run()
    label = type(estimator).__name__
    if outer is not None and not outer.autologged:
        run, own = outer, False
    else:
        run = start_run(
            config.project, name=label, nested=outer is not None, settings=None if outer else config.settings
        )
        own = True
    run.autologged = True
    try:
        _before(run, config, estimator, X, y)
    except Exception:  # e.g. a param the script logged itself with another value: the fit goes on
        logger.exception("autolog could not record the parameters of %s in run %s", label, run.id)
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as exc:
        if own:
            killed = isinstance(exc, KeyboardInterrupt | SystemExit)
            run.end("killed" if killed else "failed", "".join(traceback.format_exception(exc)).strip())
        raise
    _after(run, config, estimator, X, y)
    if own:
        run.end()
    return result


def _before(run: ActiveRun, config: _Config, estimator: Any, X: Any, y: Any) -> None:
    cls = type(estimator)
    run.set_tags({"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})
    run.log_params({k: param_text(v) for k, v in estimator.get_params(deep=True).items()})
    if config.log_datasets and X is not None:
        run.log_dataset(X, y, role="train")


def _after(run: ActiveRun, config: _Config, estimator: Any, X: Any, y: Any) -> None:
    """Record what the fit made; each part on its own, so that one failing leaves the others."""
    from sklearn.base import is_classifier, is_regressor

    is_search = hasattr(estimator, "cv_results_")
    model = getattr(estimator, "best_estimator_", estimator)
    scores = (is_classifier(model) or is_regressor(model)) and hasattr(estimator, "predict")
    steps: list[tuple[str, Callable[[], object]]] = []
    if y is not None and X is not None and scores:
        steps.append(("the training scores", lambda: run.log_metrics(estimator_scores(estimator, X, y, "training"))))
    if is_search:
        steps.append(("the search's candidates", lambda: _log_search(run, estimator)))
    if config.eval_set is not None and scores:
        steps.append(("the scores on eval_set", lambda: run.evaluate(estimator, *config.eval_set)))  # type: ignore[misc]
    if config.log_models and X is not None and hasattr(model, "predict") and (model is not estimator or not is_search):
        target = y if scores else None
        steps.append(
            ("the model", lambda: run.log_model(model, X, target, registered_model_name=config.registered_model_name))
        )
    for what, step in steps:
        try:
            step()
        except Exception:  # recording must not break the user's script; the log says what went wrong
            logger.exception("autolog could not record %s of %s in run %s", what, type(estimator).__name__, run.id)


def _log_search(run: ActiveRun, search: Any) -> None:
    from skloop.pipelines import candidates_table

    results = search.cv_results_
    refit = search.refit if isinstance(search.refit, str) else "score"
    scoring = sorted(k[len("mean_test_") :] for k in results if k.startswith("mean_test_")) or ["score"]
    best = int(search.best_index_) if hasattr(search, "best_index_") else None
    if hasattr(search, "best_params_"):
        run.log_params({f"best.{k}": param_text(v) for k, v in search.best_params_.items()})
    if getattr(search, "best_score_", None) is not None:
        run.log_metric("best_cv_score", float(search.best_score_))
    if best is not None:  # the best candidate's folds, mean and std, named as skloop train names them
        for name in scoring:
            folds = [float(results[f"split{i}_test_{name}"][best]) for i in range(int(search.n_splits_))]
            run.log_metrics({f"cv_{name}_mean": float(results[f"mean_test_{name}"][best]),
                             f"cv_{name}_std": float(results[f"std_test_{name}"][best])})  # fmt: skip
            for i, score in enumerate(folds):
                run.log_metric(f"cv_{name}_fold", score, step=i)
    # the mean CV score of each candidate, step = its index, to draw the search as a curve
    key = f"mean_test_{refit}" if f"mean_test_{refit}" in results else f"mean_test_{scoring[0]}"
    for i, value in enumerate(results.get(key, [])):
        run.log_metric(f"cv_{key[len('mean_test_') :]}_candidate", float(value), step=i)
    table = {"refit": refit, "scoring": scoring, "best_index": best, "candidates": candidates_table(results, scoring)}
    run.log_artifact(json.dumps(table, indent=1).encode(), CV_RESULTS_ARTIFACT, media_type="application/json")
