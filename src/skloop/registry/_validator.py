"""One validator, compiled from a signature, for every way rows reach a model.

The server (JSON records, JSON columns, V2 tensors, CSV) and
:func:`~skloop.registry.coerce_frame` (DataFrames for batch scoring, monitoring, the
MLflow wrapper) both call :meth:`Validator.validate`, with no cut-off on the number of
rows. It works a column at a time:

- the plain values a JSON parser gives (``int``, ``float``, ``str``, ``bool``, ``None``)
  are typed with one NumPy call per column (``np.array``, a joined-text check for
  strings, NumPy's ISO-8601 parser for dates) and checked with array operations;
  anything else (a number sent as text, ``"yes"`` for a boolean, a date with an
  offset that is not plain, an object, a DataFrame column of a typed dtype) goes to
  :func:`~skloop.registry._cells.cast_general`, the reference, which decides what it
  does not plainly take;
- row numbers are looked up only for the values that fail a check, so a valid request
  pays nothing per value in Python.

``benchmarks/bench_validation.py`` measured this path at 1 to 10,000 rows against the
former per-value checks and a pydantic model built per signature (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.registry._cells import (
    DATE_MAX,
    DATE_MIN,
    NOT_A_NUMBER,
    NOT_UNICODE,
    Cast,
    cast_general,
    check_numbers,
    encodable,
)
from skloop.registry._issues import MAX_ISSUES_PER_PROBLEM, HasIssues, Severity, ValidationIssue, row_issues
from skloop.registry._signature import InputColumn, Signature

__all__ = ["MISSING_IMPUTED", "MISSING_REFUSED", "ColumnRule", "Validated", "Validator"]

MISSING_REFUSED = (
    "missing value; the model was trained without missing values in this column and its pipeline does not fill them in"
)
"""The error of a missing value where training had none and the model does not handle it."""

MISSING_IMPUTED = "missing value; none in training, scored as the fitted pipeline fills it in"
"""The flag of a missing value in a column that had none in training but that the model
handles (``InputColumn.accepts_missing``): scored, and counted by the monitor's quality
checks, not refused."""

_NONE = type(None)
_NUMBER_TYPES = frozenset({int, float, _NONE})
_BOOL_TYPES = frozenset({bool, _NONE})
_TEXT_TYPES = frozenset({str, _NONE})
# ISO-8601 as the server takes it without pandas: a date, then optionally a time to the minute,
# the second or the microsecond; NumPy parses these alike but reads much else (``"now"``, five-digit
# years, offsets with a warning), so a text reaches it only once its shape is checked here
_NAIVE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
_NAIVE_LINES = re.compile(rf"(?:{_NAIVE}\n)*{_NAIVE}")  # the column's texts joined by newlines
_NAIVE_ONE = re.compile(_NAIVE)
_ZONED = re.compile(_NAIVE + r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?")
_WIDTHS = frozenset({10, 16, 19, 21, 22, 23, 24, 25, 26})  # the lengths _NAIVE matches
_DIGIT_AT = np.array([c == "d" for c in "dddd-dd-ddTdd:dd:dd.dddddd"])
_CHAR_AT = np.frombuffer(b"dddd-dd-ddTdd:dd:dd.dddddd", dtype=np.uint8)
_US = "datetime64[us]"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MIN_US = (DATE_MIN.to_pydatetime().replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_MAX_US = (DATE_MAX.to_pydatetime().replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_SHORT = 32  # up to this many values, Python's builtins read a column faster than NumPy calls
_BIG = 2.0**62  # below it, the float reading of an integer decides alike (see _cells.exact_ints)


@dataclass(frozen=True)
class ColumnRule:
    """What one input column takes, compiled once from its :class:`InputColumn`.

    Attributes
    ----------
    accepts_missing : bool
        A missing value in a column that had none in training is an error, unless the
        fitted pipeline imputes the column: then it is scored and flagged.
    not_numbers : bool
        A numeric column whose training values had words in them (``"n/a"``), read as
        missing: incoming words are read the same way, and flagged.
    """

    name: str
    dtype: str
    kind: str
    nullable: bool
    accepts_missing: bool = False
    not_numbers: bool = False
    categories: frozenset[Any] | None = None
    numeric_categories: np.ndarray | None = None
    lo: Any = None
    hi: Any = None
    range_text: str = ""
    extent_lo: float = -math.inf
    extent_hi: float = math.inf

    @property
    def flagged(self) -> bool:
        """Whether a valid value can be flagged (the column has categories or a range)."""
        return self.categories is not None or self.lo is not None or self.hi is not None

    @classmethod
    def of(cls, col: InputColumn, accepts_missing: bool | None = None) -> ColumnRule:
        """The rule of a signature column (``accepts_missing``: the column's own by default)."""
        lo: Any = None
        hi: Any = None
        numeric = None
        if col.dtype in ("int64", "float64"):
            lo = None if col.min is None else float(col.min)
            hi = None if col.max is None else float(col.max)
            if col.categories is not None:
                numbers = [float(c) for c in col.categories if isinstance(c, int | float)]
                numeric = np.array(numbers, dtype=np.float64)
        elif col.dtype == "datetime64":
            lo = None if col.min is None else _stamp(col.min)
            hi = None if col.max is None else _stamp(col.max)
        # the training range as the fast path's extents are given: floats, or microseconds
        as_key = (lambda v: int(v.view(np.int64))) if col.dtype == "datetime64" else float
        return cls(
            name=col.name,
            dtype=col.dtype,
            kind=col.kind,
            nullable=col.nullable,
            accepts_missing=col.accepts_missing if accepts_missing is None else accepts_missing,
            not_numbers=col.not_numbers,
            categories=None if col.categories is None else frozenset(col.categories),
            numeric_categories=numeric,
            lo=lo,
            hi=hi,
            range_text=f"is outside the training range [{col.min}, {col.max}]; the prediction extrapolates",
            extent_lo=-math.inf if lo is None else as_key(lo),
            extent_hi=math.inf if hi is None else as_key(hi),
        )


def _stamp(value: Any) -> Any:
    """A training bound as a ``datetime64[us]`` scalar (UTC), compared with the typed column."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return np.array([stamp.isoformat()], dtype=_US)[0]


@dataclass(frozen=True)
class Validated(HasIssues):
    """Rows typed like a signature, and what was found wrong with them.

    Attributes
    ----------
    n : int
    columns : dict of str to ndarray
        One array per input column, in signature order, as :class:`~skloop.registry._cells.Cast`
        types them (float64, ``datetime64[us]``, or object with ``None``); refused values
        and missing columns are missing.
    exact : dict of str to ndarray
        ``int64`` columns whose integers need every digit: the values as Python ints.
    issues : tuple of ValidationIssue
        Errors, then flags, column by column.
    error_rows : tuple of int
        Every row with at least one error (all of them, even past the cap on issues).
    """

    n: int
    columns: dict[str, np.ndarray]
    exact: dict[str, np.ndarray]
    issues: tuple[ValidationIssue, ...]
    error_rows: tuple[int, ...]


class Validator:
    """The checks of a signature's columns, compiled once and applied to whole columns.

    Parameters
    ----------
    signature : Signature
        Each column's :attr:`~skloop.registry.InputColumn.accepts_missing` says whether
        the fitted pipeline fills in a missing value (see :class:`ColumnRule`).

    Examples
    --------
    >>> sig = Signature.from_dict({"inputs": [{"name": "age", "dtype": "int64", "kind": "numeric",
    ...     "nullable": False, "min": 18, "max": 90}], "output": {"task": "regression", "classes": None,
    ...     "dtype": "float64"}})
    >>> checked = Validator(sig).validate({"age": [30, 99, 40.5]}, 3)
    >>> checked.columns["age"].tolist(), [(i.row, i.severity) for i in checked.issues]
    ([30.0, 99.0, nan], [(2, 'error'), (1, 'flag')])
    """

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.rules = [ColumnRule.of(col) for col in signature.inputs]
        # per rule, what the loop needs at hand (a single-row request pays per attribute looked up)
        self._plan = [(rule, _FAST[rule.dtype], rule.dtype == "int64", rule.flagged) for rule in self.rules]

    def validate(
        self,
        columns: Mapping[str, Any],
        n: int,
        extras: Sequence[str] = (),
        max_issues: int | None = MAX_ISSUES_PER_PROBLEM,
    ) -> Validated:
        """Type and check ``n`` rows given as columns.

        Parameters
        ----------
        columns : mapping of str to list or Series
            The input columns given (a column absent is a missing column), each of
            ``n`` values: a list of Python values or a pandas Series.
        n : int
        extras : sequence of str
            Columns given that are not inputs: flagged as dropped.
        max_issues : int or None, default=MAX_ISSUES_PER_PROBLEM
            Rows reported per column and problem (the rest in one summing issue);
            ``None`` reports every row.
        """
        typed: dict[str, np.ndarray] = {}
        exact: dict[str, np.ndarray] = {}
        errors: list[ValidationIssue] = []
        flags: list[ValidationIssue] = []
        error_rows: np.ndarray | None = None
        for rule, fast, is_int, flagged in self._plan:
            raw = columns.get(rule.name)
            if raw is None:
                problem = f"missing column; expected {rule.dtype} values ({rule.kind})"
                errors.append(ValidationIssue(None, rule.name, problem, "error"))
                error_rows = np.ones(n, dtype=bool)
                typed[rule.name] = _all_missing(rule.dtype, n)
                continue
            if type(raw) is list:  # JSON values: the fast path, else the general cast
                cast = fast(raw, is_int) or cast_general(pd.Series(raw, dtype=object), rule.dtype)
            else:
                cast = _cast(raw, rule.dtype)
            typed[rule.name] = cast.values
            if cast.exact is not None:
                exact[rule.name] = cast.exact
            bad = None
            for mask, why in cast.problems:
                if mask.any() and why == NOT_A_NUMBER and rule.not_numbers:  # as training read them: missing
                    flags += row_issues(mask, raw, rule.name, f"{why}; read as missing, as in training", "flag",
                                        limit=max_issues)  # fmt: skip
                    continue
                if mask.any():
                    problem = f"{why}; expected {rule.dtype}"
                    errors += row_issues(mask, raw, rule.name, problem, "error", limit=max_issues)
                    bad = mask if bad is None else bad | mask
            missing = cast.missing
            if missing is not None and not missing.any():
                missing = None
            if missing is not None and not rule.nullable:
                if rule.accepts_missing:
                    flags += row_issues(missing, raw, rule.name, MISSING_IMPUTED, "flag", False, max_issues)
                else:
                    errors += row_issues(missing, raw, rule.name, MISSING_REFUSED, "error", False, max_issues)
                    bad = missing if bad is None else bad | missing
            if bad is not None:
                error_rows = bad if error_rows is None else error_rows | bad
            if flagged:
                flags += self._flags(rule, cast, raw, missing, bad, max_issues)
        flags += [ValidationIssue(None, extra, "not an input of the model; dropped", "flag") for extra in extras]
        rows = () if error_rows is None else tuple(np.flatnonzero(error_rows).tolist())
        return Validated(n, typed, exact, tuple(errors + flags), rows)

    @staticmethod
    def _flags(
        rule: ColumnRule, cast: Cast, raw: Any, missing: np.ndarray | None, bad: np.ndarray | None, limit: int | None
    ) -> list[ValidationIssue]:
        """Unknown categories and values out of the training range, among the valid values."""
        values = cast.values
        out: list[ValidationIssue] = []
        if rule.categories is not None:
            unknown = _unknown(rule, rule.categories, values)
            if unknown is not None:
                out += _among_valid(unknown, missing, bad, raw, rule.name, "is a category not seen in training", limit)
        bounds = cast.bounds
        inside = bounds is not None and rule.extent_lo <= bounds[0] and bounds[1] <= rule.extent_hi
        if not inside and (rule.lo is not None or rule.hi is not None):
            outside = None
            if rule.lo is not None:
                outside = values < rule.lo
            if rule.hi is not None:
                above = values > rule.hi
                outside = above if outside is None else outside | above
            if outside is not None and outside.any():
                out += _among_valid(outside, missing, bad, raw, rule.name, rule.range_text, limit)
        return out


def _among_valid(
    mask: np.ndarray,
    missing: np.ndarray | None,
    bad: np.ndarray | None,
    raw: Any,
    column: str,
    problem: str,
    limit: int | None,
) -> list[ValidationIssue]:
    if missing is not None:
        mask = mask & ~missing
    if bad is not None:
        mask = mask & ~bad
    severity: Severity = "flag"
    return row_issues(mask, raw, column, problem, severity, limit=limit)


def _unknown(rule: ColumnRule, cats: frozenset[Any], values: np.ndarray) -> np.ndarray | None:
    """Where a value is not a training category (missing values included; the caller masks them)."""
    if values.dtype == object:
        present = values.tolist()
        if cats.issuperset(present):
            return None
        return np.fromiter((v not in cats for v in present), dtype=bool, count=len(present))
    if rule.numeric_categories is not None and values.dtype == np.float64:
        unknown = ~np.isin(values, rule.numeric_categories)
    else:
        unknown = ~pd.Series(values).isin(list(cats)).to_numpy(dtype=bool)
    return unknown if unknown.any() else None


def _all_missing(dtype: str, n: int) -> np.ndarray:
    if dtype in ("int64", "float64"):
        return np.full(n, np.nan)
    if dtype == "datetime64":
        return np.full(n, np.datetime64("NaT"), dtype=_US)
    return np.full(n, None, dtype=object)


# -- the columnar fast path: plain JSON values, one NumPy call per column ------------------------


def _cast(raw: Any, dtype: str) -> Cast:
    """The fast path where it plainly applies, :func:`cast_general` otherwise."""
    if type(raw) is list:
        values = raw
    elif isinstance(raw, pd.Series):
        if raw.dtype != object:
            return cast_general(raw, dtype)  # a typed column: pandas casts it vectorised
        values = raw.tolist()
    else:
        values = list(raw)
    fast = _FAST[dtype](values, dtype == "int64")
    if fast is not None:
        return fast
    series = raw if isinstance(raw, pd.Series) else pd.Series(values, dtype=object)
    return cast_general(series, dtype)


def _numbers(values: list[Any], is_int: bool) -> Cast | None:
    try:
        arr = np.array(values)
    except (ValueError, TypeError, OverflowError):  # ragged lists and the like: not plain numbers
        return None
    kind = arr.dtype.kind
    if arr.ndim != 1:
        return None
    if kind in "iu":  # Python ints (booleans among them read as 0/1, as pandas reads them)
        floats = arr.astype(np.float64)
    elif kind == "f":
        floats = arr
    elif kind == "O" and _NUMBER_TYPES.issuperset(map(type, values)):
        try:
            floats = np.array(values, dtype=np.float64)  # None is NaN: missing
        except OverflowError:  # an integer beyond float64
            return None
    else:
        return None
    if len(floats) == 0:
        return Cast(floats)
    # the common case, settled by the column's extent: finite, and for int64 whole and far from
    # the int64 bounds; the extent also answers the range check for the whole column
    missing = None
    present = floats
    extent = _extent(floats)
    if extent is None:
        missing = np.isnan(floats)
        if missing.any():
            present = floats[~missing]
            if present.size == 0:
                return Cast(floats, missing)
            extent = _extent(present)
    if extent is not None:
        low, high = extent
        if not is_int or (low > -_BIG and high < _BIG and (kind in "iu" or _whole(present))):
            return Cast(floats, missing, bounds=extent)
    if missing is None:
        missing = np.isnan(floats)
    return check_numbers(values, floats, is_int, missing if missing.any() else None, [], textual=True)


def _extent(floats: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest value when every value is finite (no NaN, no infinity), else ``None``.

    A short column is read by Python's builtins (a NumPy reduction costs more than the values
    it reads); a long one by two NumPy reductions, through which NaN propagates.
    """
    if len(floats) <= _SHORT:
        values = floats.tolist()
        if not math.isfinite(sum(values)):  # NaN or infinity (or a sum beyond float64: then the slow path)
            return None
        return min(values), max(values)
    low, high = float(floats.min()), float(floats.max())
    return (low, high) if -math.inf < low and high < math.inf else None


def _whole(floats: np.ndarray) -> bool:
    """Whether every (finite) value is a whole number."""
    if len(floats) <= _SHORT:
        return all(map(float.is_integer, floats.tolist()))
    return not np.mod(floats, 1).any()


def _bools(values: list[Any], _: bool) -> Cast | None:
    if not _BOOL_TYPES.issuperset(map(type, values)):
        return None
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return Cast(out, _nones(values))


def _text(values: list[Any], _: bool) -> Cast | None:
    try:
        joined = "".join(values)  # a TypeError unless every value is a str
    except TypeError:
        if not _TEXT_TYPES.issuperset(map(type, values)):
            return None
        joined = "".join(v for v in values if v is not None)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    cast = Cast(out, _nones(values))
    if not joined.isascii() and not encodable(joined):
        unicode = np.fromiter((v is not None and not encodable(v) for v in values), dtype=bool, count=len(values))
        out[unicode] = None
        cast.problems.append((unicode, NOT_UNICODE))
    return cast


def _dates(values: list[Any], _: bool) -> Cast | None:
    n = len(values)
    missing = None
    present = values
    try:
        joined = "\n".join(values)
    except TypeError:
        if not _TEXT_TYPES.issuperset(map(type, values)):
            return None
        missing = _nones(values)
        present = [v for v in values if v is not None]
        joined = "\n".join(present)
    if not present:
        return Cast(_all_missing("datetime64", n), missing)
    if _naive(present, joined):
        try:
            stamps = np.array(present, dtype=_US)
        except ValueError:  # a day or an hour out of range: the general path words it
            return None
    elif all(map(_ZONED.fullmatch, present)):
        zoned = _zoned(present)
        if zoned is None:
            return None
        stamps = zoned
    else:
        return None
    micros = stamps.view(np.int64)  # microseconds since 1970, compared as Python ints
    if len(micros) <= _SHORT:
        as_ints = micros.tolist()
        low, high = min(as_ints), max(as_ints)
    else:
        low, high = int(micros.min()), int(micros.max())
    if low < _MIN_US or high > _MAX_US:
        return None  # outside the years 1 to 9999: the general path words it
    if missing is None:
        return Cast(stamps, bounds=(low, high))
    out = _all_missing("datetime64", n)
    out[~missing] = stamps
    return Cast(out, missing, bounds=(low, high))


def _naive(texts: list[str], joined: str) -> bool:
    """Whether every text has the shape of :data:`_NAIVE` (no offset).

    Texts of one length (timestamps a program wrote) are checked as one matrix of bytes,
    a column of characters at a time; others by one regex run over the joined texts.
    """
    if len(texts) <= _SHORT:
        return all(map(_NAIVE_ONE.fullmatch, texts))
    width = len(texts[0])
    if width in _WIDTHS and len(joined) == len(texts) * (width + 1) - 1 and joined.isascii():
        codes = np.frombuffer((joined + "\n").encode("ascii"), dtype=np.uint8).reshape(len(texts), width + 1)
        digits = codes[:, :width][:, _DIGIT_AT[:width]]
        if not ((digits - 48) <= 9).all():  # uint8: below "0" wraps above 9
            return False
        fixed = ~_DIGIT_AT[:width]
        marks = codes[:, :width][:, fixed]
        expected = _CHAR_AT[:width][fixed]
        if width > 10:  # a space may stand for the "T"
            marks = marks.copy()
            marks[:, 2][marks[:, 2] == 32] = 84
        return bool((marks == expected).all() and (codes[:, width] == 10).all())
    return _NAIVE_LINES.fullmatch(joined) is not None


def _zoned(texts: list[str]) -> np.ndarray | None:
    """ISO-8601 texts with UTC offsets (NumPy reads none): in UTC, naive ones as UTC."""
    micros: list[int] = []
    for text in texts:
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        micros.append((stamp - _EPOCH) // _MICROSECOND)
    return np.array(micros, dtype=np.int64).astype(_US)


def _nones(values: list[Any]) -> np.ndarray | None:
    if None not in values:
        return None
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


_FAST = {"int64": _numbers, "float64": _numbers, "bool": _bools, "string": _text, "datetime64": _dates}
