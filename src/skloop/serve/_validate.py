"""Validation compiled from a signature: incoming rows to typed column arrays.

Small requests (up to :data:`FAST_PATH_MAX_ROWS` rows) take a fast path: one
precompiled checker per column walks the Python values the JSON parser produced and
fills a numpy array, with no pandas on the way. Larger requests, CSV bodies and any
value outside the fast path's plain JSON types (a number sent as a string, ``"yes"``
for a boolean, ...) go through :func:`skloop.registry.coerce_frame`, which is
vectorised and defines the semantics: what a cell may hold (one value, finite numbers,
integers within int64, dates within the years 1 to 9999, valid Unicode text) is decided
there, once. The fast path only accepts: any value it does not plainly take, and any
error, sends the request through ``coerce_frame``, so that a refused request gets its
verdict and its messages from one place (a test compares the two).

Typed columns (:class:`Prepared`): ``int64``/``float64`` → float64 with NaN for
missing; ``datetime64`` → float64 Unix seconds (UTC); ``bool`` and ``string`` →
object arrays with ``None`` for missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.registry import (
    DATE_MAX,
    DATE_MIN,
    INT64_MAX,
    INT64_MIN,
    MISSING_IMPUTED,
    Signature,
    ValidationIssue,
    brief,
    canonical_text,
    coerce_frame,
)
from skloop.serve._errors import BadRequestError

__all__ = ["FAST_PATH_MAX_ROWS", "CompiledSignature", "Prepared"]

FAST_PATH_MAX_ROWS = 4096
"""Requests with more rows than this are validated by the vectorised ``coerce_frame`` (for a
1000-row request the fast path took 10 ms against coerce_frame's 27 ms)."""

_MAX_SHOWN = 20  # the same cut as skloop.registry's MAX_ISSUES_PER_PROBLEM
_BIG_INT = 2**53
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_PANDAS_DTYPE = {"int64": "Int64", "float64": "float64", "bool": "boolean", "string": "str"}
_EPOCH = pd.Timestamp("1970-01-01")
_MIN_SECONDS = (DATE_MIN - _EPOCH).total_seconds()
_MAX_SECONDS = (DATE_MAX - _EPOCH).total_seconds()


class _Fallback(Exception):
    """A value the fast path does not type; the request goes through coerce_frame."""


def _seconds(value: Any) -> float:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float(stamp.timestamp())  # a naive Timestamp counts as UTC here


def _iso(seconds: float) -> str | None:
    if seconds != seconds:
        return None
    # validated dates lie in the years 1 to 9999; the clamp keeps float rounding at the ends in too
    seconds = min(max(seconds, _MIN_SECONDS), _MAX_SECONDS)
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat()


@dataclass
class Prepared:
    """Rows typed like the signature, ready for a model, and the flags they raised.

    Attributes
    ----------
    n : int
        Number of rows.
    columns : dict of str to ndarray
        One array per signature column, in signature order (see the module doc).
    flags : list of ValidationIssue
        Scored, but worth a look: unknown categories, values out of range, dropped columns.
    """

    n: int
    columns: dict[str, np.ndarray]
    flags: list[ValidationIssue] = field(default_factory=list)
    ids: list[str | None] | None = None

    @staticmethod
    def concat(parts: Sequence[Prepared]) -> Prepared:
        """The rows of ``parts`` one after the other (flags are not carried)."""
        if len(parts) == 1:
            return parts[0]
        names = parts[0].columns
        return Prepared(
            n=sum(p.n for p in parts),
            columns={c: np.concatenate([p.columns[c] for p in parts]) for c in names},
        )


@dataclass(frozen=True)
class _Column:
    name: str
    dtype: str
    kind: str
    nullable: bool
    missing_ok: bool
    categories: frozenset[Any] | None
    lo: float | None
    hi: float | None
    range_text: str


class CompiledSignature:
    """Per-column checkers and casters compiled once from a :class:`Signature`.

    Parameters
    ----------
    signature : Signature
        The served model's signature.

    Examples
    --------
    >>> sig = Signature.from_dict({"inputs": [{"name": "age", "dtype": "int64", "kind": "numeric",
    ...     "nullable": False, "min": 18, "max": 90}], "output": {"task": "regression", "classes": None,
    ...     "dtype": "float64"}})
    >>> prepared = CompiledSignature(sig).from_records([{"age": 30}, {"age": 99}])
    >>> prepared.columns["age"].tolist(), [(f.row, f.severity) for f in prepared.flags]
    ([30.0, 99.0], [(1, 'flag')])
    """

    def __init__(self, signature: Signature, id_column: str | None = None) -> None:
        self.signature = signature
        self.names = signature.names
        self.id_column = id_column if id_column not in signature.names else None
        # the id column is not a model input, but it is expected: not flagged as dropped
        self._known = frozenset(self.names) | ({self.id_column} if self.id_column else set())
        self._columns: list[_Column] = []
        for col in signature.inputs:
            lo = hi = None
            if col.dtype in ("int64", "float64") and col.min is not None:
                lo = float(col.min)
            if col.dtype in ("int64", "float64") and col.max is not None:
                hi = float(col.max)
            if col.dtype == "datetime64":
                lo = None if col.min is None else _seconds(col.min)
                hi = None if col.max is None else _seconds(col.max)
            self._columns.append(
                _Column(
                    name=col.name,
                    dtype=col.dtype,
                    kind=col.kind,
                    nullable=col.nullable,
                    missing_ok=col.missing_ok,
                    categories=None if col.categories is None else frozenset(col.categories),
                    lo=lo,
                    hi=hi,
                    range_text=f"is outside the training range [{col.min}, {col.max}]; the prediction extrapolates",
                )
            )

    # -- entry points ------------------------------------------------------------------
    def from_records(self, records: Sequence[Any]) -> Prepared:
        """Validate a list of row objects (``{"column": value, ...}``).

        Raises
        ------
        BadRequestError
            An empty list, a row that is not an object, or rows that cannot be scored
            (``issues`` names the row, the column and the problem).
        """
        if not isinstance(records, list):
            raise BadRequestError(f"expected a list of row objects; got {_kind(records)}")
        if not records:
            raise _empty()
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise BadRequestError(
                    f"row {i} is {_kind(record)}; expected an object mapping column names to values",
                    [{"row": i, "column": None, "problem": "not an object", "severity": "error"}],
                )
        ids = self._ids([r.get(self.id_column) for r in records]) if self.id_column else None
        if len(records) <= FAST_PATH_MAX_ROWS:
            extras: dict[str, None] = {}
            present: set[str] = set()
            for record in records:
                for key in record:
                    if key not in self._known:
                        extras[str(key)] = None
                    present.add(key)
            columns = {c: [r.get(c) for r in records] if c in present else None for c in self.names}
            try:
                return _with_ids(self._fast(columns, len(records), list(extras)), ids)
            except _Fallback:
                pass
        return _with_ids(self.from_table(records), ids)

    def from_columns(self, columns: Mapping[str, Any]) -> Prepared:
        """Validate a dict of columns (``{"column": [v0, v1, ...], ...}``).

        Raises
        ------
        BadRequestError
            Columns of different lengths, a column that is not a list, no rows, or rows
            that cannot be scored.
        """
        lengths = {}
        for name, values in columns.items():
            if not isinstance(values, list):
                raise BadRequestError(
                    f"column {name!r} is {_kind(values)}; expected a list of values",
                    [{"row": None, "column": str(name), "problem": "not a list", "severity": "error"}],
                )
            lengths[name] = len(values)
        if len(set(lengths.values())) > 1:
            raise BadRequestError(f"columns have different lengths: {lengths}; send one value per row in each")
        n = next(iter(lengths.values()), 0)
        if n == 0:
            raise _empty()
        ids = self._ids(columns[self.id_column]) if self.id_column and self.id_column in columns else None
        if n <= FAST_PATH_MAX_ROWS:
            extras = [str(c) for c in columns if c not in self._known]
            try:
                return _with_ids(self._fast({c: columns.get(c) for c in self.names}, n, extras), ids)
            except _Fallback:
                pass
        return _with_ids(self.from_table(dict(columns)), ids)

    def from_frame(self, frame: pd.DataFrame) -> Prepared:
        """Validate a table (a CSV body read by pandas), keeping its entity ids.

        The ids are read from the spec's id column exactly as :meth:`from_records` and
        :meth:`from_columns` read them, so CSV traffic joins its labels like JSON traffic.
        """
        ids = None
        if self.id_column is not None and self.id_column in frame.columns:
            ids = self._ids(frame[self.id_column].tolist())
        return _with_ids(self.from_table(frame), ids)

    def from_table(self, data: Any) -> Prepared:
        """Validate anything :func:`coerce_frame` reads (a DataFrame, records, columns)."""
        if isinstance(data, pd.DataFrame) and len(data) == 0:
            raise _empty()
        try:
            result = coerce_frame(data, self.signature)
        except DataError as exc:
            raise BadRequestError(str(exc)) from exc
        except (TypeError, ValueError, OverflowError) as exc:
            # a value pandas cannot type at all is the client's error, never a 500
            raise BadRequestError(
                f"the values cannot be typed like the model's inputs ({exc}); integers must fit in int64, "
                "dates must be ISO-8601 strings"
            ) from exc
        if len(result.frame) == 0:
            raise _empty()
        if result.errors:
            raise _invalid(result.errors)
        frame = result.frame
        out: dict[str, np.ndarray] = {}
        for col in self._columns:
            s = frame[col.name]
            if col.dtype in ("int64", "float64"):
                out[col.name] = s.to_numpy(dtype="float64", na_value=np.nan)
            elif col.dtype == "datetime64":
                micros = s.to_numpy(dtype="datetime64[us]")
                secs = micros.astype("int64").astype("float64") / 1e6
                secs[np.isnat(micros)] = np.nan
                out[col.name] = secs
            else:
                out[col.name] = s.to_numpy(dtype=object, na_value=None)
        return Prepared(len(frame), out, list(result.flags))

    def _ids(self, values: Sequence[Any]) -> list[str | None] | None:
        """Entity ids as text (``42.0`` from a CSV with gaps is ``"42"``), ``None`` when missing.

        Raises
        ------
        BadRequestError
            An id that is not a string or a number (an object, a list, a boolean), or
            text that is not valid Unicode; never stored as its Python ``repr``.
        """
        out: list[str | None] = []
        bad: list[int] = []
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and v != v):
                out.append(None)
                continue
            text = canonical_text(v)
            if text is None or not (text.isascii() or _utf8(text)):
                bad.append(i)
            out.append(text)
        if bad:
            problem = "is not an id: an id is a string or a number"
            raise _invalid(_issues(bad, list(values), str(self.id_column), problem, "error"))
        return out if any(v is not None for v in out) else None

    # -- the fast path -----------------------------------------------------------------
    def _fast(self, columns: Mapping[str, list[Any] | None], n: int, extras: list[str]) -> Prepared:
        """Valid rows typed without pandas; anything else raises :class:`_Fallback`."""
        flags: list[ValidationIssue] = []
        out: dict[str, np.ndarray] = {}
        for col in self._columns:
            values = columns[col.name]
            if values is None:
                raise _Fallback  # a missing column: coerce_frame words the error
            array, missing = _CASTERS[col.dtype](values, col.dtype == "int64")
            if missing and not col.missing_ok:
                raise _Fallback
            if missing and not col.nullable:  # none in training, filled in by the pipeline
                flags += _issues(missing, values, col.name, MISSING_IMPUTED, "flag", show=False)
            out[col.name] = array
            if col.categories is not None:
                cats = col.categories
                unknown = [i for i, v in enumerate(values) if v is not None and v == v and v not in cats]
                if unknown:
                    flags += _issues(unknown, values, col.name, "is a category not seen in training", "flag")
            if col.lo is not None or col.hi is not None:
                lo = -math.inf if col.lo is None else col.lo
                hi = math.inf if col.hi is None else col.hi
                outside = [i for i, v in enumerate(array.tolist()) if v < lo or v > hi]
                if outside:
                    flags += _issues(outside, values, col.name, col.range_text, "flag")
        flags += [ValidationIssue(None, extra, "not an input of the model; dropped", "flag") for extra in extras]
        return Prepared(n, out, flags)


def _with_ids(prepared: Prepared, ids: list[str | None] | None) -> Prepared:
    if ids is not None and len(ids) == prepared.n:
        prepared.ids = ids
    return prepared


# -- casters: (values, is_int) -> (array, missing rows), or _Fallback -------------------


def _numbers(values: list[Any], is_int: bool) -> tuple[np.ndarray, list[int]]:
    out = np.empty(len(values), dtype=np.float64)
    missing: list[int] = []
    for i, v in enumerate(values):
        t = type(v)
        if t is float:
            if v != v:
                missing.append(i)
            elif not -_BIG_INT < v < _BIG_INT or (is_int and not v.is_integer()):
                raise _Fallback  # infinite, huge or fractional: refused by coerce_frame
        elif t is int:
            if not -_BIG_INT < v < _BIG_INT:
                raise _Fallback  # exact int64 bounds are coerce_frame's
        elif v is None:
            missing.append(i)
            v = math.nan
        else:
            raise _Fallback
        out[i] = v
    return out, missing


def _booleans(values: list[Any], _: bool) -> tuple[np.ndarray, list[int]]:
    missing: list[int] = []
    for i, v in enumerate(values):
        if v is None or (type(v) is float and v != v):
            missing.append(i)
        elif type(v) is not bool:
            raise _Fallback
    out = np.array(values, dtype=object)
    out[missing] = None
    return out, missing


def _strings(values: list[Any], _: bool) -> tuple[np.ndarray, list[int]]:
    missing: list[int] = []
    for i, v in enumerate(values):
        if v is None or (type(v) is float and v != v):
            missing.append(i)
        elif type(v) is not str or not (v.isascii() or _utf8(v)):
            raise _Fallback  # numbers become canonical text, the rest is refused, in coerce_frame
    out = np.empty(len(values), dtype=object)
    out[:] = values
    out[missing] = None
    return out, missing


def _datetimes(values: list[Any], _: bool) -> tuple[np.ndarray, list[int]]:
    out = np.empty(len(values), dtype=np.float64)
    missing: list[int] = []
    for i, v in enumerate(values):
        if v is None or (type(v) is float and v != v):
            missing.append(i)
            out[i] = math.nan
            continue
        if type(v) is not str or not _ISO.fullmatch(v):
            raise _Fallback
        try:
            stamp = datetime.fromisoformat(v)
        except ValueError:
            raise _Fallback from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        seconds = stamp.timestamp()
        if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
            raise _Fallback  # outside the years 1 to 9999 once in UTC
        out[i] = seconds
    return out, missing


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_CASTERS = {"int64": _numbers, "float64": _numbers, "bool": _booleans, "string": _strings, "datetime64": _datetimes}


def _issues(
    rows: list[int], values: list[Any], column: str, problem: str, severity: Any, show: bool = True
) -> list[ValidationIssue]:
    shown = rows[:_MAX_SHOWN]
    out = [ValidationIssue(r, column, f"{brief(values[r])} {problem}" if show else problem, severity) for r in shown]
    if len(rows) > len(shown):
        out.append(ValidationIssue(None, column, f"{len(rows) - len(shown)} more rows: {problem}", severity))
    return out


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _empty() -> BadRequestError:
    return BadRequestError("empty batch: the request has no rows; send at least one row")


def _invalid(errors: Sequence[ValidationIssue]) -> BadRequestError:
    head = "; ".join(
        f"{'row ' + str(e.row) + ', ' if e.row is not None else ''}column {e.column!r}: {e.problem}" for e in errors[:5]
    )
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return BadRequestError(f"the request cannot be scored: {head}{more}", [e.to_dict() for e in errors])


def to_frame(prepared: Prepared, signature: Signature) -> pd.DataFrame:
    """The rows as the DataFrame a scikit-learn pipeline gets (``coerce_frame``'s dtypes)."""
    data: dict[str, Any] = {}
    for col in signature.inputs:
        values = prepared.columns[col.name]
        if col.dtype == "datetime64":
            data[col.name] = pd.Series(pd.to_datetime(values, unit="s")).astype("datetime64[us]")
        elif col.dtype == "int64":
            data[col.name] = pd.Series(values).astype("Int64")
        else:
            data[col.name] = pd.Series(values, dtype=object).astype(_PANDAS_DTYPE[col.dtype])
    return pd.DataFrame(data, index=pd.RangeIndex(prepared.n))


def log_rows(prepared: Prepared, signature: Signature) -> list[dict[str, Any]]:
    """One JSON-able input dict per row, for the prediction log (missing is ``None``)."""
    lists: list[list[Any]] = []
    for col in signature.inputs:
        values = prepared.columns[col.name]
        if col.dtype == "int64":
            # int64 columns are scored as float64: 2**63 - 1 reads back as 2**63, clamped into int64
            lists.append([None if v != v else min(max(int(v), INT64_MIN), INT64_MAX) for v in values.tolist()])
        elif col.dtype == "float64":
            lists.append([None if v != v else v for v in values.tolist()])
        elif col.dtype == "datetime64":
            lists.append([_iso(v) for v in values.tolist()])
        else:
            lists.append(values.tolist())
    names = signature.names
    return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]
