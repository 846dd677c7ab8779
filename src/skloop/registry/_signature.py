"""The signature of a model: the input columns it expects and the output it gives.

:func:`infer_signature` records, per input column, a canonical dtype (``int64``,
``float64``, ``bool``, ``string``, ``datetime64``), the kind skloop inferred, whether
missing values were seen, the categories seen and the numeric range.

:func:`coerce_frame` casts incoming rows (a DataFrame read from CSV, JSON records or a
dict of columns) to those dtypes, so that the same row typed in any of these ways
reaches the model as the same values, and reports what is wrong with them: errors for
what cannot be scored, flags for what can but deserves a look. It is vectorised: a
server calls it on every request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from skloop.core import DataError, RegistryError
from skloop.data import infer_schema

__all__ = [
    "DTYPES",
    "MAX_SIGNATURE_CATEGORIES",
    "CoercionResult",
    "InputColumn",
    "OutputSchema",
    "Signature",
    "ValidationIssue",
    "canonical_dtype",
    "coerce_frame",
    "infer_signature",
    "pipeline_kinds",
]

DTYPES = ("int64", "float64", "bool", "string", "datetime64")
"""The canonical dtypes of a signature's columns."""

MAX_SIGNATURE_CATEGORIES = 200
"""A column with more distinct values than this records no categories (``None``), so
that unknown-category flags are only raised where the whole vocabulary is known."""

TASKS = ("classification", "regression")

Dtype = Literal["int64", "float64", "bool", "string", "datetime64"]

_INFERRED = {
    "boolean": "bool",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "decimal": "float64",
    "datetime64": "datetime64",
    "datetime": "datetime64",
}


def _py(value: Any) -> Any:
    """A plain, JSON-able Python scalar."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def canonical_dtype(values: pd.Series | np.ndarray) -> Dtype:
    """The canonical signature dtype of a column.

    Nullable pandas dtypes map to their plain name (``Int64`` → ``int64``,
    ``boolean`` → ``bool``); an ``object`` column is judged by its non-missing values
    (Python ``bool`` values with ``None`` → ``bool``); categoricals and anything else
    are ``string``.

    Parameters
    ----------
    values : Series or ndarray

    Returns
    -------
    {"int64", "float64", "bool", "string", "datetime64"}

    Examples
    --------
    >>> canonical_dtype(pd.Series([1, None], dtype="Int64"))
    'int64'
    >>> canonical_dtype(pd.Series([True, None, False]))
    'bool'
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime64"
    if pd.api.types.is_object_dtype(dtype):
        return _INFERRED.get(pd.api.types.infer_dtype(series, skipna=True), "string")  # type: ignore[return-value]
    return "string"


@dataclass(frozen=True)
class InputColumn:
    """One input column of a signature.

    Attributes
    ----------
    name : str
    dtype : {"int64", "float64", "bool", "string", "datetime64"}
        What incoming values are cast to.
    kind : {"numeric", "categorical", "boolean", "datetime", "text", "id"}
        The kind :func:`skloop.data.infer_schema` gave the training column.
    nullable : bool
        Whether the training data had missing values in this column; a missing
        value in a non-nullable column is an error.
    categories : tuple or None
        Categorical and boolean columns: the sorted values seen in training (``None``
        when there were more than :data:`MAX_SIGNATURE_CATEGORIES`).
    min, max : int, float, str or None
        Numeric columns: the training range; datetime columns: ISO-8601 strings.
    """

    name: str
    dtype: Dtype
    kind: str
    nullable: bool
    categories: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "nullable": self.nullable,
            "categories": None if self.categories is None else list(self.categories),
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class OutputSchema:
    """What the model predicts.

    Attributes
    ----------
    task : {"classification", "regression"}
    classes : tuple or None
        The class labels in the model's order (``classes_``), for classification.
    dtype : {"int64", "float64", "bool", "string", "datetime64"}
        The dtype of a prediction.
    """

    task: str
    classes: tuple[Any, ...] | None
    dtype: Dtype

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "dtype": self.dtype,
        }


@dataclass(frozen=True)
class Signature:
    """The input columns a model expects, in order, and its output.

    Build one with :func:`infer_signature`; store it with :meth:`to_dict`.

    Attributes
    ----------
    inputs : tuple of InputColumn
    output : OutputSchema
    """

    inputs: tuple[InputColumn, ...]
    output: OutputSchema

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))

    @property
    def names(self) -> list[str]:
        """Input column names in order."""
        return [c.name for c in self.inputs]

    def __getitem__(self, name: str) -> InputColumn:
        for column in self.inputs:
            if column.name == name:
                return column
        raise KeyError(f"no input column {name!r} in the signature; columns: {self.names}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {"inputs": [c.to_dict() for c in self.inputs], "output": self.output.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Rebuild a signature from :meth:`to_dict` output.

        Raises
        ------
        RegistryError
            ``data`` is not such a dict.
        """
        try:
            inputs = []
            for d in data["inputs"]:
                if d["dtype"] not in DTYPES:
                    raise RegistryError(
                        f"signature column {d['name']!r} has dtype {d['dtype']!r}; expected one of {DTYPES}"
                    )
                categories = d.get("categories")
                inputs.append(
                    InputColumn(
                        name=str(d["name"]),
                        dtype=d["dtype"],
                        kind=str(d["kind"]),
                        nullable=bool(d["nullable"]),
                        categories=None if categories is None else tuple(categories),
                        min=d.get("min"),
                        max=d.get("max"),
                    )
                )
            out = data["output"]
            classes = out.get("classes")
            output = OutputSchema(
                task=str(out["task"]),
                classes=None if classes is None else tuple(classes),
                dtype=out["dtype"],
            )
        except (KeyError, TypeError) as exc:
            raise RegistryError(
                f"not a signature dict (missing or bad {exc}); expected the output of Signature.to_dict()"
            ) from exc
        return cls(tuple(inputs), output)


def pipeline_kinds(model: Any) -> dict[str, str]:
    """Input column → kind, as a fitted skloop pipeline treats it.

    Read from the names of the groups of its ``ColumnTransformer`` (``numeric``,
    ``categorical``, ``boolean``, ``datetime``, ``text_<column>``); empty for any
    other model.
    """
    steps = getattr(model, "steps", None)
    pre = steps[0][1] if steps else model
    groups = getattr(pre, "transformers_", None) or getattr(pre, "transformers", None)
    kinds: dict[str, str] = {}
    for group in groups or ():
        name, _, columns = group
        kind = "text" if str(name).startswith("text_") else str(name)
        if kind not in ("numeric", "categorical", "boolean", "datetime", "text"):
            continue
        cols = [columns] if isinstance(columns, str) else list(columns) if isinstance(columns, list) else []
        kinds.update({str(c): kind for c in cols})
    return kinds


def _categories(col: Any, dtype: Dtype, kind: str) -> tuple[Any, ...] | None:
    if kind not in ("categorical", "boolean") or col.categories is None:
        return None
    if col.n_unique > MAX_SIGNATURE_CATEGORIES:
        return None
    values = list(col.categories)
    if dtype == "string":
        return tuple(sorted(str(v) for v in values))
    if dtype == "bool":
        return tuple(sorted(bool(v) for v in values))
    return tuple(values)


def infer_signature(
    X: pd.DataFrame,
    y: pd.Series | None = None,
    *,
    task: str,
    model: Any = None,
) -> Signature:
    """Infer the signature of a model trained on ``X`` (and ``y``).

    Parameters
    ----------
    X : DataFrame
        The input columns, as the model receives them (training data).
    y : Series, optional
        The target; gives the output dtype and, without ``model``, the classes.
    task : {"classification", "regression"}
    model : estimator, optional
        The fitted model; its ``classes_`` give the class order, and a skloop
        pipeline's preprocessor gives the kind of each column it uses (which wins
        over the inferred kind).

    Returns
    -------
    Signature

    Raises
    ------
    RegistryError
        ``task`` is unknown or ``X`` is not a DataFrame.

    Examples
    --------
    >>> X = pd.DataFrame({"age": pd.array([30, None, 45], dtype="Int64"), "plan": ["a", "b", "a"]})
    >>> sig = infer_signature(X, pd.Series([0, 1, 0]), task="classification")
    >>> sig["age"].dtype, sig["age"].nullable, sig["plan"].categories, sig.output.classes
    ('int64', True, ('a', 'b'), (0, 1))
    """
    if task not in TASKS:
        raise RegistryError(f"task must be one of {TASKS}; got {task!r}")
    if not isinstance(X, pd.DataFrame):
        raise RegistryError(f"infer_signature needs a pandas DataFrame of input columns; got {type(X).__name__}")
    schema = infer_schema(X)
    used = pipeline_kinds(model) if model is not None else {}
    inputs = []
    for col in schema:
        dtype = canonical_dtype(X[col.name])
        kind = used.get(col.name, col.kind)
        numeric_range = kind in ("numeric", "datetime") and dtype in ("int64", "float64", "datetime64")
        inputs.append(
            InputColumn(
                name=col.name,
                dtype=dtype,
                kind=kind,
                nullable=col.nullable,
                categories=_categories(col, dtype, kind),
                min=_py(col.min) if numeric_range else None,
                max=_py(col.max) if numeric_range else None,
            )
        )
    classes: tuple[Any, ...] | None = None
    if task == "classification":
        if model is not None and hasattr(model, "classes_"):
            classes = tuple(_py(c) for c in np.asarray(model.classes_))
        elif y is not None:
            classes = tuple(_py(c) for c in sorted(pd.Series(y).dropna().unique()))
    if task == "regression":
        out_dtype: Dtype = "float64"
    elif classes is not None:
        out_dtype = canonical_dtype(pd.Series(list(classes), dtype=object))
    else:
        out_dtype = canonical_dtype(y) if y is not None else "string"
    return Signature(tuple(inputs), OutputSchema(task=task, classes=classes, dtype=out_dtype))


# --------------------------------------------------------------------------- coercion

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
