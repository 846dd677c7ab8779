""":func:`coerce_frame`: type incoming rows like a model's signature, and say what is wrong.

It casts a DataFrame read from CSV, JSON records or a dict of columns to the signature's
dtypes, so that the same row typed in any of these ways reaches the model as the same
values, and reports what is wrong with them: errors for what cannot be scored, flags for
what can but deserves a look. It is vectorised: a server calls it on every request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.registry._signature import InputColumn, Signature, _py

__all__ = ["MAX_ISSUES_PER_PROBLEM", "CoercionResult", "ValidationIssue", "coerce_frame"]

MAX_ISSUES_PER_PROBLEM = 20
"""Row-level issues reported per column and problem; the rest are summed up in one."""

_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_BOOL_WORDS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
_PANDAS_DTYPE = {
    "int64": "Int64",
    "float64": "float64",
    "bool": "boolean",
    "string": "str",
    "datetime64": "datetime64[us]",
}

Severity = Literal["error", "flag"]


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in incoming data.

    Attributes
    ----------
    row : int or None
        Position of the row (0-based) in the data given, or ``None`` for a problem
        of the whole column (missing or extra column, or a count of further rows).
    column : str
    problem : str
        What is wrong, with the value when there is one.
    severity : {"error", "flag"}
        ``error``: the row cannot be scored as given. ``flag``: it is scored, but the
        value lies outside what the model saw (an unknown category, a value out of the
        training range) or an extra column was dropped.
    """

    row: int | None
    column: str
    problem: str
    severity: Severity

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"row": self.row, "column": self.column, "problem": self.problem, "severity": self.severity}


@dataclass(frozen=True)
class CoercionResult:
    """Incoming data typed like the signature, and what was found wrong with it.

    Attributes
    ----------
    frame : DataFrame
        The signature's columns in order, with a ``RangeIndex``; pandas dtypes
        ``Int64``, ``float64``, ``boolean``, ``str`` and ``datetime64[us]`` for the
        canonical dtypes. Values that could not be cast are missing; a missing
        column is all missing.
    issues : tuple of ValidationIssue
        Errors, then flags, column by column.
    error_rows : tuple of int
        Positions of every row with at least one error (all of them, even where
        :data:`MAX_ISSUES_PER_PROBLEM` cut the issue list short). A missing column
        makes every row an error row.
    """

    frame: pd.DataFrame = field(repr=False)
    issues: tuple[ValidationIssue, ...]
    error_rows: tuple[int, ...] = ()

    @property
    def errors(self) -> list[ValidationIssue]:
        """The issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def flags(self) -> list[ValidationIssue]:
        """The issues of severity ``flag``."""
        return [i for i in self.issues if i.severity == "flag"]

    @property
    def ok(self) -> bool:
        """Whether there is no error (flags are allowed)."""
        return not self.errors


def _to_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    try:
        if isinstance(data, Mapping):
            # object dtype: keep the values as sent (no int → float through None)
            return pd.DataFrame(dict(data), dtype=object)
        if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
            if not all(isinstance(r, Mapping) for r in data):
                raise DataError("expected a list of records (objects mapping column names to values)")
            return pd.DataFrame.from_records(list(data)).astype(object) if data else pd.DataFrame()
    except ValueError as exc:
        raise DataError(f"cannot read the data as a table: {exc}") from exc
    raise DataError(f"expected a DataFrame, a list of records or a dict of columns; got {type(data).__name__}")


def _numbers(raw: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype="float64", na_value=np.nan)
    values = raw
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        values = raw.astype(object).where(~raw.isna(), None)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _cast(raw: pd.Series, dtype: str) -> tuple[pd.Series, np.ndarray, str]:
    """The typed column, a mask of values that could not be cast, and why."""
    missing = raw.isna().to_numpy()
    if dtype in ("int64", "float64"):
        if dtype == "int64" and pd.api.types.is_integer_dtype(raw.dtype):
            return raw.astype("Int64"), np.zeros(len(raw), dtype=bool), ""
        arr = _numbers(raw)
        bad = np.isnan(arr) & ~missing
        why = "is not a number"
        if dtype == "int64":
            with np.errstate(invalid="ignore"):
                fractional = ~np.isnan(arr) & ((~np.isfinite(arr)) | (np.mod(arr, 1) != 0))
                huge = ~np.isnan(arr) & (np.abs(arr) >= 2.0**63)
            bad |= fractional | huge
            why = "is not a whole number within the int64 range"
            arr = np.where(bad, np.nan, arr)
            return pd.Series(arr).astype("Int64"), bad, why
        return pd.Series(arr, dtype="float64"), bad, why
    if dtype == "bool":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean"), np.zeros(len(raw), dtype=bool), ""
        words = raw.astype(object).where(~raw.isna(), None).astype(str).str.strip().str.lower()
        mapped = words.map(_BOOL_WORDS).where(~missing, None)
        bad = mapped.isna().to_numpy() & ~missing
        return mapped.astype("boolean"), bad, "is not a boolean (true/false, yes/no, 1/0)"
    if dtype == "datetime64":
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            stamps = raw
            if getattr(raw.dt, "tz", None) is not None:
                stamps = raw.dt.tz_convert("UTC").dt.tz_localize(None)
            return stamps.astype("datetime64[us]"), np.zeros(len(raw), dtype=bool), ""
        values = raw.astype(object).where(~raw.isna(), None)
        # only text and date objects are dates: a number is refused, not read as an epoch
        textual = values.map(lambda v: v is None or isinstance(v, str | datetime | date)).to_numpy(dtype=bool)
        values = values.where(textual, None)
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
        stamps = stamps.dt.tz_localize(None).astype("datetime64[us]")
        bad = (stamps.isna().to_numpy() & ~missing) | ~textual
        return stamps, bad, "is not an ISO-8601 date or time"
    # string: anything can be written as text; missing stays missing
    return raw.astype(object).where(~raw.isna(), None).astype("str"), np.zeros(len(raw), dtype=bool), ""


def _row_issues(
    mask: np.ndarray, raw: pd.Series, column: str, problem: str, severity: Severity, show_value: bool = True
) -> list[ValidationIssue]:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return []
    shown = rows[:MAX_ISSUES_PER_PROBLEM]
    issues = [
        ValidationIssue(int(r), column, f"{_py(raw.iloc[r])!r} {problem}" if show_value else problem, severity)
        for r in shown
    ]
    if rows.size > shown.size:
        issues.append(ValidationIssue(None, column, f"{rows.size - shown.size} more rows: {problem}", severity))
    return issues


def _range_mask(typed: pd.Series, col: InputColumn) -> np.ndarray:
    if col.min is None and col.max is None:
        return np.zeros(len(typed), dtype=bool)
    if col.dtype == "datetime64":
        lo = None if col.min is None else pd.Timestamp(col.min).tz_localize(None)
        hi = None if col.max is None else pd.Timestamp(col.max).tz_localize(None)
        values = typed
    else:
        lo, hi = col.min, col.max
        values = pd.Series(typed.to_numpy(dtype="float64", na_value=np.nan))
    out = np.zeros(len(typed), dtype=bool)
    if lo is not None:
        out |= (values < lo).fillna(False).to_numpy(dtype=bool)
    if hi is not None:
        out |= (values > hi).fillna(False).to_numpy(dtype=bool)
    return out


def coerce_frame(data: Any, signature: Signature) -> CoercionResult:
    """Cast incoming data to a signature's dtypes and report what is wrong with it.

    ``null``, ``None``, ``NaN`` and ``NaT`` all mean missing. Booleans may be given
    as ``true``/``false``, ``yes``/``no``, ``1``/``0`` (any case); datetimes as
    ISO-8601 strings (with an offset, converted to UTC). Extra columns are dropped.

    Errors (the row cannot be scored as given): a missing column; a value that
    cannot be cast (``"abc"`` in a numeric column, ``1.5`` in an integer column); a
    missing value in a column that had none in training. Flags (scored, worth a
    look): an unknown category, a numeric or datetime value outside the training
    range, an extra column.

    Parameters
    ----------
    data : DataFrame, list of dict or dict of lists
        A table (e.g. read from CSV), JSON records, or JSON columns.
    signature : Signature
        The model's signature.

    Returns
    -------
    CoercionResult

    Raises
    ------
    DataError
        ``data`` is not a table in one of these shapes.

    Examples
    --------
    >>> from skloop.registry import infer_signature
    >>> sig = infer_signature(pd.DataFrame({"age": [30, 40], "plan": ["a", "b"]}), task="regression")
    >>> result = coerce_frame([{"age": "35", "plan": "a"}, {"age": "abc", "plan": "c"}], sig)
    >>> result.frame["age"].tolist()
    [35, <NA>]
    >>> [(i.row, i.column, i.severity) for i in result.issues]
    [(1, 'age', 'error'), (1, 'plan', 'flag')]
    """
    frame = _to_frame(data)
    n = len(frame)
    columns: dict[str, pd.Series] = {}
    errors: list[ValidationIssue] = []
    flags: list[ValidationIssue] = []
    error_mask = np.zeros(n, dtype=bool)
    for col in signature.inputs:
        if col.name not in frame.columns:
            errors.append(
                ValidationIssue(None, col.name, f"missing column; expected {col.dtype} values ({col.kind})", "error")
            )
            error_mask[:] = True
            columns[col.name] = pd.Series([None] * n, dtype=object).astype(_PANDAS_DTYPE[col.dtype])
            continue
        raw = frame[col.name]
        if isinstance(raw, pd.DataFrame):
            raise DataError(f"column {col.name!r} appears more than once; send each column once")
        typed, bad, why = _cast(raw, col.dtype)
        typed.index = frame.index
        columns[col.name] = typed
        missing = raw.isna().to_numpy()
        errors += _row_issues(bad, raw, col.name, f"{why}; expected {col.dtype}", "error")
        error_mask |= bad
        if not col.nullable:
            errors += _row_issues(
                missing,
                raw,
                col.name,
                "missing value; the model was trained without missing values in this column",
                "error",
                show_value=False,
            )
            error_mask |= missing
        valid = ~missing & ~bad
        if col.categories is not None:
            unknown = valid & ~typed.isin(list(col.categories)).to_numpy(dtype=bool)
            flags += _row_issues(unknown, raw, col.name, "is a category not seen in training", "flag")
        if col.dtype in ("int64", "float64", "datetime64"):
            outside = valid & _range_mask(typed, col)
            flags += _row_issues(
                outside,
                raw,
                col.name,
                f"is outside the training range [{col.min}, {col.max}]; the prediction extrapolates",
                "flag",
            )
    known = set(signature.names)
    for extra in (str(c) for c in frame.columns if c not in known):
        flags.append(ValidationIssue(None, extra, "not an input of the model; dropped", "flag"))
    out = pd.DataFrame(columns, index=pd.RangeIndex(n)) if columns else pd.DataFrame(index=pd.RangeIndex(n))
    return CoercionResult(
        frame=out,
        issues=tuple(errors + flags),
        error_rows=tuple(int(r) for r in np.flatnonzero(error_mask)),
    )
