""":func:`coerce_frame`: type incoming rows like a model's signature, and say what is wrong.

It casts a DataFrame read from CSV, JSON records or a dict of columns to the signature's
dtypes, so that the same row typed in any of these ways reaches the model as the same
values, and reports what is wrong with them: errors for what cannot be scored, flags for
what can but deserves a look. It is vectorised: a server calls it on every request.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.registry._signature import InputColumn, Signature, _py

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_ISSUES_PER_PROBLEM",
    "MISSING_IMPUTED",
    "CoercionResult",
    "ValidationIssue",
    "brief",
    "canonical_text",
    "coerce_frame",
]

MISSING_IMPUTED = "missing value; none in training, scored as the fitted pipeline fills it in"
"""The flag of a missing value in a column that had none in training but that the model
handles (``InputColumn.accepts_missing``): scored, and counted by the monitor's quality
checks, not refused."""

MAX_ISSUES_PER_PROBLEM = 20
"""Row-level issues reported per column and problem; the rest are summed up in one."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The values an ``int64`` column takes (both ends included)."""

DATE_MIN = pd.Timestamp("0001-01-01T00:00:00")
DATE_MAX = pd.Timestamp("9999-12-31T23:59:59")
"""The datetimes a ``datetime64`` column takes, in UTC: those a Python ``datetime`` (and so the
prediction log, and any client reading it back) can hold."""

# what each refused value is told (one wording, shared by the server's fast path)
NESTED = "is not one value: a cell holds a number, a string or a boolean, not an object or a list"
NOT_A_NUMBER = "is not a number"
NOT_FINITE = "is not a finite number"
NOT_WHOLE = "is not a whole number"
NOT_IN_INT64 = "is outside the int64 range [-2**63, 2**63 - 1]"
NOT_A_BOOL = "is not a boolean (true/false, yes/no, 1/0)"
NOT_A_DATE = "is not an ISO-8601 date or time"
NOT_IN_DATES = "is outside the years 1 to 9999 (in UTC)"
NOT_TEXT = "is not text (a string, or a number written as text)"
NOT_UNICODE = "holds a lone UTF-16 surrogate; send valid Unicode text"

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

_CONTAINERS = (dict, list, tuple, set)
_INT_TEXT = re.compile(r"[+-]?\d{1,40}")
_SHOWN_CHARS = 60

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
            if not data:
                return pd.DataFrame()
            # object columns built by hand: the values as sent, no dtype inference (which would
            # fail on text pyarrow cannot hold before the cells are checked)
            names = dict.fromkeys(itertools.chain.from_iterable(data))
            return pd.DataFrame({k: [r.get(k) for r in data] for k in names}, dtype=object)
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


def _nested(raw: pd.Series) -> np.ndarray:
    """Cells holding an object or a list (JSON nesting): never a value of a column."""
    if raw.dtype != object:
        return np.zeros(len(raw), dtype=bool)
    types = list(map(type, raw.to_numpy()))
    containers = {t for t in set(types) if issubclass(t, _CONTAINERS)}
    if not containers:  # the common case: one pass of type() over the column
        return np.zeros(len(raw), dtype=bool)
    return np.fromiter((t in containers for t in types), dtype=bool, count=len(types))


def _exact_ints(raw: pd.Series, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the cells that are integers (Python ints, or integer text) inside and outside int64.

    Only cells whose float reading is near or beyond the int64 bounds are looked at: below
    2**62 the float reading decides alike.
    """
    inside = np.zeros(len(raw), dtype=bool)
    outside = np.zeros(len(raw), dtype=bool)
    if raw.dtype != object and not pd.api.types.is_string_dtype(raw.dtype):
        return inside, outside
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(np.abs(arr) >= 2.0**62)
    values = raw.to_numpy(dtype=object)
    for i in near:
        v = values[i]
        if type(v) is str and _INT_TEXT.fullmatch(v.strip()):
            v = int(v)
        if type(v) is int:
            inside[i] = INT64_MIN <= v <= INT64_MAX
            outside[i] = not inside[i]
    return inside, outside


def _cast_numbers(raw: pd.Series, dtype: str) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    if dtype == "int64" and pd.api.types.is_integer_dtype(raw.dtype):
        if pd.api.types.is_unsigned_integer_dtype(raw.dtype):  # uint64 from a CSV: values above int64 are out
            over = (raw > INT64_MAX).fillna(False).to_numpy(dtype=bool)
            if over.any():
                kept = raw.astype(object).where(~over, None).astype("Int64")
                return kept, [(over, NOT_IN_INT64)]
        return raw.astype("Int64"), []
    arr = _numbers(raw)
    missing = raw.isna().to_numpy()
    nested = _nested(raw)
    unreadable = np.isnan(arr) & ~missing & ~nested
    infinite = np.isinf(arr)
    problems = [(nested, NESTED), (unreadable, NOT_A_NUMBER), (infinite, NOT_FINITE)]
    if dtype == "float64":
        bad = nested | unreadable | infinite
        return pd.Series(np.where(bad, np.nan, arr), dtype="float64"), problems
    finite = np.isfinite(arr)
    with np.errstate(invalid="ignore"):
        fractional = finite & (np.mod(arr, 1) != 0)
    exact_in, exact_out = _exact_ints(raw, arr)
    # a float (or an integer beyond int64 that the JSON parser read as one) must lie strictly
    # inside (-2**63, 2**63); an exact integer anywhere in [-2**63, 2**63 - 1]
    beyond = (finite & ~fractional & (np.abs(arr) >= 2.0**63) & ~exact_in) | exact_out
    problems += [(fractional, NOT_WHOLE), (beyond, NOT_IN_INT64)]
    bad = nested | unreadable | infinite | fractional | beyond
    kept = np.where(bad, np.nan, arr)
    if not exact_in.any():
        return pd.Series(kept).astype("Int64"), problems
    # exact integers keep every digit (2**63 - 1 has no float64)
    exact = [
        int(v) if inside else (None if k != k else int(k))
        for v, k, inside in zip(raw.to_numpy(dtype=object).tolist(), kept.tolist(), exact_in.tolist(), strict=True)
    ]
    return pd.Series(pd.array(exact, dtype="Int64")), problems


def _cast_bools(raw: pd.Series) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), []
    missing = raw.isna().to_numpy()
    nested = _nested(raw)
    plain = raw.astype(object).where(~raw.isna() & ~nested, None)
    words = plain.map(lambda v: v if v is None else str(v).strip().lower())
    mapped = words.map(_BOOL_WORDS).where(~missing & ~nested, None)
    bad = mapped.isna().to_numpy() & ~missing & ~nested
    return mapped.astype("boolean"), [(nested, NESTED), (bad, NOT_A_BOOL)]


def _cast_dates(raw: pd.Series) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = raw
        if getattr(raw.dt, "tz", None) is not None:
            stamps = raw.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = stamps.astype("datetime64[us]")
        unreadable = np.zeros(len(raw), dtype=bool)
    else:
        missing = raw.isna().to_numpy()
        values = raw.astype(object).where(~raw.isna(), None)
        # only text and date objects are dates: a number is refused, not read as an epoch
        textual = np.fromiter(
            (v is None or isinstance(v, str | datetime | date) for v in values), dtype=bool, count=len(values)
        )
        values = values.where(textual, None)
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
        stamps = stamps.dt.tz_localize(None).astype("datetime64[us]")
        unreadable = (stamps.isna().to_numpy() & ~missing) | ~textual
    nested = _nested(raw)
    unreadable &= ~nested
    outside = ((stamps < DATE_MIN) | (stamps > DATE_MAX)).fillna(False).to_numpy(dtype=bool)
    stamps = stamps.where(~outside)
    return stamps, [(nested, NESTED), (unreadable, NOT_A_DATE), (outside, NOT_IN_DATES)]


def _cast_text(raw: pd.Series) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    if raw.dtype != object and pd.api.types.is_string_dtype(raw.dtype):
        return raw.astype("str"), []  # a pandas string column holds text only (valid Unicode)
    missing = raw.isna().to_numpy()
    values = raw.astype(object).where(~raw.isna(), None)
    texts: list[Any] = []
    nested = np.zeros(len(raw), dtype=bool)
    wrong = np.zeros(len(raw), dtype=bool)
    unicode = np.zeros(len(raw), dtype=bool)
    for i, v in enumerate(values):
        text = None
        if v is None:
            pass
        elif isinstance(v, str):
            if v.isascii() or _encodable(v):
                text = v
            else:
                unicode[i] = True
        elif isinstance(v, _CONTAINERS):
            nested[i] = True
        else:
            text = canonical_text(v)
            if text is None:
                wrong[i] = True
        texts.append(text)
    typed = pd.Series(texts, dtype=object).where(~missing, None).astype("str")
    return typed, [(nested, NESTED), (wrong, NOT_TEXT), (unicode, NOT_UNICODE)]


def _cast(raw: pd.Series, dtype: str) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    """The typed column, and for each problem a mask of the values that have it.

    A value is refused (and missing in the typed column) when it has a problem.
    """
    if dtype in ("int64", "float64"):
        return _cast_numbers(raw, dtype)
    if dtype == "bool":
        return _cast_bools(raw)
    if dtype == "datetime64":
        return _cast_dates(raw)
    return _cast_text(raw)


def canonical_text(value: Any) -> str | None:
    """A number as the text a string column holds (``3.0`` is ``"3"``); ``None`` for anything else.

    Text is kept as given. Booleans, non-finite numbers, objects and lists are not text.

    Examples
    --------
    >>> canonical_text(3.0), canonical_text(7), canonical_text(2.5), canonical_text(True), canonical_text({})
    ('3', '7', '2.5', None, None)
    """
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800"): no UTF-8 text can carry it
        return False
    return True


def brief(value: Any) -> str:
    """A value as a message shows it: its repr, cut to a few dozen characters."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple | set):
        return "a list"
    text = repr(_py(value))
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _row_issues(
    mask: np.ndarray,
    raw: pd.Series,
    column: str,
    problem: str,
    severity: Severity,
    show_value: bool = True,
    limit: int | None = MAX_ISSUES_PER_PROBLEM,
) -> list[ValidationIssue]:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return []
    shown = rows if limit is None else rows[:limit]
    issues = [
        ValidationIssue(int(r), column, f"{brief(raw.iloc[r])} {problem}" if show_value else problem, severity)
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


def coerce_frame(data: Any, signature: Signature, *, max_issues: int | None = MAX_ISSUES_PER_PROBLEM) -> CoercionResult:
    """Cast incoming data to a signature's dtypes and report what is wrong with it.

    ``null``, ``None``, ``NaN`` and ``NaT`` all mean missing. Booleans may be given
    as ``true``/``false``, ``yes``/``no``, ``1``/``0`` (any case); datetimes as
    ISO-8601 strings (with an offset, converted to UTC). Extra columns are dropped.

    Errors (the row cannot be scored as given): a missing column; a value that
    cannot be cast (``"abc"`` in a numeric column, ``1.5`` in an integer column); a
    missing value in a column that had none in training and that the model does not
    handle (``InputColumn.missing_ok``). Flags (scored, worth a look): an unknown
    category, a numeric or datetime value outside the training range, an extra
    column, a missing value the model handles in a column that had none in training
    (:data:`MISSING_IMPUTED`). A numeric column whose
    training values had words in them (:attr:`InputColumn.not_numbers`) reads
    ``"abc"`` as missing, as training did, and flags it.

    What a cell may hold is decided here, once, for every caller (the server's fast
    path gives the same verdicts):

    - one value: an object or a list (JSON nesting) is an error in any column;
    - numbers are finite: ``Infinity`` (or ``"1e999"``) is an error; ``NaN`` is missing,
      like ``null`` (an error where the column may not be missing);
    - an ``int64`` column takes whole numbers in ``[-2**63, 2**63 - 1]``, checked
      exactly for integers; a float must lie strictly inside ``(-2**63, 2**63)``, so
      that an integer beyond int64, which JSON parsers read as a float, is refused at
      both ends. Values are scored as float64, as scikit-learn sees them;
    - datetimes lie in the years 1 to 9999 once converted to UTC (:data:`DATE_MIN`,
      :data:`DATE_MAX`), what a Python ``datetime`` holds;
    - a ``string`` column takes text (valid Unicode: no lone surrogate) and numbers,
      as their canonical text (:func:`canonical_text`: ``3.0`` is ``"3"``, as the
      pipelines' categorical encoding writes them); booleans and anything else are
      errors, never their Python ``repr``.

    Parameters
    ----------
    data : DataFrame, list of dict or dict of lists
        A table (e.g. read from CSV), JSON records, or JSON columns.
    signature : Signature
        The model's signature.
    max_issues : int or None, default=MAX_ISSUES_PER_PROBLEM
        Rows reported per column and problem (the rest in one summing issue); ``None``
        reports every row, as batch scoring does to set each refused row aside with
        its reasons.

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
        typed, problems = _cast(raw, col.dtype)
        typed.index = frame.index
        columns[col.name] = typed
        missing = raw.isna().to_numpy()
        bad = np.zeros(n, dtype=bool)
        for mask, why in problems:
            if why == NOT_A_NUMBER and col.not_numbers:  # as training read them: missing, imputed
                flags += _row_issues(mask, raw, col.name, f"{why}; read as missing, as in training", "flag",
                                     limit=max_issues)  # fmt: skip
                continue
            errors += _row_issues(mask, raw, col.name, f"{why}; expected {col.dtype}", "error", limit=max_issues)
            bad |= mask
        error_mask |= bad
        if not col.missing_ok:
            errors += _row_issues(
                missing,
                raw,
                col.name,
                "missing value; the model was trained without missing values in this column "
                "and its pipeline does not fill them in",
                "error",
                show_value=False,
                limit=max_issues,
            )
            error_mask |= missing
        elif not col.nullable:
            flags += _row_issues(missing, raw, col.name, MISSING_IMPUTED, "flag", show_value=False, limit=max_issues)
        valid = ~missing & ~bad
        if col.categories is not None:
            unknown = valid & ~typed.isin(list(col.categories)).to_numpy(dtype=bool)
            flags += _row_issues(unknown, raw, col.name, "is a category not seen in training", "flag", limit=max_issues)
        if col.dtype in ("int64", "float64", "datetime64"):
            outside = valid & _range_mask(typed, col)
            flags += _row_issues(
                outside,
                raw,
                col.name,
                f"is outside the training range [{col.min}, {col.max}]; the prediction extrapolates",
                "flag",
                limit=max_issues,
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
