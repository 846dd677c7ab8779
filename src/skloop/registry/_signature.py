"""The signature of a model: the input columns it expects and the output it gives.

:func:`infer_signature` records, per input column, a canonical dtype (``int64``,
``float64``, ``bool``, ``string``, ``datetime64``), the kind skloop inferred, whether
missing values were seen, the categories seen and the numeric range.

:func:`~skloop.registry.coerce_frame` (``_coerce.py``) casts incoming rows to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from skloop.core import RegistryError
from skloop.data import infer_schema
from skloop.data import positive_class as choose_positive

__all__ = [
    "DTYPES",
    "MAX_SIGNATURE_CATEGORIES",
    "InputColumn",
    "OutputSchema",
    "Signature",
    "canonical_dtype",
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
    accepts_missing : bool
        Whether the fitted model scores a missing value here (an imputer in its
        branch, an estimator that takes ``NaN``), found once at registration by
        :func:`skloop.pipelines.missing_handled_columns`. Such a value is scored and
        flagged, not refused, even where training had none. ``False`` in signatures
        recorded before this field existed.
    not_numbers : bool
        Numeric columns: the training data had values that are not numbers (``"n/a"``,
        ``"?"``), which training read as missing; incoming ones are read the same way
        (flagged, not refused). Other numeric columns refuse them.
    """

    name: str
    dtype: Dtype
    kind: str
    nullable: bool
    categories: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None
    not_numbers: bool = False
    accepts_missing: bool = False

    @property
    def missing_ok(self) -> bool:
        """Whether a missing value may be scored: seen in training, or handled by the model."""
        return self.nullable or self.accepts_missing

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
            "accepts_missing": self.accepts_missing,
            "not_numbers": self.not_numbers,
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
    positive_class : scalar or None
        Binary classification: the class (one of ``classes``) that binary ``f1``,
        ``precision`` and ``recall`` are about, in training and in monitoring.
    """

    task: str
    classes: tuple[Any, ...] | None
    dtype: Dtype
    positive_class: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = {
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "dtype": self.dtype,
        }
        if self.positive_class is not None:
            out["positive_class"] = self.positive_class
        return out


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
                        accepts_missing=bool(d.get("accepts_missing", False)),
                        not_numbers=bool(d.get("not_numbers", False)),  # older signatures lack it
                    )
                )
            out = data["output"]
            classes = out.get("classes")
            output = OutputSchema(
                task=str(out["task"]),
                classes=None if classes is None else tuple(classes),
                dtype=out["dtype"],
                positive_class=out.get("positive_class"),
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
    positive_class: Any = None,
    not_numbers: Iterable[str] = (),
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
        The fitted model; its ``classes_`` give the class order, a skloop
        pipeline's preprocessor gives the kind of each column it uses (which wins
        over the inferred kind), and only the columns it reads are inputs (see
        :func:`skloop.pipelines.used_input_columns`: a pipeline whose
        ``ColumnTransformer`` selects some columns of ``X`` does not demand the rest).
    positive_class : scalar, optional
        The positive class of a binary classifier; default: by the rule of
        :func:`skloop.data.positive_class` on the classes and ``y``.
    not_numbers : iterable of str, default=()
        Numeric columns in which training read values that are not numbers as missing
        (:func:`skloop.data.coerce_numbers`); serving reads them the same way
        (:attr:`InputColumn.not_numbers`).

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
    from skloop.pipelines import used_input_columns  # lazily: the server imports the registry, never the pipelines

    read = set(used_input_columns(model) or ()) if model is not None else set()
    if read and read <= set(X.columns):
        X = X[[c for c in X.columns if c in read]]
    schema = infer_schema(X)
    used = pipeline_kinds(model) if model is not None else {}
    inputs = []
    read_as_missing = set(not_numbers)
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
                not_numbers=col.name in read_as_missing and dtype in ("int64", "float64"),
            )
        )
    classes: tuple[Any, ...] | None = None
    if task == "classification":
        if model is not None and hasattr(model, "classes_"):
            classes = tuple(_py(c) for c in np.asarray(model.classes_))
        elif y is not None:
            classes = tuple(_py(c) for c in sorted(pd.Series(y).dropna().unique()))
    positive = None
    if classes is not None and len(classes) == 2:
        positive = _py(choose_positive(classes, y, positive_class))
    if task == "regression":
        out_dtype: Dtype = "float64"
    elif classes is not None:
        out_dtype = canonical_dtype(pd.Series(list(classes), dtype=object))
    else:
        out_dtype = canonical_dtype(y) if y is not None else "string"
    output = OutputSchema(task=task, classes=classes, dtype=out_dtype, positive_class=positive)
    signature = Signature(tuple(inputs), output)
    return _with_accepted_missing(signature, X, model) if model is not None else signature


def _with_accepted_missing(signature: Signature, X: pd.DataFrame, model: Any) -> Signature:
    """``signature`` with ``accepts_missing`` set where ``model`` scores a missing value.

    The probe rows are typed by :func:`~skloop.registry.coerce_frame`, as the server
    and ``skloop predict`` type the rows they score, so the answer holds for them.
    """
    from skloop.pipelines import PROBE_ROWS, missing_handled_columns  # lazily, as above
    from skloop.registry._coerce import coerce_frame  # it imports this module

    typed = coerce_frame(X.head(PROBE_ROWS), signature).frame
    handled = set(missing_handled_columns(model, typed))
    inputs = tuple(replace(c, accepts_missing=c.name in handled) for c in signature.inputs)
    return Signature(inputs, signature.output)
