"""Which input columns a fitted model scores when they are missing.

A model may take a missing value in a column its training data never left empty:
an imputer in the column's ``ColumnTransformer`` branch fills it, a
``MissingCategoryFiller`` names it, an estimator such as
``HistGradientBoostingClassifier`` routes it. Reading that from the pipeline's
structure would need a rule for every transformer (a ``StandardScaler`` passes ``NaN``
through, and the estimator after it then decides), so the fitted model is asked
instead: a few training rows with the column emptied are scored, and the column is
handled when that succeeds with finite outputs. Once per registration, on a handful
of rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PROBE_ROWS", "missing_handled_columns"]

PROBE_ROWS = 8
"""Training rows scored per column with that column emptied."""


def _empty(column: pd.Series) -> pd.Series:
    """The column with every value missing, in its own dtype (``NaN``, ``<NA>``, ``NaT``)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_extension_array_dtype(dtype):
        return pd.Series([None] * len(column), index=column.index, dtype=dtype)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.Series(pd.NaT, index=column.index, dtype=dtype)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(np.nan, index=column.index, dtype="float64")
    return pd.Series([None] * len(column), index=column.index, dtype=object)


def _scores(model: Any, X: pd.DataFrame) -> bool:
    """Whether ``model`` predicts ``X`` with finite outputs (and probabilities)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = [np.asarray(model.predict(X))]
            if hasattr(model, "predict_proba"):
                outputs.append(np.asarray(model.predict_proba(X)))
    except Exception:
        return False
    for out in outputs:
        if out.shape[0] != len(X):
            return False
        if np.issubdtype(out.dtype, np.number) and not np.all(np.isfinite(out)):
            return False
        if out.dtype == object and pd.isna(pd.Series(out.ravel())).any():
            return False
    return True


def missing_handled_columns(model: Any, X: pd.DataFrame, *, rows: int = PROBE_ROWS) -> list[str]:
    """The columns of ``X`` that ``model`` scores when they are missing.

    Parameters
    ----------
    model : estimator
        A fitted model taking the columns of ``X`` (a pipeline with its preprocessing).
    X : DataFrame
        Rows typed as the model gets them at serving time (training rows, say); the
        first ``rows`` are used.
    rows : int, default=PROBE_ROWS
        Rows scored per column.

    Returns
    -------
    list of str
        In the order of ``X``; empty when ``X`` has no rows or the model scores
        nothing of it.

    Examples
    --------
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.impute import SimpleImputer
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> X = pd.DataFrame({"age": [30.0, 40.0, 50.0], "fare": [7.0, 8.0, 9.0]})
    >>> pre = ColumnTransformer([("imputed", SimpleImputer(), ["age"]), ("raw", "passthrough", ["fare"])])
    >>> model = make_pipeline(pre, LinearRegression()).fit(X, [1.0, 2.0, 3.0])
    >>> missing_handled_columns(model, X)
    ['age']
    """
    sample = X.head(rows).reset_index(drop=True)
    if len(sample) == 0 or not _scores(model, sample):
        return []
    probes = []
    for name in sample.columns:
        probe = sample.copy()
        probe[name] = _empty(sample[name])
        probes.append(probe)
    # one call when every column is handled (the auto preprocessing): a wide table stays cheap
    with warnings.catch_warnings():  # concatenating all-missing columns: pandas' dtype notes
        warnings.simplefilter("ignore")
        together = pd.concat(probes, ignore_index=True)
    if _scores(model, together):
        return [str(name) for name in sample.columns]
    return [str(name) for name, probe in zip(sample.columns, probes, strict=True) if _scores(model, probe)]
