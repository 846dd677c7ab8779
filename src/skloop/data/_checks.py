"""Checks that a table can be trained on, and the task its target implies."""

from __future__ import annotations

import difflib

import numpy as np
import numpy.typing as npt
import pandas as pd

from skloop.core import DataError

__all__ = ["TASKS", "check_training_frame", "infer_task"]

TASKS = ("classification", "regression")
MAX_FLOAT_CLASSES = 20
_SHOW_ROWS = 5
_SHOW_COLUMNS = 30


def infer_task(y: pd.Series | np.ndarray | list[object]) -> str:
    """Infer whether a target asks for classification or regression.

    A target is for **classification** when its dtype is not floating point (integers,
    booleans, strings, categories), or when it is floating point but every value is a
    whole number and there are at most 20 distinct values (``0.0``/``1.0`` labels
    read from a CSV with missing values elsewhere). Otherwise it is **regression**.
    Missing values are ignored.

    Parameters
    ----------
    y : pandas.Series, numpy.ndarray or list
        The target values.

    Returns
    -------
    {"classification", "regression"}

    Examples
    --------
    >>> infer_task([0, 1, 1]), infer_task([0.5, 1.7, 2.2]), infer_task([1.0, 2.0, 1.0])
    ('classification', 'regression', 'classification')
    """
    s = y if isinstance(y, pd.Series) else pd.Series(y)
    if not pd.api.types.is_float_dtype(s.dtype):
        return "classification"
    values = s.dropna().to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if values.size and np.all(values == np.round(values)) and np.unique(values).size <= MAX_FLOAT_CLASSES:
        return "classification"
    return "regression"


def _column_list(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:_SHOW_COLUMNS])
    more = len(columns) - _SHOW_COLUMNS
    return shown + (f" and {more} more" if more > 0 else "")


def _row_list(positions: npt.NDArray[np.intp]) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:_SHOW_ROWS])
    more = positions.size - _SHOW_ROWS
    return shown + (", ..." if more > 0 else "")


def check_training_frame(df: pd.DataFrame, target: str, task: str | None = None) -> str:
    """Check that ``df`` can be trained on to predict ``target``, and return the task.

    Parameters
    ----------
    df : pandas.DataFrame
        The training table, target included.
    target : str
        Name of the target column.
    task : {"classification", "regression", "auto"} or None
        The task; ``None`` or ``"auto"`` infers it with :func:`infer_task`.

    Returns
    -------
    {"classification", "regression"}

    Raises
    ------
    DataError
        If the table has no rows; if ``target`` is not a column (the message names
        close matches and lists the columns); if the target has missing values (their
        count and the first row positions, counted from 0); if a column is entirely
        empty; if a classification target has a single class; if a regression target
        is not numeric; or if ``task`` is not a known task.

    Examples
    --------
    >>> import pandas as pd
    >>> check_training_frame(pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]}), "y")
    'classification'
    """
    if task not in (None, "auto", *TASKS):
        raise DataError(f"task must be one of 'classification', 'regression' or 'auto'; got {task!r}")
    columns = [str(c) for c in df.columns]
    if target not in df.columns:
        close = difflib.get_close_matches(target, columns, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DataError(
            f"target column {target!r} is not in the data.{hint} Columns: {_column_list(columns)}. "
            "Set data.target to one of them."
        )
    if len(df) == 0:
        raise DataError(f"the training data has no rows (columns: {_column_list(columns)}); add rows")
    y = df[target]
    if isinstance(y, pd.DataFrame):
        raise DataError(f"column name {target!r} appears more than once; give columns distinct names")
    missing = np.flatnonzero(y.isna().to_numpy())
    if missing.size:
        if missing.size == len(df):
            raise DataError(f"target column {target!r} is empty: all {len(df)} values are missing")
        raise DataError(
            f"target column {target!r} has {missing.size} missing value(s) of {len(df)}, "
            f"at rows {_row_list(missing)} (0-based); drop those rows or fill the labels"
        )
    empty = [str(c) for c in df.columns if bool(df[c].isna().all())]
    if empty:
        raise DataError(
            f"column(s) {_column_list(empty)} are empty (all {len(df)} values missing); "
            "drop them (features.drop) or fix the source"
        )
    resolved = infer_task(y) if task in (None, "auto") else task
    if resolved == "classification":
        classes = y.unique()
        if len(classes) < 2:
            raise DataError(
                f"target column {target!r} has a single class ({classes[0]!r} in all {len(df)} "
                "rows); classification needs at least two classes"
            )
    elif not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        raise DataError(
            f"target column {target!r} has dtype {y.dtype} but regression needs numbers; "
            "convert it or set task: classification"
        )
    return resolved
