"""Transformers for boolean, datetime and numeric columns.

The categorical ones live in :mod:`skloop.pipelines._categorical`; all are re-exported
by :mod:`skloop.pipelines`.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    FLOAT_DTYPES,
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from skloop.pipelines._fit_context import fit_context

__all__ = ["DATETIME_FEATURES", "BooleanEncoder", "DatetimeFeatures", "QuantileClipper"]

DATETIME_FEATURES = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "minute", "quarter")
"""The calendar features :class:`DatetimeFeatures` can extract."""

# pandas 3 deprecates the short spellings on DatetimeIndex; the names stay ours.
_ATTRIBUTE = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", "off"})

# pandas.api.types.infer_dtype kinds whose values are all of one plain type (or missing)
_PLAIN_TYPES = frozenset({"boolean", "string", "integer", "floating", "mixed-integer-float", "empty"})


def _to_bool_float(value: Any) -> float | None:
    """1.0, 0.0, NaN for missing, or ``None`` for a value that is not a boolean."""
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return np.nan if np.isnan(value) else float(value != 0)
    if isinstance(value, str):
        token = value.strip().lower()
        if token in _TRUE:
            return 1.0
        if token in _FALSE:
            return 0.0
        if token in {"", "nan", "na", "null", "none"}:
            return np.nan
    return None


class BooleanEncoder(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Encode boolean-like columns as floats ``0.0`` / ``1.0``, with ``NaN`` when missing.

    Recognised: ``True``/``False``; numbers (non-zero is true); the strings
    ``true/false``, ``t/f``, ``yes/no``, ``y/n``, ``1/0``, ``on/off`` in any case.
    Missing values (``None``, ``NaN``, ``pd.NA``, empty string) give ``NaN``.

    Parameters
    ----------
    handle_unknown : {"missing", "error"}, default="missing"
        What to do with any other value: treat it as missing, or raise ``ValueError``
        naming the column and the value (in :meth:`fit` and :meth:`transform`).

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during :meth:`fit`, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skloop.pipelines import BooleanEncoder
    >>> X = np.array([["yes", True], ["No", None], [None, 0]], dtype=object)
    >>> BooleanEncoder().fit_transform(X)
    array([[ 1.,  1.],
           [ 0., nan],
           [nan,  0.]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"handle_unknown": [StrOptions({"missing", "error"})]}

    def __init__(self, *, handle_unknown: str = "missing") -> None:
        self.handle_unknown = handle_unknown

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BooleanEncoder:
        """Check ``X`` (and, with ``handle_unknown="error"``, its values).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Boolean-like data.
        y : None
            Ignored.

        Returns
        -------
        self : BooleanEncoder
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=None, ensure_all_finite=False)
        if self.handle_unknown == "error":  # "missing" has nothing to check
            self._encode(np.asarray(X))
        return self

    def transform(self, X: Any) -> npt.NDArray[np.float64]:
        """Encode ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Boolean-like data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features), dtype=float64
            ``1.0`` for true, ``0.0`` for false, ``NaN`` for missing (or unknown).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        return self._encode(np.asarray(X))

    def _encode(self, X: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        if X.dtype.kind == "b":
            return X.astype(np.float64)
        out = np.empty(X.shape, dtype=np.float64)
        for j in range(X.shape[1]):
            out[:, j] = self._encode_column(X[:, j].astype(object), j)
        return out

    def _encode_column(self, column: npt.NDArray[np.object_], j: int) -> npt.NDArray[np.float64]:
        # Values of one plain type (and missing ones) are encoded once per distinct
        # value; pandas' hashing would merge equal values of different types
        # (``Decimal(1) == 1``), so any other column is encoded value by value.
        if pd.api.types.infer_dtype(column, skipna=True) in _PLAIN_TYPES:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            encoded = [_to_bool_float(u) for u in uniques]
            unknown = [u for u, e in zip(uniques, encoded, strict=True) if e is None]
            table = np.array([np.nan if e is None else e for e in encoded] + [np.nan], dtype=np.float64)
            values: npt.NDArray[np.float64] = table[codes]  # code -1 (missing) takes the last entry, NaN
        else:
            raw = [_to_bool_float(v) for v in column]
            unknown = [v for v, e in zip(column, raw, strict=True) if e is None]
            values = np.array([np.nan if e is None else e for e in raw], dtype=np.float64)
        if unknown and self.handle_unknown == "error":
            names = getattr(self, "feature_names_in_", None)
            name = names[j] if names is not None else j
            raise ValueError(
                f"column {name!r} has the value {unknown[0]!r}, which is not a boolean; "
                "expected true/false, yes/no, 1/0 (or set handle_unknown='missing')"
            )
        return values

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        return tags


def _to_datetime(column: npt.NDArray[Any], fmt: str) -> pd.DatetimeIndex:
    """Parse one column; numbers are Unix seconds, anything unparseable is ``NaT``."""
    if column.dtype.kind == "M":  # datetime64 of any unit: casting to object would give ns integers
        return pd.DatetimeIndex(column).tz_localize("UTC")
    values = pd.Series(column, dtype=object)
    numeric = values.map(lambda v: isinstance(v, int | float | np.integer | np.floating))
    numeric &= ~values.map(lambda v: isinstance(v, bool | np.bool_))
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if numeric.any():
        seconds = pd.to_numeric(values[numeric]).astype("float64")
        # Out-of-range seconds would overflow the nanosecond range; treat them as missing.
        seconds = seconds.where(seconds.abs() < 9.2e9)
        parsed[numeric] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    other = ~numeric & values.map(
        lambda v: isinstance(v, str | pd.Timestamp | np.datetime64) or hasattr(v, "isoformat")
    )
    if other.any():
        parsed[other] = pd.to_datetime(values[other], utc=True, format=fmt, errors="coerce")
    return pd.DatetimeIndex(parsed)


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Extract calendar features from datetime columns.

    Accepts ``datetime64`` columns, ``Timestamp``/``datetime``/``date`` objects,
    strings (parsed with ``format``; unparseable ones count as missing) and numbers
    (Unix seconds). Time-zone-aware values are converted to UTC. Missing values (and
    ``NaT``) give ``NaN`` features.

    Parameters
    ----------
    features : tuple of str, default=("year", "month", "day", "dayofweek", "hour")
        Which features to extract, in this order, from each column; any of
        ``year, month, day, dayofweek, dayofyear, hour, minute, quarter``.
    format : str, default="ISO8601"
        ``pandas.to_datetime`` format for string values.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during :meth:`fit`, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skloop.pipelines import DatetimeFeatures
    >>> X = np.array([["2024-03-05T10:30:00"], [None]], dtype=object)
    >>> DatetimeFeatures(features=("year", "month", "hour")).fit_transform(X)
    array([[2024.,    3.,   10.],
           [  nan,   nan,   nan]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "features": [tuple, list],
        "format": [str],
    }

    def __init__(
        self,
        *,
        features: tuple[str, ...] = ("year", "month", "day", "dayofweek", "hour"),
        format: str = "ISO8601",
    ) -> None:
        self.features = features
        self.format = format

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> DatetimeFeatures:
        """Check ``X`` and the requested features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Datetime-like data.
        y : None
            Ignored.

        Returns
        -------
        self : DatetimeFeatures
            The fitted transformer.
        """
        unknown = [f for f in self.features if f not in DATETIME_FEATURES]
        if unknown or not self.features:
            raise ValueError(
                f"features must be a non-empty selection of {list(DATETIME_FEATURES)}; got {list(self.features)!r}"
            )
        validate_data(self, X, dtype=None, ensure_all_finite=False)
        return self

    def transform(self, X: Any) -> npt.NDArray[np.float64]:
        """Extract the features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Datetime-like data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features * len(features))
            For each column, its features in the order of ``features``.
        """
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False))
        if X.dtype.kind != "M":
            X = X.astype(object)
        blocks = []
        for j in range(X.shape[1]):
            stamps = _to_datetime(X[:, j], self.format)
            for feature in self.features:
                values = getattr(stamps, _ATTRIBUTE.get(feature, feature))
                blocks.append(np.asarray(values, dtype=np.float64))
        return np.column_stack(blocks) if blocks else np.empty((X.shape[0], 0))

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Output names ``<column>_<feature>``.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input column names; default ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The output feature names.
        """
        check_is_fitted(self)
        columns = _check_feature_names_in(self, input_features)
        return np.asarray([f"{c}_{f}" for c in columns for f in self.features], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each numeric column to its fitted lower and upper quantiles.

    Missing values are ignored when fitting and left missing.

    Parameters
    ----------
    lower : float, default=0.01
        Quantile of the lower bound, in ``[0, 1]``.
    upper : float, default=0.99
        Quantile of the upper bound, in ``[0, 1]``, at least ``lower``.

    Attributes
    ----------
    lower_bounds_ : ndarray of shape (n_features_in_,)
        Per column, the lower bound (``-inf`` for a column with no values).
    upper_bounds_ : ndarray of shape (n_features_in_,)
        Per column, the upper bound (``inf`` for a column with no values).
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during :meth:`fit`, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skloop.pipelines import QuantileClipper
    >>> X = np.arange(101, dtype=float).reshape(-1, 1)
    >>> clipper = QuantileClipper(lower=0.1, upper=0.9).fit(X)
    >>> clipper.transform([[-5.0], [50.0], [1000.0], [np.nan]]).ravel()
    array([10., 50., 90., nan])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "lower": [Interval(Real, 0, 1, closed="both")],
        "upper": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, lower: float = 0.01, upper: float = 0.99) -> None:
        self.lower = lower
        self.upper = upper

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> QuantileClipper:
        """Learn the bounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data; ``NaN`` allowed.
        y : None
            Ignored.

        Returns
        -------
        self : QuantileClipper
            The fitted transformer.
        """
        if self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")
        lower = np.full(X.shape[1], -np.inf)
        upper = np.full(X.shape[1], np.inf)
        for j in range(X.shape[1]):
            values = X[:, j][~np.isnan(X[:, j])]
            if values.size:
                lower[j], upper[j] = np.quantile(values, [self.lower, self.upper])
        self.lower_bounds_ = lower
        self.upper_bounds_ = upper
        return self

    def transform(self, X: Any) -> npt.NDArray[np.floating[Any]]:
        """Clip ``X`` to the fitted bounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            The clipped data, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan", copy=True)
        lower = self.lower_bounds_.astype(X.dtype)
        upper = self.upper_bounds_.astype(X.dtype)
        clipped: npt.NDArray[np.floating[Any]] = np.clip(X, lower, upper, out=X)
        return clipped

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
