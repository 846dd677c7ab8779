"""The reference a window is compared with: a compact, JSON-able summary of the training data.

:func:`reference_summary` is computed once (at training, next to the
:class:`~skloop.data.DatasetProfile`) and is everything :func:`~skloop.monitor.compare_data`
needs, so the training rows never have to be read again:

- numeric columns keep a **quantile sketch**: all sorted values when there are at most
  ``max_points`` (default 1,000; then every statistic is exact), else the values at the
  ``max_points`` mid-levels ``(i + 0.5) / max_points`` (inverted CDF, so observed values;
  the sketch's CDF is within ``1 / max_points`` of the data's everywhere). KS and
  Wasserstein run against it with the true row count for p-values. They also keep the
  exact mean, standard deviation (``ddof=0``), minimum and maximum, and the exact counts
  in 20 equal-mass bins (the profile's :data:`~skloop.data._profile.N_BINS`) for PSI,
  chi-square, Jensen–Shannon and plots;
- categorical and boolean columns keep every category's count (the 1,000 most frequent,
  then one ``"__other__"`` count);
- text columns keep their vocabulary: the 10,000 most frequent terms (scikit-learn's
  default tokens, :mod:`skloop.monitor._text`) with their token counts, in
  ``categories`` / ``category_counts``, and the rarer terms' tokens in ``other``;
- every column keeps its missing count; id, text and datetime columns their distinct count.

A plain :class:`~skloop.data.DatasetProfile` also works (:meth:`ReferenceSummary.from_profile`),
with KS and Wasserstein approximated from its 20-bin histogram through a piecewise-linear CDF.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.data import OTHER, ColumnsByName, DatasetProfile, Schema, infer_schema, parse_datetimes
from skloop.monitor._text import MAX_TERMS, term_counts
from skloop.monitor._types import Floats

__all__ = [
    "MAX_CATEGORIES",
    "MAX_POINTS",
    "N_PLOT_BINS",
    "OTHER_CATEGORY",
    "ColumnReference",
    "ReferenceSummary",
    "reference_summary",
]

MAX_POINTS = 1000
N_PLOT_BINS = 20
MAX_CATEGORIES = 1000
OTHER_CATEGORY = OTHER
_TESTED = ("numeric", "categorical", "boolean")


@dataclass(frozen=True)
class ColumnReference:
    """Reference statistics of one column (fields that do not apply are ``None``).

    Attributes
    ----------
    name, kind : str
    role : {"feature", "prediction", "id", "target", "time"}
    count, missing : int
        Non-missing values and missing ones.
    points : numpy.ndarray or None
        Numeric: sorted values, or the quantile sketch (see the module docstring); a
        read-only float64 array (a list in :meth:`ReferenceSummary.to_dict`).
    exact : bool
        Numeric: ``points`` holds every value.
    mean, std, min, max : float or None
        Numeric, over finite values; ``std`` with ``ddof=0``.
    bin_edges, bin_counts : tuple or None
        Numeric: equal-mass bins (``[a, b)``, the last ``[a, b]``) and their exact counts.
    categories, category_counts : tuple or None
        Categorical and boolean: values, most frequent first, and their counts. Text:
        the vocabulary's terms, most frequent first, and their token counts.
    other : int
        Count of values beyond the kept categories (``"__other__"``); text: tokens of
        the terms beyond the kept vocabulary.
    n_unique : int or None
        Distinct non-missing values (numeric up to the sketch, categorical, id, text).
    """

    name: str
    kind: str
    role: str
    count: int
    missing: int
    points: Floats | None = field(default=None, compare=False, repr=False)
    exact: bool = True
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    bin_edges: tuple[float, ...] | None = None
    bin_counts: tuple[int, ...] | None = None
    categories: tuple[Any, ...] | None = None
    category_counts: tuple[int, ...] | None = None
    other: int = 0
    n_unique: int | None = None

    @property
    def missing_share(self) -> float:
        """``missing / (count + missing)``."""
        total = self.count + self.missing
        return self.missing / total if total else 0.0

    def __post_init__(self) -> None:
        if self.points is not None:
            pts = np.array(self.points, dtype="float64")
            pts.setflags(write=False)
            object.__setattr__(self, "points", pts)

    def points_array(self) -> Floats:
        """:attr:`points` (empty when absent)."""
        return np.empty(0) if self.points is None else self.points

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        d["points"] = None if self.points is None else self.points.tolist()
        return d


@dataclass(frozen=True)
class ReferenceSummary(ColumnsByName[ColumnReference]):
    """Reference statistics of a table, per column. Build one with :func:`reference_summary`.

    ``loss_model`` names the run artifact holding a regressor's loss models
    (:class:`~skloop.monitor.DLE`, fitted on the holdout at training), and
    ``loss_reason`` says why a regressor has none; both ``None`` in a summary made
    before loss models (or of a classifier).
    """

    n_rows: int
    columns: tuple[ColumnReference, ...]
    loss_model: str | None = None
    loss_reason: str | None = None

    _noun: ClassVar[str] = "reference"

    def schema(self) -> Schema:
        """A :class:`~skloop.data.Schema` with these columns' kinds and roles."""
        return Schema.from_dict(
            {
                "columns": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "dtype": "",
                        "nullable": c.missing > 0,
                        "n_unique": c.n_unique or 0,
                        "id_like": c.kind == "id",
                        "role": c.role if c.role != "prediction" else "feature",
                    }
                    for c in self.columns
                ]
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        out: dict[str, Any] = {"n_rows": self.n_rows, "columns": [c.to_dict() for c in self.columns]}
        if self.loss_model is not None or self.loss_reason is not None:
            out |= {"loss_model": self.loss_model, "loss_reason": self.loss_reason}
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceSummary:
        """Rebuild a summary from :meth:`to_dict` output."""
        try:
            given: list[dict[str, Any]] = [
                {k: tuple(v) if isinstance(v, list) and k != "points" else v for k, v in c.items()}
                for c in data["columns"]
            ]
            cols = tuple(ColumnReference(**c) for c in given)
            return cls(
                n_rows=int(data["n_rows"]), columns=cols, loss_model=data.get("loss_model"),
                loss_reason=data.get("loss_reason"),
            )  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a reference summary ({exc}); expected ReferenceSummary.to_dict() output") from exc

    @classmethod
    def from_json(cls, text: str) -> ReferenceSummary:
        """Rebuild a summary from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_profile(cls, profile: DatasetProfile, schema: Schema | None = None) -> ReferenceSummary:
        """A summary from a training :class:`~skloop.data.DatasetProfile`.

        Numeric sketches are read off the profile's histogram by linear interpolation
        of its CDF (an approximation: use :func:`reference_summary` for exact tests);
        categories come from its frequencies; roles from ``schema`` when given.
        """
        cols = []
        for c in profile:
            role = schema[c.name].role if schema is not None and c.name in schema else "feature"
            base: dict[str, Any] = {"name": c.name, "kind": c.kind, "role": role, "count": c.count}
            base["missing"] = c.missing
            if c.kind == "numeric" and c.bin_edges is not None and c.bin_counts is not None:
                pts = _points_from_histogram(c.bin_edges, c.bin_counts, c.quantiles or ())
                n = max(c.count, 1)
                std = (c.std or 0.0) * np.sqrt((n - 1) / n)  # the profile's std has ddof=1
                base |= {
                    "points": pts,
                    "exact": False,
                    "mean": c.mean,
                    "std": float(std),
                    "min": c.min,
                    "max": c.max,
                    "bin_edges": c.bin_edges,
                    "bin_counts": c.bin_counts,
                }
            elif c.kind in ("categorical", "boolean") and c.frequencies is not None:
                kept = [(v, n) for v, n in c.frequencies if v != OTHER]
                other = sum(n for v, n in c.frequencies if v == OTHER)
                base |= {
                    "categories": tuple(v for v, _ in kept),
                    "category_counts": tuple(int(n) for _, n in kept),
                    "other": int(other),
                    "n_unique": c.n_unique,
                }
            else:
                base["n_unique"] = c.n_unique
            cols.append(ColumnReference(**base))
        return cls(n_rows=profile.n_rows, columns=tuple(cols))


def _points_from_histogram(
    bin_edges: Sequence[float], bin_counts: Sequence[int], quantiles: Sequence[tuple[float, float]] = ()
) -> Floats:
    """A quantile sketch read off a profile's histogram and quantiles.

    The CDF is taken as linear between the bin edges and the profile's quantiles (its
    1% and 99% ones keep the tails close). Integer-valued columns (every edge an
    integer) have their points rounded down, so that a bin ``[a, b)`` keeps its mass
    on the integers ``a .. b-1`` (one bin per level of a count holds just that level).
    """
    edges = np.asarray(bin_edges, dtype="float64")
    counts = np.asarray(bin_counts, dtype="float64")
    levels = (np.arange(MAX_POINTS) + 0.5) / MAX_POINTS
    cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    xs = np.concatenate([edges, [v for _, v in quantiles]])
    fs = np.concatenate([cdf, [q for q, _ in quantiles]])
    order = np.lexsort((fs, xs))
    xs, fs = xs[order], np.maximum.accumulate(fs[order])
    pts: Floats = np.interp(levels, fs, xs)
    return np.floor(pts) if np.all(edges == np.round(edges)) else pts


def _plot_edges(values: Floats) -> Floats:
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, N_PLOT_BINS + 1), method="inverted_cdf"))
    if edges.size == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def numeric_reference(name: str, role: str, values: Floats, missing: int, max_points: int | None) -> ColumnReference:
    """The reference of a numeric column from its values (missing and infinite ones dropped)."""
    values = values[np.isfinite(values)]
    values = np.sort(values)
    n = int(values.size)
    base: dict[str, Any] = {"name": name, "kind": "numeric", "role": role, "count": n, "missing": missing}
    if n == 0:
        return ColumnReference(**base)
    if max_points is None or n <= max_points:
        pts, exact = values, True
    else:
        pts = np.quantile(values, (np.arange(max_points) + 0.5) / max_points, method="inverted_cdf")
        exact = False
    edges = _plot_edges(values)
    counts, _ = np.histogram(values, bins=edges)
    return ColumnReference(
        **base,
        points=pts,
        exact=exact,
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values[0]),
        max=float(values[-1]),
        bin_edges=tuple(edges.tolist()),
        bin_counts=tuple(int(c) for c in counts),
        n_unique=int(np.count_nonzero(np.diff(pts)) + 1) if exact else None,
    )


def categorical_reference(name: str, kind: str, role: str, counts: Mapping[Any, int], missing: int) -> ColumnReference:
    """The reference of a categorical or boolean column from its value counts."""
    pairs = sorted(((_py(v), int(n)) for v, n in counts.items() if n > 0), key=lambda p: (-p[1], str(p[0])))
    kept = pairs[:MAX_CATEGORIES]
    return ColumnReference(
        name=name,
        kind=kind,
        role=role,
        count=sum(n for _, n in pairs),
        missing=missing,
        categories=tuple(v for v, _ in kept),
        category_counts=tuple(n for _, n in kept),
        other=sum(n for _, n in pairs[MAX_CATEGORIES:]),
        n_unique=len(pairs),
    )


def text_reference(
    name: str, role: str, terms: Mapping[str, int], count: int, missing: int, n_unique: int
) -> ColumnReference:
    """The reference of a text column: its vocabulary's :data:`~skloop.monitor._text.MAX_TERMS` most frequent terms."""
    pairs = sorted(((str(t), int(n)) for t, n in terms.items() if n > 0), key=lambda p: (-p[1], p[0]))
    kept = pairs[:MAX_TERMS]
    return ColumnReference(
        name=name, kind="text", role=role, count=count, missing=missing, n_unique=n_unique,
        categories=tuple(t for t, _ in kept), category_counts=tuple(n for _, n in kept),
        other=sum(n for _, n in pairs[MAX_TERMS:]),
    )  # fmt: skip


def _column_reference(col: pd.Series, kind: str, role: str, max_points: int | None) -> ColumnReference:
    missing = int(col.isna().sum())
    name = str(col.name)
    if kind == "numeric":
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return numeric_reference(name, role, values, missing, max_points)
    if kind in ("categorical", "boolean"):
        return categorical_reference(name, kind, role, col.value_counts(dropna=True).to_dict(), missing)
    if kind == "text":
        return text_reference(name, role, term_counts(col), len(col) - missing, missing, int(col.nunique()))
    return ColumnReference(
        name=name, kind=kind, role=role, count=len(col) - missing, missing=missing, n_unique=int(col.nunique())
    )


def reference_summary(
    data: pd.DataFrame | str | os.PathLike[str],
    schema: Schema | None = None,
    *,
    prediction_columns: Sequence[str] = (),
    max_points: int | None = MAX_POINTS,
) -> ReferenceSummary:
    """Summarise the training data as the monitor's reference.

    Parameters
    ----------
    data : pandas.DataFrame or path
        The reference table, or a Parquet/CSV file (Parquet is read one column at a
        time, so memory stays at one column). ISO-8601 date strings in a table are
        taken as datetimes, as the readers parse them for training.
    schema : Schema, optional
        Column kinds and roles; inferred from ``data`` when omitted (from the first
        100,000 rows of a file).
    prediction_columns : sequence of str, default=()
        Columns holding the model's outputs (scores, probabilities, labels): kept
        with role ``"prediction"`` for prediction drift; numeric when their values are
        floats, else categorical, unless the schema says otherwise.
    max_points : int or None, default=1000
        Size of the numeric quantile sketch; ``None`` keeps every value (exact).

    Returns
    -------
    ReferenceSummary

    Raises
    ------
    DataError
        If a schema or prediction column is missing from the data.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = reference_summary(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    >>> ref["x"].points.tolist(), ref["c"].categories, ref["c"].category_counts
    ([1.0, 2.0, 3.0], ('a', 'b'), (2, 1))
    """
    if max_points is not None and max_points < 2:
        raise DataError(f"max_points must be at least 2 (or None for every value); got {max_points}")
    if not isinstance(data, pd.DataFrame):
        return _summary_of_file(Path(data), schema, prediction_columns, max_points)
    data = parse_datetimes(data)  # ISO date strings are datetimes, as the readers give them to training
    if schema is None:
        schema = infer_schema(data.drop(columns=[c for c in prediction_columns if c in data.columns]))
    kinds = _kinds(schema, prediction_columns, data)
    absent = [n for n in kinds if n not in data.columns]
    if absent:
        raise DataError(f"columns {absent} are not in the reference data; columns: {[str(c) for c in data.columns]}")
    cols = tuple(_column_reference(data[n], kind, role, max_points) for n, (kind, role) in kinds.items())
    return ReferenceSummary(n_rows=len(data), columns=cols)


def _prediction_kind(col: pd.Series) -> str:
    return "numeric" if pd.api.types.is_float_dtype(col.dtype) else "categorical"


def _kinds(schema: Schema, prediction_columns: Sequence[str], sample: pd.DataFrame) -> dict[str, tuple[str, str]]:
    kinds: dict[str, tuple[str, str]] = {c.name: (c.kind, c.role) for c in schema if c.name not in prediction_columns}
    for name in prediction_columns:
        if name in schema:
            kinds[name] = (schema[name].kind, "prediction")
        elif name in sample.columns:
            kinds[name] = (_prediction_kind(sample[name]), "prediction")
        else:
            raise DataError(f"prediction column {name!r} is not in the reference data")
    return kinds


def _summary_of_file(
    path: Path, schema: Schema | None, prediction_columns: Sequence[str], max_points: int | None
) -> ReferenceSummary:
    from skloop.data import iter_batches, read_table

    if not path.name.lower().endswith((".parquet", ".pq")):
        return reference_summary(read_table(path), schema, prediction_columns=prediction_columns, max_points=max_points)
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DataError(f"cannot read Parquet file {path}: {exc}") from exc
    with pf:
        n_rows = pf.metadata.num_rows
        head = next(iter_batches(path, 100_000), pd.DataFrame())
        if schema is None:
            schema = infer_schema(head.drop(columns=[c for c in prediction_columns if c in head.columns]))
        kinds = _kinds(schema, prediction_columns, head)
        absent = [n for n in kinds if n not in pf.schema_arrow.names]
        if absent:
            raise DataError(f"columns {absent} are not in {path}; columns: {pf.schema_arrow.names}")
        cols = []
        for name, (kind, role) in kinds.items():
            col = pf.read(columns=[name]).column(0).to_pandas()
            col.name = name
            cols.append(_column_reference(col, kind, role, max_points))
    return ReferenceSummary(n_rows=n_rows, columns=tuple(cols))
