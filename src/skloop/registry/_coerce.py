""":func:`coerce_frame`: type incoming rows like a model's signature, and say what is wrong.

It casts a DataFrame read from CSV, JSON records or a dict of columns to the signature's
dtypes, so that the same row typed in any of these ways reaches the model as the same
values, and reports what is wrong with them: errors for what cannot be scored, flags for
what can but deserves a look. The checks are the server's (:class:`Validator`, columnar);
this module reads the shapes of data and returns a pandas frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.registry._cells import (
    DATE_MAX,
    DATE_MIN,
    INT64_MAX,
    INT64_MIN,
    canonical_text,
)
from skloop.registry._issues import MAX_ISSUES_PER_PROBLEM, HasIssues, ValidationIssue, brief
from skloop.registry._signature import Signature
from skloop.registry._validator import MISSING_IMPUTED, Validated, Validator

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
    "columns_of",
    "to_pandas",
]

_PANDAS_DTYPE = {
    "int64": "Int64",
    "float64": "float64",
    "bool": "boolean",
    "string": "str",
    "datetime64": "datetime64[us]",
}


@dataclass(frozen=True)
class CoercionResult(HasIssues):
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
    def ok(self) -> bool:
        """Whether there is no error (flags are allowed)."""
        return not self.errors


def columns_of(data: Any) -> tuple[int, dict[Any, Any]]:
    """The number of rows and the columns (lists or Series, by name) of a table in any shape.

    A DataFrame's columns stay Series (typed columns are cast by pandas); records and
    JSON columns become lists of the values as sent.

    Raises
    ------
    DataError
        ``data`` is not a DataFrame, a list of records or a dict of equal-length columns.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
        return len(frame), {c: frame[c] for c in frame.columns}
    if isinstance(data, Mapping):
        columns = {k: _column(k, v) for k, v in data.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise DataError("cannot read the data as a table: all columns must have the same number of values")
        return (lengths.pop() if lengths else 0), columns
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        if not all(isinstance(r, Mapping) for r in data):
            raise DataError("expected a list of records (objects mapping column names to values)")
        names = dict.fromkeys(itertools.chain.from_iterable(data))
        return len(data), {k: [r.get(k) for r in data] for k in names}  # Mappings: not only dicts
    raise DataError(f"expected a DataFrame, a list of records or a dict of columns; got {type(data).__name__}")


def _column(name: Any, values: Any) -> list[Any] | pd.Series:
    if isinstance(values, list | pd.Series):
        given: list[Any] | pd.Series = values
        return given
    if isinstance(values, np.ndarray):
        return list(values.tolist())
    if isinstance(values, tuple):
        return list(values)
    raise DataError(f"cannot read the data as a table: column {name!r} is not a list of values")


def to_pandas(checked: Validated, signature: Signature) -> pd.DataFrame:
    """The typed columns as the DataFrame a scikit-learn pipeline gets (dtypes of :class:`CoercionResult`)."""
    data: dict[str, Any] = {}
    for col in signature.inputs:
        values = checked.columns[col.name]
        if col.dtype == "int64":
            exact = checked.exact.get(col.name)
            data[col.name] = (
                pd.Series(pd.array(exact.tolist(), dtype="Int64"))
                if exact is not None
                else pd.Series(values).astype("Int64")
            )
        elif col.dtype in ("float64", "datetime64"):
            data[col.name] = pd.Series(values, dtype=_PANDAS_DTYPE[col.dtype])
        else:
            dtype: Any = _PANDAS_DTYPE[col.dtype]
            data[col.name] = pd.Series(values, dtype=object).astype(dtype)
    if not data:
        return pd.DataFrame(index=pd.RangeIndex(checked.n))
    return pd.DataFrame(data, index=pd.RangeIndex(checked.n))


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
    (:data:`MISSING_IMPUTED`), a word in a numeric column whose training values had
    words in them (:attr:`InputColumn.not_numbers`: read as missing, as training did).

    What a cell may hold is decided once, for every caller (the server validates with
    the same :class:`~skloop.registry.Validator`):

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
    n, columns = columns_of(data)
    known = set(signature.names)
    for name in signature.names:
        if isinstance(columns.get(name), pd.DataFrame):
            raise DataError(f"column {name!r} appears more than once; send each column once")
    extras = [str(c) for c in columns if c not in known]
    checked = Validator(signature).validate(columns, n, extras, max_issues)
    return CoercionResult(frame=to_pandas(checked, signature), issues=checked.issues, error_rows=checked.error_rows)
