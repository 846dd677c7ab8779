"""What a cell of each signature dtype may hold, decided for every caller in one place.

:func:`cast_general` is the reference: it reads any column (a pandas Series of any dtype,
or Python objects of any type: text, numbers, booleans, dates, NumPy scalars, JSON
nesting) with pandas, vectorised, and returns the typed values and, for each problem, a
mask of the values that have it. The validator's columnar fast path
(:mod:`skloop.registry._validator`) types the plain JSON values of a column with NumPy
and hands anything else to this module, so that a verdict and its wording never depend
on the path taken (a property test compares the two).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "NESTED",
    "NOT_A_BOOL",
    "NOT_A_DATE",
    "NOT_A_NUMBER",
    "NOT_FINITE",
    "NOT_IN_DATES",
    "NOT_IN_INT64",
    "NOT_TEXT",
    "NOT_UNICODE",
    "NOT_WHOLE",
    "Cast",
    "canonical_text",
    "cast_general",
    "encodable",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The values an ``int64`` column takes (both ends included)."""

DATE_MIN = pd.Timestamp("0001-01-01T00:00:00")
DATE_MAX = pd.Timestamp("9999-12-31T23:59:59")
"""The datetimes a ``datetime64`` column takes, in UTC: those a Python ``datetime`` (and so the
prediction log, and any client reading it back) can hold."""

# what each refused value is told (one wording, whichever path found it)
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
_CONTAINERS = (dict, list, tuple, set)
_INT_TEXT = re.compile(r"[+-]?\d{1,40}")

Problems = list[tuple[np.ndarray, str]]


@dataclass(slots=True)
class Cast:
    """One column typed like its signature dtype, and what was wrong with its values.

    Attributes
    ----------
    values : ndarray
        ``int64``/``float64``: float64, NaN where missing (scikit-learn sees floats);
        ``datetime64``: ``datetime64[us]`` in UTC, NaT where missing; ``bool`` and
        ``string``: object, ``None`` where missing. A refused value is missing here.
    missing : ndarray of bool or None
        The values given as missing (``None``, ``NaN``, ``NaT``); ``None`` when none is.
    problems : list of (mask, problem)
        For each problem, in the order messages list them, the values that have it.
    exact : ndarray or None
        ``int64`` columns whose integers need every digit (beyond 2**62): the values
        as Python ints (``None`` where missing or refused), which ``values`` rounds.
    bounds : (low, high) or None
        The smallest and largest valid value (floats; for dates, microseconds since
        1970), when the fast path has them at hand: a range check inside them needs no
        comparison per value.
    """

    values: np.ndarray
    missing: np.ndarray | None = None
    problems: Problems = field(default_factory=list)
    exact: np.ndarray | None = None
    bounds: tuple[Any, Any] | None = None


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


def encodable(text: str) -> bool:
    """Whether UTF-8 can carry ``text`` (a lone surrogate, JSON ``"\\ud800"``, it cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def exact_ints(values: Any, floats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the cells that are integers (Python ints, or integer text) inside and outside int64.

    Only cells whose float reading is near or beyond the int64 bounds are looked at: below
    2**62 the float reading decides alike. ``values`` is a list or an object array.
    """
    inside = np.zeros(len(floats), dtype=bool)
    outside = np.zeros(len(floats), dtype=bool)
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(np.abs(floats) >= 2.0**62)
    for i in near.tolist():
        v = values[i]
        if type(v) is str and _INT_TEXT.fullmatch(v.strip()):
            v = int(v)
        if type(v) is int:
            inside[i] = INT64_MIN <= v <= INT64_MAX
            outside[i] = not inside[i]
    return inside, outside


def check_numbers(
    values: Any, floats: np.ndarray, is_int: bool, missing: np.ndarray | None, problems: Problems, textual: bool
) -> Cast:
    """The masks shared by both paths once the values are read as floats (NaN: missing or unreadable)."""
    infinite = np.isinf(floats)
    problems.append((infinite, NOT_FINITE))
    if not is_int:
        bad = infinite
        for mask, _ in problems[:-1]:
            bad = bad | mask
        return Cast(np.where(bad, np.nan, floats), missing, problems)
    finite = np.isfinite(floats)
    with np.errstate(invalid="ignore"):
        fractional = finite & (np.mod(floats, 1) != 0)
    if textual:
        exact_in, exact_out = exact_ints(values, floats)
    else:
        exact_in = exact_out = np.zeros(len(floats), dtype=bool)
    # a float (or an integer beyond int64 that the JSON parser read as one) must lie strictly
    # inside (-2**63, 2**63); an exact integer anywhere in [-2**63, 2**63 - 1]
    beyond = (finite & ~fractional & (np.abs(floats) >= 2.0**63) & ~exact_in) | exact_out
    problems += [(fractional, NOT_WHOLE), (beyond, NOT_IN_INT64)]
    bad = np.zeros(len(floats), dtype=bool)
    for mask, _ in problems:
        bad |= mask
    kept = np.where(bad, np.nan, floats)
    exact = None
    if exact_in.any():  # exact integers keep every digit (2**63 - 1 has no float64)
        exact = np.array([None if k != k else int(k) for k in kept.tolist()], dtype=object)
        for i in np.flatnonzero(exact_in).tolist():
            exact[i] = int(values[i])
    return Cast(kept, missing, problems, exact)


# -- the general path: pandas, any input ------------------------------------------------------


def objects(series: Any) -> np.ndarray:
    """A Series as an object array, ``None`` where missing (``pd.NA``, ``NaN``, ``NaT``)."""
    return np.asarray(series.to_numpy(dtype=object, na_value=None), dtype=object)


def _nested(raw: pd.Series) -> np.ndarray:
    """Cells holding an object or a list (JSON nesting): never a value of a column."""
    if raw.dtype != object:
        return np.zeros(len(raw), dtype=bool)
    types = list(map(type, raw.to_numpy()))
    containers = {t for t in set(types) if issubclass(t, _CONTAINERS)}
    if not containers:  # the common case: one pass of type() over the column
        return np.zeros(len(raw), dtype=bool)
    return np.fromiter((t in containers for t in types), dtype=bool, count=len(types))


def _general_numbers(raw: pd.Series, is_int: bool) -> Cast:
    missing = raw.isna().to_numpy()
    if is_int and pd.api.types.is_integer_dtype(raw.dtype):
        problems: Problems = []
        typed = raw
        if pd.api.types.is_unsigned_integer_dtype(raw.dtype):  # uint64 from a CSV: values above int64 are out
            over = (raw > INT64_MAX).fillna(False).to_numpy(dtype=bool)
            if over.any():
                typed = raw.astype(object).where(~over, None)
                problems.append((over, NOT_IN_INT64))
        typed = typed.astype("Int64")
        floats = typed.to_numpy(dtype="float64", na_value=np.nan)
        big = np.abs(floats) >= 2.0**53
        exact = objects(typed) if big.any() else None
        return Cast(floats, missing, problems, exact)
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        floats = raw.to_numpy(dtype="float64", na_value=np.nan)
        return check_numbers(raw, floats, is_int, missing, [], textual=False)
    values = raw
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        values = raw.astype(object).where(~raw.isna(), None)
    floats = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    nested = _nested(raw)
    unreadable = np.isnan(floats) & ~missing & ~nested
    textual = raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)
    cells = raw.to_numpy(dtype=object) if textual else raw
    return check_numbers(cells, floats, is_int, missing, [(nested, NESTED), (unreadable, NOT_A_NUMBER)], textual)


def _general_bools(raw: pd.Series) -> Cast:
    missing = raw.isna().to_numpy()
    if pd.api.types.is_bool_dtype(raw.dtype):
        return Cast(objects(raw.astype("boolean")), missing)
    nested = _nested(raw)
    plain = raw.astype(object).where(~raw.isna() & ~nested, None)
    words = plain.map(lambda v: v if v is None else str(v).strip().lower())
    mapped = words.map(_BOOL_WORDS).where(~missing & ~nested, None)
    bad = mapped.isna().to_numpy() & ~missing & ~nested
    typed = objects(mapped.astype("boolean"))
    return Cast(typed, missing, [(nested, NESTED), (bad, NOT_A_BOOL)])


def _general_dates(raw: pd.Series) -> Cast:
    missing = raw.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = raw
        if getattr(raw.dt, "tz", None) is not None:
            stamps = raw.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = stamps.astype("datetime64[us]")
        unreadable = np.zeros(len(raw), dtype=bool)
    else:
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
    typed = stamps.where(~outside).to_numpy(dtype="datetime64[us]")
    return Cast(typed, missing, [(nested, NESTED), (unreadable, NOT_A_DATE), (outside, NOT_IN_DATES)])


def _general_text(raw: pd.Series) -> Cast:
    missing = raw.isna().to_numpy()
    if raw.dtype != object and pd.api.types.is_string_dtype(raw.dtype):
        # a pandas string column holds text only (valid Unicode)
        return Cast(objects(raw), missing)
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
            if v.isascii() or encodable(v):
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
    typed = np.empty(len(texts), dtype=object)
    typed[:] = texts
    return Cast(typed, missing, [(nested, NESTED), (wrong, NOT_TEXT), (unicode, NOT_UNICODE)])


def cast_general(raw: pd.Series, dtype: str) -> Cast:
    """Type any column like ``dtype``: the reference every faster path agrees with.

    A value is refused (and missing in :attr:`Cast.values`) when it has a problem.
    """
    if dtype in ("int64", "float64"):
        return _general_numbers(raw, dtype == "int64")
    if dtype == "bool":
        return _general_bools(raw)
    if dtype == "datetime64":
        return _general_dates(raw)
    return _general_text(raw)
