"""Validation compiled from a signature: incoming rows to typed column arrays.

Every body shape (JSON records, JSON columns, V2 tensors, CSV) is validated by the
registry's one :class:`~skloop.registry.Validator`, the same that
:func:`~skloop.registry.coerce_frame` uses: columnar, with no cut-off on the number of
rows, so that a request's verdict and its messages never depend on its size or its
shape. This module reads the shapes, turns issues into a 400 and the typed columns into
:class:`Prepared`.

Typed columns (:class:`Prepared`): ``int64``/``float64`` → float64 with NaN for
missing; ``datetime64`` → float64 Unix seconds (UTC); ``bool`` and ``string`` →
object arrays with ``None`` for missing.
"""

from __future__ import annotations

import itertools
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
    Signature,
    Validated,
    ValidationIssue,
    Validator,
    canonical_text,
)
from skloop.registry._cells import encodable
from skloop.registry._coerce import columns_of
from skloop.registry._issues import row_issues
from skloop.serve._errors import BadRequestError

__all__ = ["CompiledSignature", "Prepared"]

_PANDAS_DTYPE = {"int64": "Int64", "float64": "float64", "bool": "boolean", "string": "str"}
_EPOCH = pd.Timestamp("1970-01-01")
_MIN_SECONDS = (DATE_MIN - _EPOCH).total_seconds()
_MAX_SECONDS = (DATE_MAX - _EPOCH).total_seconds()
_utf8 = encodable  # the name the protocols import


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


class CompiledSignature:
    """The signature's :class:`~skloop.registry.Validator`, and the request shapes read into it.

    Parameters
    ----------
    signature : Signature
        The served model's signature.
    id_column : str, optional
        The spec's entity id column: read for the prediction log, not a model input, and
        not flagged as dropped.

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
        self._validator = Validator(signature)
        self._datetimes = [c.name for c in signature.inputs if c.dtype == "datetime64"]

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
        present = set().union(*records)  # the keys of every row, gathered in C
        extras: list[str] = []
        if not present <= self._known:  # in the order first seen, as a table's columns are
            extras = [str(k) for k in dict.fromkeys(itertools.chain.from_iterable(records)) if k not in self._known]
        get = dict.get  # map(get, records, repeat(c)): one C call per column, not a Python loop
        columns = {c: list(map(get, records, itertools.repeat(c))) for c in self.names if c in present}
        return _with_ids(self._prepare(self._validator.validate(columns, len(records), extras)), ids)

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
        extras = [str(c) for c in columns if c not in self._known]
        given = {c: columns[c] for c in self.names if c in columns}
        return _with_ids(self._prepare(self._validator.validate(given, n, extras)), ids)

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
        """Validate a table in any shape :func:`~skloop.registry.coerce_frame` reads (a DataFrame, records, columns)."""
        try:
            n, columns = columns_of(data)
            for name in self.names:
                if isinstance(columns.get(name), pd.DataFrame):
                    raise DataError(f"column {name!r} appears more than once; send each column once")
            extras = [str(c) for c in columns if c not in self._known]
            checked = self._validator.validate(columns, n, extras)
        except DataError as exc:
            raise BadRequestError(str(exc)) from exc
        except (TypeError, ValueError, OverflowError) as exc:
            # a value pandas cannot type at all is the client's error, never a 500
            raise BadRequestError(
                f"the values cannot be typed like the model's inputs ({exc}); integers must fit in int64, "
                "dates must be ISO-8601 strings"
            ) from exc
        return self._prepare(checked)

    def _prepare(self, checked: Validated) -> Prepared:
        """A 400 for rows that cannot be scored; else the columns as the model runners take them."""
        if checked.n == 0:
            raise _empty()
        errors = checked.errors
        if errors:
            raise _invalid(errors)
        columns = checked.columns
        for name in self._datetimes:  # datetime64[us] → float Unix seconds, NaN where missing
            stamps = columns[name]
            seconds = stamps.view(np.int64) / 1e6
            missing = np.isnat(stamps)
            if missing.any():
                seconds[missing] = np.nan
            columns = {**columns, name: seconds}
        return Prepared(checked.n, columns, checked.flags)

    def _ids(self, values: Sequence[Any]) -> list[str | None] | None:
        """Entity ids as text (``42.0`` from a CSV with gaps is ``"42"``), ``None`` when missing.

        Raises
        ------
        BadRequestError
            An id that is not a string or a number (an object, a list, a boolean), or
            text that is not valid Unicode; never stored as its Python ``repr``.
        """
        out: list[str | None] = []
        bad = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and v != v):
                out.append(None)
                continue
            text = canonical_text(v)
            if text is None or not (text.isascii() or encodable(text)):
                bad[i] = True
            out.append(text)
        if bad.any():
            problem = "is not an id: an id is a string or a number"
            raise _invalid(row_issues(bad, list(values), str(self.id_column), problem, "error"))
        return out if any(v is not None for v in out) else None


def _with_ids(prepared: Prepared, ids: list[str | None] | None) -> Prepared:
    if ids is not None and len(ids) == prepared.n:
        prepared.ids = ids
    return prepared


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
            dtype: Any = _PANDAS_DTYPE[col.dtype]
            data[col.name] = pd.Series(values, dtype=object).astype(dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(prepared.n))


def log_columns(prepared: Prepared, signature: Signature) -> dict[str, list[Any]]:
    """The rows' inputs as JSON-able columns, in signature order, for the prediction log (missing is ``None``).

    Column by column in NumPy (the values as Python objects in one ``tolist`` each, the
    missing ones put back as ``None``): no Python check per value.
    """
    columns: dict[str, list[Any]] = {}
    for col in signature.inputs:
        values = prepared.columns[col.name]
        if col.dtype == "int64":
            columns[col.name] = _log_ints(values)
        elif col.dtype == "float64":
            columns[col.name] = _with_none(values.tolist(), np.isnan(values))
        elif col.dtype == "datetime64":
            columns[col.name] = _log_dates(values)
        else:
            columns[col.name] = values.tolist()
    return columns


def log_rows(prepared: Prepared, signature: Signature) -> list[dict[str, Any]]:
    """One JSON-able input dict per row, for the prediction log (missing is ``None``); see :func:`log_columns`."""
    columns = log_columns(prepared, signature)
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _with_none(values: list[Any], missing: np.ndarray) -> list[Any]:
    """``values`` with ``None`` where ``missing``."""
    for i in np.flatnonzero(missing).tolist():
        values[i] = None
    return values


_TWO_63 = 2.0**63


def _log_ints(values: np.ndarray) -> list[Any]:
    """An int64 column (scored as float64) as Python ints; 2**63 - 1 reads back as 2**63: clamped into int64."""
    missing = np.isnan(values)
    ints = np.where(missing, 0.0, values)
    high, low = ints >= _TWO_63, ints < -_TWO_63
    out = np.where(high | low, 0.0, ints).astype(np.int64)
    out[high], out[low] = INT64_MAX, INT64_MIN
    return _with_none(out.tolist(), missing)


def _log_dates(seconds: np.ndarray) -> list[Any]:
    """Float Unix seconds as ISO strings, each distinct value converted once (dates repeat in traffic)."""
    distinct, where = np.unique(seconds, return_inverse=True)
    text = [_iso(v) for v in distinct.tolist()]
    return [text[i] for i in where.ravel().tolist()]
