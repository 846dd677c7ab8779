"""Column kinds and the schema of a table, inferred from its values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.data._columns import ColumnsByName
from skloop.data._suspects import looks_like_id_name

__all__ = ["KINDS", "MAX_CATEGORIES", "ROLES", "ColumnSchema", "Schema", "infer_schema"]

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "id")
ROLES = ("feature", "target", "id", "time")
MAX_CATEGORIES = 1000
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_MEAN_TOKENS = 5
TEXT_MIN_UNIQUE_SHARE = 0.5
ID_MIN_ROWS = 20

Kind = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]
Role = Literal["feature", "target", "id", "time"]

_BOOLEAN_PAIRS = (
    frozenset({"0", "1"}),
    frozenset({"yes", "no"}),
    frozenset({"true", "false"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
)


@dataclass(frozen=True)
class ColumnSchema:
    """What one column holds.

    Attributes
    ----------
    name : str
    kind : {"numeric", "categorical", "boolean", "datetime", "text", "id"}
    dtype : str
        The pandas dtype as a string, e.g. ``"int64"`` or ``"str"``.
    nullable : bool
        Whether any value is missing.
    n_unique : int
        Distinct non-missing values.
    id_like : bool
        Every row holds a distinct, non-missing value.
    categories : tuple or None
        Sorted seen values for categorical and boolean columns (the
        :data:`MAX_CATEGORIES` most frequent when there are more), else ``None``.
    min, max : float, int, str or None
        Range of numeric columns, and of datetime columns as ISO-8601 strings.
    role : {"feature", "target", "id", "time"}
    """

    name: str
    kind: Kind
    dtype: str
    nullable: bool
    n_unique: int
    id_like: bool
    categories: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None
    role: Role = "feature"


@dataclass(frozen=True)
class Schema(ColumnsByName[ColumnSchema]):
    """The columns of a table, in order. Build one with :func:`infer_schema`."""

    columns: tuple[ColumnSchema, ...]

    _noun: ClassVar[str] = "schema"

    def by_kind(self, kind: str) -> list[str]:
        """Names of the columns of ``kind``, in table order."""
        if kind not in KINDS:
            raise DataError(f"unknown column kind {kind!r}; expected one of {', '.join(KINDS)}")
        return [c.name for c in self.columns if c.kind == kind]

    def by_role(self, role: str) -> list[str]:
        """Names of the columns playing ``role``, in table order."""
        return [c.name for c in self.columns if c.role == role]

    @property
    def features(self) -> list[str]:
        """Feature columns: role ``feature`` and kind other than ``id``."""
        return [c.name for c in self.columns if c.role == "feature" and c.kind != "id"]

    @property
    def target(self) -> str | None:
        """The target column's name, if one was marked."""
        found = self.by_role("target")
        return found[0] if found else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        cols = []
        for c in self.columns:
            d = asdict(c)
            d["categories"] = None if c.categories is None else list(c.categories)
            cols.append(d)
        return {"columns": cols}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema from :meth:`to_dict` output."""
        try:
            cols = []
            for d in data["columns"]:
                d = dict(d)
                if d.get("kind") not in KINDS:
                    raise DataError(f"column {d.get('name')!r} has unknown kind {d.get('kind')!r}")
                if d.get("categories") is not None:
                    d["categories"] = tuple(d["categories"])
                cols.append(ColumnSchema(**d))
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a schema dict ({exc}); expected the output of Schema.to_dict()") from exc
        return cls(tuple(cols))


def _py(value: Any) -> Any:
    """A plain Python scalar (JSON-able) for numpy/pandas scalars."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _sorted(values: list[Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


def _is_boolean_pair(values: pd.Series) -> bool:
    # up to 4 raw values so that "True"/"true"/"False" still count as one pair
    if not 2 <= len(values) <= 4:
        return False
    if pd.api.types.is_float_dtype(values.dtype) and not all(float(v).is_integer() for v in values):
        return False
    words = frozenset(str(_py(v)).strip().lower().removesuffix(".0") for v in values)
    return words in _BOOLEAN_PAIRS


def _kind(name: str, col: pd.Series, uniques: pd.Series, id_like: bool) -> Kind:
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype) or _is_boolean_pair(uniques):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        if pd.api.types.is_integer_dtype(dtype) and id_like and looks_like_id_name(name):
            return "id"
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    values = col.dropna()
    if values.empty:
        return "categorical"
    strings = values.astype(str)
    unique_share = len(uniques) / len(values)
    if unique_share > TEXT_MIN_UNIQUE_SHARE:
        mean_len = float(strings.str.len().mean())
        mean_tokens = float(strings.str.split().map(len).mean())
        if mean_len > TEXT_MIN_MEAN_LENGTH or mean_tokens >= TEXT_MIN_MEAN_TOKENS:
            return "text"
    if id_like and (len(values) >= ID_MIN_ROWS or looks_like_id_name(name)):
        return "id"
    return "categorical"


def _column(name: str, col: pd.Series, role: Role) -> ColumnSchema:
    values = col.dropna()
    counts = values.value_counts(sort=True, dropna=True)
    counts = counts[counts > 0]  # unobserved categories of a categorical dtype
    n_unique = len(counts)
    id_like = len(col) > 0 and n_unique == len(col)
    uniques = pd.Series(counts.index)
    kind = _kind(name, col, uniques, id_like)
    if role == "id":
        kind = "id"
    elif role == "target" and kind in ("id", "text"):
        kind = "categorical"
    categories = None
    if kind in ("categorical", "boolean"):
        top = [_py(v) for v in counts.index[:MAX_CATEGORIES]]
        categories = _sorted(top)
    lo = hi = None
    if kind in ("numeric", "datetime") and n_unique:
        lo, hi = _py(values.min()), _py(values.max())
    return ColumnSchema(
        name=name,
        kind=kind,
        dtype=str(col.dtype),
        nullable=bool(col.isna().any()),
        n_unique=int(n_unique),
        id_like=bool(id_like),
        categories=categories,
        min=lo,
        max=hi,
        role=role,
    )


def infer_schema(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
) -> Schema:
    """Infer each column's kind from its dtype and values.

    Rules, applied in order to each column:

    1. **boolean** — a bool dtype, or exactly two distinct values forming a pair
       ``{0, 1}``, ``{"yes", "no"}``, ``{"true", "false"}``, ``{"y", "n"}`` or
       ``{"t", "f"}`` (case-insensitive, so ``"True"`` and ``"true"`` are one value;
       also as floats ``0.0``/``1.0``).
    2. **datetime** — a datetime64 dtype (naive or tz-aware).
    3. **numeric** — any other numeric dtype; but an *integer* column whose values are
       all distinct and whose name says identifier (an ``id`` token as in ``id``,
       ``user_id``, ``customerId``; or ``identifier``, ``uuid``, ``guid``, ``key``) is **id**.
    4. pandas ``category`` dtype — **categorical**.
    5. strings — **text** when more than half the values are distinct and the values
       are long (mean length over 30 characters, or 5 or more words on average);
       **id** when every row holds a distinct value and there are at least 20 rows (or
       the name has an ``id`` token); otherwise **categorical**.

    The ``id_column`` is always kind ``id``; the ``target`` is never ``id`` or ``text``
    (it becomes categorical). Roles ``target``, ``id`` and ``time`` are recorded in
    :attr:`ColumnSchema.role`; every other column has role ``feature``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    target, id_column, time_column : str, optional
        Names of the columns playing these roles.

    Returns
    -------
    Schema

    Raises
    ------
    DataError
        If a named role column is not in ``df``, or column names repeat.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1.5, 2.0, 3.0], "c": ["a", "b", "a"], "y": [0, 1, 0]})
    >>> s = infer_schema(df, target="y")
    >>> s.by_kind("numeric"), s.by_kind("categorical"), s["y"].kind, s.target
    (['x'], ['c'], 'boolean', 'y')
    """
    if df.columns.has_duplicates:
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataError(f"column names repeat: {dupes}; give every column a distinct name")
    roles: dict[str, Role] = {}
    given: tuple[tuple[Role, str | None], ...] = (("target", target), ("id", id_column), ("time", time_column))
    for role, name in given:
        if name is None:
            continue
        if name not in df.columns:
            raise DataError(f"{role} column {name!r} is not in the data; columns: {[str(c) for c in df.columns]}")
        roles[name] = role
    return Schema(tuple(_column(str(n), df[n], roles.get(str(n), "feature")) for n in df.columns))
