"""Reference statistics of a table: the baseline the monitor compares new data with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from skloop.core import DataError
from skloop.data._columns import ColumnsByName
from skloop.data._schema import Schema, _py

__all__ = [
    "MAX_FREQUENCIES",
    "N_BINS",
    "OTHER",
    "QUANTILE_LEVELS",
    "ColumnProfile",
    "DatasetProfile",
    "profile",
]

QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
N_BINS = 20
MAX_FREQUENCIES = 100
OTHER = "__other__"


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column; fields that do not apply to its kind are ``None``.

    Attributes
    ----------
    name, kind : str
    count : int
        Non-missing values.
    missing : int
    missing_share : float
        ``missing / n_rows`` (0.0 for an empty table).
    mean, std, min, max : float or None
        Numeric columns, over finite values; ``std`` has ``ddof=1`` like pandas.
        Datetime columns have ``min``/``max`` as ISO-8601 strings.
    quantiles : tuple of (level, value) pairs or None
        Numeric columns, at :data:`QUANTILE_LEVELS`, linear interpolation.
    bin_edges, bin_counts : tuple or None
        Numeric columns: a histogram whose edges are the deduplicated quantiles at
        ``0, 1/N_BINS, ..., 1`` (inverted-CDF quantiles, which are observed values, so
        about :data:`N_BINS` bins of equal mass, or one per level of a discrete
        column), and the number of values in each bin (``[a, b)``, the last ``[a, b]``).
        :meth:`histogram` bins new data the same way.
    n_unique : int or None
        Categorical, boolean, text and id columns.
    frequencies : tuple of (value, count) pairs or None
        Categorical and boolean columns: the :data:`MAX_FREQUENCIES` most frequent
        values, most frequent first, then ``("__other__", rest)`` if any were left out.
    mean_length : float or None
        Text columns: mean number of characters.
    """

    name: str
    kind: str
    count: int
    missing: int
    missing_share: float
    mean: float | None = None
    std: float | None = None
    min: Any = None
    max: Any = None
    quantiles: tuple[tuple[float, float], ...] | None = None
    bin_edges: tuple[float, ...] | None = None
    bin_counts: tuple[int, ...] | None = None
    n_unique: int | None = None
    frequencies: tuple[tuple[Any, int], ...] | None = None
    mean_length: float | None = None

    def quantile(self, level: float) -> float:
        """The stored quantile at ``level`` (one of :data:`QUANTILE_LEVELS`)."""
        for q, v in self.quantiles or ():
            if q == level:
                return v
        raise DataError(f"column {self.name!r} has no stored quantile {level}; stored: {QUANTILE_LEVELS}")

    def histogram(self, values: Any) -> npt.NDArray[np.intp]:
        """Count ``values`` in this column's bins; values outside go to the end bins.

        Missing and infinite values are not counted.
        """
        if self.bin_edges is None:
            raise DataError(f"column {self.name!r} ({self.kind}) has no histogram; only numeric columns do")
        arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        arr = arr[np.isfinite(arr)]
        edges = np.asarray(self.bin_edges)
        counts, _ = np.histogram(np.clip(arr, edges[0], edges[-1]), bins=edges)
        return counts

    def frequency_map(self) -> dict[Any, int]:
        """:attr:`frequencies` as a dict."""
        return dict(self.frequencies or ())


def _listify(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_listify(v) for v in value]
    return value


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


@dataclass(frozen=True)
class DatasetProfile(ColumnsByName[ColumnProfile]):
    """Statistics of a table: its row count and a :class:`ColumnProfile` per column."""

    n_rows: int
    columns: tuple[ColumnProfile, ...]

    _noun: ClassVar[str] = "profile"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        cols = [{k: _listify(v) for k, v in asdict(c).items()} for c in self.columns]
        return {"n_rows": self.n_rows, "columns": cols}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetProfile:
        """Rebuild a profile from :meth:`to_dict` output."""
        try:
            cols = tuple(ColumnProfile(**{k: _tuplify(v) for k, v in c.items()}) for c in data["columns"])
            return cls(n_rows=int(data["n_rows"]), columns=cols)
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a profile dict ({exc}); expected DatasetProfile.to_dict() output") from exc


def _float(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _numeric(col: pd.Series) -> dict[str, Any]:
    try:
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"column {col.name!r} is declared numeric but holds {col.dtype} values that are not "
            f"numbers ({exc}); fix the schema or the data"
        ) from exc
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {}
    levels = np.asarray(QUANTILE_LEVELS)
    qs = np.quantile(arr, levels)
    # observed values as edges, so a discrete column gets one bin per level
    edges = np.unique(np.quantile(arr, np.linspace(0.0, 1.0, N_BINS + 1), method="inverted_cdf"))
    if edges.size == 1:  # a constant column: one bin around the value
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    counts, _ = np.histogram(arr, bins=edges)
    return {
        "mean": float(arr.mean()),
        "std": _float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "quantiles": tuple((float(q), float(v)) for q, v in zip(levels, qs, strict=True)),
        "bin_edges": tuple(float(e) for e in edges),
        "bin_counts": tuple(int(c) for c in counts),
    }


def _categorical(col: pd.Series, max_frequencies: int) -> dict[str, Any]:
    counts = col.dropna().value_counts()
    counts = counts[counts > 0]
    pairs = sorted(((_py(v), int(n)) for v, n in counts.items()), key=lambda p: (-p[1], str(p[0])))
    kept = pairs[:max_frequencies]
    rest = sum(n for _, n in pairs[max_frequencies:])
    if rest:
        kept.append((OTHER, rest))
    return {"n_unique": len(pairs), "frequencies": tuple(kept)}


def _column(col: pd.Series, kind: str, n_rows: int, max_frequencies: int) -> ColumnProfile:
    missing = int(col.isna().sum())
    extra: dict[str, Any] = {}
    if kind == "numeric":
        extra = _numeric(col)
    elif kind in ("categorical", "boolean"):
        extra = _categorical(col, max_frequencies)
    elif kind == "datetime":
        values = col.dropna()
        if not values.empty:
            extra = {"min": _py(values.min()), "max": _py(values.max())}
    elif kind in ("text", "id"):
        values = col.dropna()
        extra = {"n_unique": int(values.nunique())}
        if kind == "text":
            extra["mean_length"] = _float(values.astype(str).str.len().mean()) if len(values) else None
    return ColumnProfile(
        name=str(col.name),
        kind=kind,
        count=n_rows - missing,
        missing=missing,
        missing_share=missing / n_rows if n_rows else 0.0,
        **extra,
    )


def profile(df: pd.DataFrame, schema: Schema, *, max_frequencies: int = MAX_FREQUENCIES) -> DatasetProfile:
    """Compute the reference statistics of ``df`` for the columns of ``schema``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    schema : Schema
        Column kinds (from :func:`infer_schema`); decides which statistics each
        column gets. Columns of ``df`` not in the schema are ignored.
    max_frequencies : int, default=100
        Most distinct values kept per categorical column before ``"__other__"``.

    Returns
    -------
    DatasetProfile

    Raises
    ------
    DataError
        If a schema column is missing from ``df``, or a numeric column is not numeric.

    Examples
    --------
    >>> import pandas as pd
    >>> from skloop.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", "a"]})
    >>> p = profile(df, infer_schema(df))
    >>> p["x"].missing, p["x"].mean, p["c"].frequencies
    (1, 2.3333333333333335, (('a', 3), ('b', 1)))
    """
    absent = [n for n in schema.names if n not in df.columns]
    if absent:
        raise DataError(
            f"columns {absent} of the schema are not in the data; columns present: "
            f"{[str(c) for c in df.columns]}; profile data with the same columns as the schema"
        )
    n_rows = len(df)
    cols = tuple(_column(df[c.name], c.kind, n_rows, max_frequencies) for c in schema.columns)
    return DatasetProfile(n_rows=n_rows, columns=cols)
