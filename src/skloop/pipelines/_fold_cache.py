"""Fit each fold's preprocessing once per distinct preprocessing parameters.

A plain scikit-learn search refits the whole pipeline for every (candidate, fold):
when the candidates differ only in the model's parameters, the same
``ColumnTransformer`` is fitted on the same rows again and again. The searches here
(``FoldCachedGridSearchCV`` and its siblings, the plain search classes with
:class:`FoldCacheMixin` in front) hand the estimator to scikit-learn wrapped in a
:class:`FoldCachedPipeline`, which fits the pipeline's transformers (every step but the
last) through a per-process in-memory cache, :data:`FOLD_CACHE`:

- the key of a fit is the search (a token drawn per ``fit`` call, so nothing outlives
  it), the transformers' parameters (a hash of the unfitted steps) and the fold's rows
  (their index labels: the training table of one search is one object);
- the value is the fitted transformers and the transformed fold, made read-only (an
  estimator that writes into its input gets an error, never a corrupted cache: every
  scikit-learn estimator accepts read-only input, which joblib already gives it);
- the test fold's transform is cached the same way, so the scorers' several calls on
  it (``predict_proba`` and ``predict``) transform it once.

Everything else is scikit-learn's own search: the same folds, the same clones, the same
scorers; ``cv_results_`` and ``best_estimator_`` are a plain search's (the estimator is
unwrapped after the refit, so the saved model is the user's ``Pipeline``). Each joblib
worker has its own cache: with ``n_jobs=2``, each fold's transformers are fitted at most
twice per distinct preprocessing, instead of once per candidate. A fit the cache cannot
key (fit parameters for a transformer, rows without a unique, plainly typed index,
output that is neither an array nor a sparse matrix) runs as in a plain search.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if

__all__ = [
    "FOLD_CACHE",
    "FOLD_CACHE_BYTES",
    "FoldCache",
    "FoldCacheMixin",
    "FoldCachedGridSearchCV",
    "FoldCachedHalvingGridSearchCV",
    "FoldCachedHalvingRandomSearchCV",
    "FoldCachedPipeline",
    "FoldCachedRandomizedSearchCV",
    "fold_cached_search_class",
]

FOLD_CACHE_BYTES = 512 * 2**20
"""Most bytes of transformed folds one process keeps (larger folds are not cached)."""


@dataclass(frozen=True)
class _Fitted:
    steps: list[tuple[str, Any]]
    Xt: Any


class FoldCache:
    """A process-wide, thread-safe LRU of transformed folds, bounded in bytes.

    It serves one search at a time: an entry of another search's token evicts the
    previous search's entries (a token never comes back, so they could never hit).

    Attributes
    ----------
    fits, hits : int
        Transformer fits done through the cache, and fits it saved (this process).
    """

    def __init__(self, max_bytes: int = FOLD_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.fits = 0
        self.hits = 0
        self._entries: OrderedDict[tuple[str, ...], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._token: str | None = None
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> Any:
        """The value under ``key`` (``key[0]`` is the search token), or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: tuple[str, ...], value: Any, nbytes: int) -> None:
        """Keep ``value``, evicting the least recently used entries beyond ``max_bytes``."""
        if nbytes > self.max_bytes:
            return
        with self._lock:
            if key[0] != self._token:
                self._clear()
                self._token = key[0]
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, (_, size) = self._entries.popitem(last=False)
                self._bytes -= size

    def drop(self, token: str) -> None:
        """Forget the entries of the search ``token`` (called when that search ends)."""
        with self._lock:
            if token == self._token:
                self._clear()
                self._token = None

    def __len__(self) -> int:
        return len(self._entries)

    def _clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


FOLD_CACHE = FoldCache()
"""This process's cache (each joblib worker process has its own)."""


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _rows_key(X: Any) -> str | None:
    """The identity of the rows of ``X`` within one search's table, or ``None`` if unkeyable.

    A DataFrame's rows are its index labels (the search checked the table's index is
    unique), hashed exactly: numbers and dates by their bytes, strings by their UTF-8;
    any other label type gives ``None``.
    """
    if not isinstance(X, pd.DataFrame):
        return None
    labels = X.index
    if isinstance(labels, pd.MultiIndex):
        return None
    values = labels.to_numpy()
    if values.dtype.kind in "iufbmM":
        return _digest(str(values.dtype).encode(), np.ascontiguousarray(values).tobytes())
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        texts: list[str] = values.tolist()
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        return _digest(b"str", lengths.tobytes(), "".join(texts).encode("utf-8", "surrogatepass"))
    return None


def table_is_keyable(X: Any) -> bool:
    """Whether a search's table can key its folds: a DataFrame with unique, keyable index labels."""
    return isinstance(X, pd.DataFrame) and X.index.is_unique and _rows_key(X) is not None


def _nbytes(Xt: Any) -> int | None:
    if isinstance(Xt, np.ndarray) and Xt.dtype != object:
        return int(Xt.nbytes)
    if sp.issparse(Xt):
        return int(sum(getattr(Xt, a).nbytes for a in ("data", "indices", "indptr") if hasattr(Xt, a)))
    return None


def _read_only(Xt: Any) -> Any:
    # Dense folds only: scipy sorts a sparse matrix's indices in place (harmless, and
    # refused on read-only arrays), and no scikit-learn estimator writes into its input.
    if isinstance(Xt, np.ndarray):
        Xt.flags.writeable = False
    return Xt


F = TypeVar("F", bound=Callable[..., Any])


def _final_has(name: str) -> Callable[[F], F]:
    """``available_if``: the method exists when the pipeline's last step has ``name`` (typed)."""
    decorator: Callable[[F], F] = available_if(lambda self: hasattr(self.pipeline.steps[-1][1], name))
    return decorator


def _is_passthrough(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


class FoldCachedPipeline(MetaEstimatorMixin, BaseEstimator):
    """A ``Pipeline`` whose transformers are fitted through :data:`FOLD_CACHE`, for a search.

    Its parameters are the pipeline's (``preprocess__...``, ``model__...``), so a
    search's candidates set them as on the pipeline itself; its predictions are the
    pipeline's. Used by :class:`FoldCacheMixin` during a search only.

    Parameters
    ----------
    pipeline : Pipeline
        The pipeline to fit; its last step is the model.
    token : str
        The search this estimator belongs to (keys its cache entries).
    """

    def __init__(self, pipeline: Pipeline, *, token: str) -> None:
        self.pipeline = pipeline
        self.token = token

    # -- the pipeline's parameters, unprefixed -------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {"pipeline": self.pipeline, "token": self.token}
        if deep:
            params.update(self.pipeline.get_params(deep=True))
        return params

    def set_params(self, **params: Any) -> FoldCachedPipeline:
        own = {k: params.pop(k) for k in ("pipeline", "token") if k in params}
        if own:
            super().set_params(**own)
        if params:
            self.pipeline.set_params(**params)
        return self

    def __sklearn_tags__(self) -> Any:
        return self.pipeline.__sklearn_tags__()

    # -- fit ----------------------------------------------------------------------

    def _fit_key(self, X: Any, params: dict[str, Any]) -> tuple[str, ...] | None:
        steps = self.pipeline.steps
        final = steps[-1][0]
        if len(steps) < 2 or self.pipeline.memory is not None:
            return None
        if any(not key.startswith(f"{final}__") for key in params):
            return None  # fit parameters for a transformer: fit as a plain pipeline
        rows = _rows_key(X)
        if rows is None:
            return None
        try:
            transformers = joblib.hash([(name, step) for name, step in steps[:-1]])
        except Exception:  # an unpicklable step: nothing to key it by
            return None
        return (self.token, "fit", str(transformers), rows)

    def fit(self, X: Any, y: Any = None, **params: Any) -> FoldCachedPipeline:
        """Fit the transformers (or take them from the cache), then the model."""
        key = self._fit_key(X, params)
        if key is None:
            self.pipeline.fit(X, y, **params)
            self._key = None
            return self
        entry = FOLD_CACHE.get(key)
        if entry is None:
            prefix = Pipeline(list(self.pipeline.steps[:-1]))
            Xt = prefix.fit_transform(X, y)
            entry = _Fitted(steps=list(prefix.steps), Xt=Xt)
            FOLD_CACHE.fits += 1
            nbytes = _nbytes(Xt)
            if nbytes is not None:
                FOLD_CACHE.put(key, _Fitted(steps=entry.steps, Xt=_read_only(Xt)), nbytes)
        else:
            FOLD_CACHE.hits += 1
        name, final = self.pipeline.steps[-1]
        self.pipeline.steps = [*entry.steps, (name, final)]
        if not _is_passthrough(final):
            final.fit(entry.Xt, y, **{k.split("__", 1)[1]: v for k, v in params.items()})
        self._key = key
        return self

    # -- predictions on a (cached) transformed fold -------------------------------

    def _transform(self, X: Any) -> Any:
        fitted: tuple[str, ...] | None = getattr(self, "_key", None)
        rows = None if fitted is None else _rows_key(X)
        key = None if fitted is None or rows is None else (*fitted, "transform", rows)
        Xt = None if key is None else FOLD_CACHE.get(key)
        if Xt is None:
            Xt = X
            for _, step in self.pipeline.steps[:-1]:
                if not _is_passthrough(step):
                    Xt = step.transform(Xt)
            nbytes = _nbytes(Xt)
            if key is not None and nbytes is not None:
                FOLD_CACHE.put(key, _read_only(Xt), nbytes)
        return Xt

    @_final_has("predict")
    def predict(self, X: Any, **params: Any) -> Any:
        return self.pipeline.steps[-1][1].predict(self._transform(X), **params)

    @_final_has("predict_proba")
    def predict_proba(self, X: Any, **params: Any) -> Any:
        return self.pipeline.steps[-1][1].predict_proba(self._transform(X), **params)

    @_final_has("predict_log_proba")
    def predict_log_proba(self, X: Any, **params: Any) -> Any:
        return self.pipeline.steps[-1][1].predict_log_proba(self._transform(X), **params)

    @_final_has("decision_function")
    def decision_function(self, X: Any, **params: Any) -> Any:
        return self.pipeline.steps[-1][1].decision_function(self._transform(X), **params)

    @_final_has("score")
    def score(self, X: Any, y: Any = None, **params: Any) -> Any:
        return self.pipeline.steps[-1][1].score(self._transform(X), y, **params)

    @property
    def classes_(self) -> Any:
        return self.pipeline.classes_

    @property
    def n_features_in_(self) -> int:
        return int(self.pipeline.n_features_in_)

    @property
    def feature_names_in_(self) -> Any:
        return self.pipeline.feature_names_in_


class FoldCacheMixin:
    """In front of a scikit-learn search class: its (candidate, fold) fits share preprocessing.

    ``fit`` wraps ``estimator`` (a ``Pipeline``) in a :class:`FoldCachedPipeline` for
    the search and unwraps ``best_estimator_`` after the refit; ``estimator`` is the
    user's again when ``fit`` returns, and so is everything the search exposes.
    """

    estimator: Any

    def fit(self, X: Any, y: Any = None, **params: Any) -> Any:
        pipeline = self.estimator
        if not isinstance(pipeline, Pipeline) or not table_is_keyable(X):
            return super().fit(X, y, **params)  # type: ignore[misc]
        token = uuid.uuid4().hex
        self.estimator = FoldCachedPipeline(pipeline, token=token)
        try:
            super().fit(X, y, **params)  # type: ignore[misc]
        finally:
            self.estimator = pipeline
            FOLD_CACHE.drop(token)
        best = getattr(self, "best_estimator_", None)
        if isinstance(best, FoldCachedPipeline):
            self.best_estimator_ = best.pipeline
        return self


class FoldCachedGridSearchCV(FoldCacheMixin, GridSearchCV):
    """``GridSearchCV`` whose candidates share each fold's fitted preprocessing."""


class FoldCachedRandomizedSearchCV(FoldCacheMixin, RandomizedSearchCV):
    """``RandomizedSearchCV`` whose candidates share each fold's fitted preprocessing."""


class FoldCachedHalvingGridSearchCV(FoldCacheMixin, HalvingGridSearchCV):
    """``HalvingGridSearchCV`` whose candidates share each round's fitted preprocessing."""


class FoldCachedHalvingRandomSearchCV(FoldCacheMixin, HalvingRandomSearchCV):
    """``HalvingRandomSearchCV`` whose candidates share each round's fitted preprocessing."""


_CACHED: dict[type, type] = {
    GridSearchCV: FoldCachedGridSearchCV,
    RandomizedSearchCV: FoldCachedRandomizedSearchCV,
    HalvingGridSearchCV: FoldCachedHalvingGridSearchCV,
    HalvingRandomSearchCV: FoldCachedHalvingRandomSearchCV,
}


def fold_cached_search_class(search_class: type, cache: bool = True) -> type:
    """The fold-cached variant of a scikit-learn search class (itself when ``cache`` is off).

    Examples
    --------
    >>> fold_cached_search_class(GridSearchCV).__name__
    'FoldCachedGridSearchCV'
    >>> fold_cached_search_class(GridSearchCV, cache=False).__name__
    'GridSearchCV'
    """
    return _CACHED[search_class] if cache else search_class
