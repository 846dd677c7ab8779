"""Estimated regression performance before labels arrive: direct loss estimation (DLE).

A regressor's error depends on where its inputs are: a model that is worse on large
``x`` makes larger errors once more rows have large ``x``. Direct loss estimation (the
approach of NannyML's DLE) learns that dependence on rows whose labels are known (the
training holdout): two small gradient-boosted *loss models* predict a row's absolute
error and its squared error from the model's inputs and its prediction. On unlabeled
rows the expected losses give the estimated ``mae`` (their mean) and ``rmse`` (the
square root of the mean expected squared error).

The interval of an estimate is the sampling error of the metric at the window's size:
``estimate ± z·std``, where ``std`` is the standard deviation of the realised metric
over reference chunks of that many rows (:mod:`skloop.monitor._chunks`), so it says
where the realised figure should fall. Like CBPE, the estimate holds under covariate
shift (the inputs move, the relation between inputs and target does not); a concept
drift shows only once labels arrive.

Inputs: numeric and boolean columns as numbers, categorical ones as codes of their
254 most frequent reference values (others missing), datetime and text columns left
out; the prediction is one more input.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.monitor._chunks import DEFAULT_CHUNKS, Band, chunk_spread, learned_band, round_size
from skloop.monitor._metrics import regression_kernels
from skloop.monitor._performance import DEFAULT_CONFIDENCE, LOWER_IS_BETTER, MetricResult, PerformanceReport
from skloop.monitor._performance import holdout_reference as _holdout
from skloop.monitor._types import Floats

__all__ = ["DLE", "DLE_METRICS", "LOSS_MODEL_TYPES", "MIN_REFERENCE_ROWS"]

DLE_METRICS = ("mae", "rmse")
MIN_REFERENCE_ROWS = 50
"""Labeled reference rows the loss models need."""
MAX_REFERENCE_ROWS = 20_000
"""Rows the loss models are fitted on (a seeded sample beyond)."""
MAX_CODES = 254
LOSS_MODEL_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]
"""What loading a stored loss model trusts beyond skops' defaults (the types a fitted
``HistGradientBoostingRegressor`` holds); anything else refuses to load."""
_FORMAT = 1


class DLE:
    """Direct loss estimation for a regressor: estimated MAE and RMSE of unlabeled rows.

    Parameters
    ----------
    max_iter, max_leaf_nodes, learning_rate
        Of each loss model (:class:`~sklearn.ensemble.HistGradientBoostingRegressor`).
    seed : int, default=0
        Seeds the loss models, the reference sample and the chunks.
    chunks : int, default=50
        Reference chunks behind each interval and band.

    Attributes
    ----------
    columns_ : list of str
        The input columns the loss models read.
    categories_ : dict
        Categorical column → its coded values.
    reference_ : PerformanceReport
        The realised ``mae`` and ``rmse`` on the reference rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.uniform(0, 2, 4000)})
    >>> y = rng.normal(0, X["x"])  # the error grows with x; the model predicts 0
    >>> dle = DLE().fit(X, np.zeros(4000), y)
    >>> low = dle.estimate(pd.DataFrame({"x": rng.uniform(0, 1, 500)}), np.zeros(500))
    >>> high = dle.estimate(pd.DataFrame({"x": rng.uniform(1, 2, 500)}), np.zeros(500))
    >>> low["mae"].value < 0.5 < 1.0 < high["mae"].value  # E|N(0, x)| = 0.8 x
    True
    """

    def __init__(
        self,
        *,
        max_iter: int = 50,
        max_leaf_nodes: int = 15,
        learning_rate: float = 0.1,
        seed: int = 0,
        chunks: int = DEFAULT_CHUNKS,
    ) -> None:
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.learning_rate = learning_rate
        self.seed = seed
        self.chunks = chunks

    # --- fitting -----------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y_pred: Any, y_true: Any) -> DLE:
        """Fit the loss models on labeled reference rows (the training holdout).

        Parameters
        ----------
        X : DataFrame
            The model's inputs on those rows.
        y_pred, y_true : array-like of shape (n,)
            The model's predictions and the labels.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Too few labeled rows, or lengths that do not match.
        """
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"DLE.fit needs the inputs as a DataFrame; got {type(X).__name__}")
        yhat, y = _floats(y_pred, "predictions"), _floats(y_true, "labels")
        if not len(X) == len(yhat) == len(y):
            raise DataError(f"DLE.fit got {len(X)} input rows, {len(yhat)} predictions and {len(y)} labels")
        keep = np.isfinite(y) & np.isfinite(yhat)
        if keep.sum() < MIN_REFERENCE_ROWS:
            raise DataError(
                f"DLE needs at least {MIN_REFERENCE_ROWS} labeled reference rows for its loss models; got "
                f"{int(keep.sum())}"
            )
        idx = np.flatnonzero(keep)
        if idx.size > MAX_REFERENCE_ROWS:
            idx = np.sort(np.random.default_rng(self.seed).choice(idx, MAX_REFERENCE_ROWS, replace=False))
        X, y, yhat = X.iloc[idx], y[idx], yhat[idx]
        self.columns_, self.categories_ = _encoding(X)
        M = self._matrix(X, yhat)
        err = y - yhat
        mask = [c in self.categories_ for c in self.columns_] + [False]
        with _one_thread():
            self.abs_model_ = self._regressor(mask).fit(M, np.abs(err))
            self.squared_model_ = self._regressor(mask).fit(M, err**2)
        self.reference_y_, self.reference_pred_ = y, yhat
        self._spreads: dict[tuple[int, int], dict[str, Band]] = {}
        W = np.ones((1, len(y)))
        point = regression_kernels(W, y, yhat, DLE_METRICS)
        self.reference_ = PerformanceReport(
            task="regression", n_rows=len(y), n_boot=0,
            metrics=tuple(MetricResult(name=m, value=float(point[m][0]), greater_is_better=False)
                          for m in DLE_METRICS),
        )  # fmt: skip
        return self

    def _regressor(self, categorical: list[bool]) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes, learning_rate=self.learning_rate,
            categorical_features=categorical if any(categorical) else None, random_state=self.seed,
            early_stopping=False,
        )  # fmt: skip

    def _matrix(self, X: pd.DataFrame, yhat: Floats) -> Floats:
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataError(f"the rows lack the inputs {missing} the loss models read; columns: {list(X.columns)}")
        cols = []
        for c in self.columns_:
            if c in self.categories_:
                codes = {v: float(i) for i, v in enumerate(self.categories_[c])}
                cols.append(X[c].map(lambda v, codes=codes: codes.get(v, np.nan)).to_numpy(dtype=np.float64))
            else:
                cols.append(pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
        cols.append(yhat)
        return np.column_stack(cols)

    def _check_fitted(self) -> None:
        if not hasattr(self, "abs_model_"):
            raise DataError("this DLE is not fitted yet; call fit(inputs, predictions, labels) first")

    # --- estimating --------------------------------------------------------------

    def expected_losses(self, X: pd.DataFrame, y_pred: Any) -> tuple[Floats, Floats]:
        """Each row's expected absolute and squared error (both ``>= 0``)."""
        self._check_fitted()
        M = self._matrix(X, _floats(y_pred, "predictions"))
        with _one_thread():
            return np.maximum(self.abs_model_.predict(M), 0.0), np.maximum(self.squared_model_.predict(M), 0.0)

    def spread(self, m: int, *, chunks: int | None = None) -> dict[str, Band]:
        """Mean and std of the realised ``mae`` and ``rmse`` over reference chunks of ``m`` rows (cached)."""
        self._check_fitted()
        size, chunks = round_size(int(m)), chunks or self.chunks
        if (size, chunks) not in self._spreads:
            y, yhat = self.reference_y_, self.reference_pred_

            def kernel(W: Floats) -> dict[str, Floats]:
                return regression_kernels(W, y, yhat, DLE_METRICS)

            self._spreads[size, chunks] = chunk_spread(kernel, len(y), size, chunks=chunks, seed=self.seed)
        return self._spreads[size, chunks]

    def band(self, m: int, k: float, *, chunks: int | None = None, seed: int = 0) -> dict[str, Band]:
        """The learned band of each metric at ``m`` rows: ``mean ± k·std`` of the realised metric over
        reference chunks (``>= 0``); the chunks are seeded by the estimator's ``seed``."""
        return {
            name: learned_band(mean, std, k, lower=0.0) for name, (mean, std) in self.spread(m, chunks=chunks).items()
        }

    def estimate(
        self,
        X: pd.DataFrame,
        y_pred: Any,
        *,
        reference: Mapping[str, float] | None = None,
        confidence: float = DEFAULT_CONFIDENCE,
        **_: Any,
    ) -> PerformanceReport:
        """Estimated ``mae`` and ``rmse`` of unlabeled rows, marked ``estimated``.

        Parameters
        ----------
        X : DataFrame
            The model's inputs (at least :attr:`columns_`).
        y_pred : array-like
            Its predictions.
        reference : mapping, optional
            The version's ``metrics``, for the change against the training holdout.
        confidence : float, default=0.95
            Level of the interval ``estimate ± z·std`` (see the module docstring).

        Returns
        -------
        PerformanceReport
        """
        if not 0 < confidence < 1:
            raise DataError(f"confidence must be between 0 and 1; got {confidence}")
        n = len(X)
        if n == 0:
            raise DataError("no predictions to estimate the performance of")
        abs_hat, sq_hat = self.expected_losses(X, y_pred)
        values = {"mae": float(abs_hat.mean()), "rmse": float(np.sqrt(sq_hat.mean()))}
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        spread = self.spread(n)
        metrics = []
        for name in DLE_METRICS:
            value = values[name]
            lower = upper = None
            if name in spread:
                lower, upper = max(value - z * spread[name][1], 0.0), value + z * spread[name][1]
            ref = _holdout(name, reference)
            metrics.append(MetricResult(
                name=name, value=value, lower=lower, upper=upper, reference=ref,
                change=None if ref is None else value - ref, greater_is_better=name not in LOWER_IS_BETTER,
                estimated=True,
            ))  # fmt: skip
        return PerformanceReport(
            task="regression", n_rows=n, metrics=tuple(metrics), confidence=confidence, n_boot=0, estimated=True
        )

    # --- storing -----------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The fitted estimator as skops bytes (:meth:`from_bytes` reverses it)."""
        import skops.io as sio

        self._check_fitted()
        return bytes(sio.dumps(compression=zipfile.ZIP_DEFLATED, obj={
            "format": _FORMAT, "params": {k: getattr(self, k) for k in
                                           ("max_iter", "max_leaf_nodes", "learning_rate", "seed", "chunks")},
            "columns": list(self.columns_), "categories": {k: list(v) for k, v in self.categories_.items()},
            "abs": self.abs_model_, "squared": self.squared_model_,
            "reference_y": self.reference_y_, "reference_pred": self.reference_pred_,
        }))  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> DLE:
        """Rebuild from :meth:`to_bytes`; only the types of :data:`LOSS_MODEL_TYPES` are trusted.

        Raises
        ------
        DataError
            Not a stored loss model, or one holding other types.
        """
        import skops.io as sio

        try:
            d = sio.loads(data, trusted=LOSS_MODEL_TYPES)
            est = cls(**d["params"])
            est.columns_, est.categories_ = list(d["columns"]), {k: list(v) for k, v in d["categories"].items()}
            est.abs_model_, est.squared_model_ = d["abs"], d["squared"]
            y, yhat = np.asarray(d["reference_y"], dtype=np.float64), np.asarray(d["reference_pred"], dtype=np.float64)
        except Exception as exc:  # skops raises its own untrusted-type and format errors
            raise DataError(f"not a stored loss model ({type(exc).__name__}: {exc}); retrain the version") from exc
        est.reference_y_, est.reference_pred_ = y, yhat
        est._spreads = {}
        point = regression_kernels(np.ones((1, len(y))), y, yhat, DLE_METRICS)
        est.reference_ = PerformanceReport(
            task="regression", n_rows=len(y), n_boot=0,
            metrics=tuple(MetricResult(name=m, value=float(point[m][0]), greater_is_better=False)
                          for m in DLE_METRICS),
        )  # fmt: skip
        return est

    def __repr__(self) -> str:
        return f"DLE(max_iter={self.max_iter}, max_leaf_nodes={self.max_leaf_nodes}, seed={self.seed})"


def _one_thread() -> Any:
    """OpenMP on one thread: small models gain nothing from more, and on a shared machine
    the threads' spin-waiting made a fit twenty times slower."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so that the limit reaches it)
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(limits=1, user_api="openmp")


def _floats(values: Any, what: str) -> Floats:
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataError(f"regression {what} must be numbers ({exc})") from exc


def _encoding(X: pd.DataFrame) -> tuple[list[str], dict[str, list[Any]]]:
    """The columns the loss models read and the coded values of the categorical ones."""
    columns: list[str] = []
    categories: dict[str, list[Any]] = {}
    for c in X.columns:
        col = X[c]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            columns.append(str(c))
            continue
        counts = col.dropna().value_counts()
        if len(counts) > 10 * MAX_CODES and len(counts) > 0.5 * len(col):
            continue  # text or ids: codes of a few values would say nothing
        columns.append(str(c))
        categories[str(c)] = [v.item() if isinstance(v, np.generic) else v for v in counts.index[:MAX_CODES]]
    return columns, categories
