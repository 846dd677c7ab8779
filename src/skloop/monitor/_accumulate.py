"""Per-column aggregates of a current window, built batch by batch.

A window is read once, in batches (a whole DataFrame is one batch), and each column
keeps only what the drift tests and quality checks need:

- numeric: the values themselves up to ``cap`` of them (so small windows get exact
  tests), beyond that counts between the reference's sorted points (``le`` and ``eq``
  counts, enough for an exact KS statistic against the reference sketch and a close
  Wasserstein distance), the values outside the reference points themselves (up to
  ``TAIL_CAP``, so the Wasserstein tails are exact), counts on the reference's plot
  bins, min/max, out-of-range count;
- categorical/boolean: a count per value;
- text: a token count per term (:mod:`skloop.monitor._text`), for its vocabulary drift;
- id: 64-bit hashes of the values (for duplicates).

Batches come as pandas Series or pyarrow arrays; arrow numbers and dictionary columns
stay in arrow/numpy (no pandas objects), other types go through pandas.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from skloop.core import DataError
from skloop.monitor._reference import ColumnReference
from skloop.monitor._text import TermCounter
from skloop.monitor._types import Counts, Floats

__all__ = [
    "CategoricalAccumulator",
    "CategoricalCurrent",
    "NumericAccumulator",
    "NumericCurrent",
    "OtherAccumulator",
    "OtherCurrent",
    "TextAccumulator",
    "TextCurrent",
    "accumulator",
]

TAIL_CAP = 100_000
_BOOLEAN_WORDS = frozenset({"true", "false", "1", "0", "1.0", "0.0", "yes", "no", "y", "n", "t", "f"})


@dataclass(frozen=True)
class NumericCurrent:
    """Aggregates of a numeric column in the current window."""

    n: int
    missing: int
    violations: int
    min: float
    max: float
    out_of_range: int
    values: Floats | None  # sorted finite values when the window was small enough
    le_counts: Counts | None  # else counts between the unique reference points
    eq_counts: Counts | None
    tails: tuple[Floats, Floats] | None  # sorted values below / above the points (binned mode)
    plot_counts: Counts | None  # counts on the reference's bin_edges

    @property
    def n_distinct_at_most_one(self) -> bool:
        return self.n == 0 or self.min == self.max

    def binned_counts(self) -> tuple[Counts, Counts]:
        """``(le_counts, eq_counts)`` of a window summarised by counts (``values`` is ``None``)."""
        if self.le_counts is None or self.eq_counts is None:
            raise DataError("this window kept its values, not counts between the reference points; read .values")
        return self.le_counts, self.eq_counts


@dataclass(frozen=True)
class CategoricalCurrent:
    """Aggregates of a categorical or boolean column in the current window."""

    counts: dict[Any, int]
    missing: int
    violations: int

    @property
    def n(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class OtherCurrent:
    """Aggregates of an id, text or datetime column in the current window."""

    n: int
    missing: int
    violations: int
    duplicates: int
    n_distinct_at_most_one: bool


@dataclass(frozen=True)
class TextCurrent(OtherCurrent):
    """Aggregates of a text column: those of :class:`OtherCurrent` and the token count per term."""

    terms: dict[str, int]


def _float_values(values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> tuple[Floats, int]:
    """Float64 values (NaN where missing) and the count of values that are not numbers."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        t = values.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
            if pa.types.is_boolean(t) or pa.types.is_decimal(t):
                values = pc.cast(values, pa.float64())
            return np.asarray(values.to_numpy(zero_copy_only=False), dtype="float64"), 0
        values = values.to_pandas()
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan), 0
    coerced = pd.to_numeric(values, errors="coerce")
    violations = int((coerced.isna() & values.notna()).sum())
    return coerced.to_numpy(dtype="float64", na_value=np.nan), violations


class NumericAccumulator:
    """Aggregates of a numeric column; :meth:`finish` returns a :class:`NumericCurrent`."""

    def __init__(self, ref: ColumnReference, *, cap: int | None) -> None:
        self._cap = cap
        self._points = np.unique(ref.points_array())
        self._edges = np.asarray(ref.bin_edges or (), dtype="float64")
        self._lo = -np.inf if ref.min is None else ref.min
        self._hi = np.inf if ref.max is None else ref.max
        self._held: list[Floats] | None = []
        self._le = np.zeros(self._points.size + 1, dtype="int64")
        self._eq = np.zeros(self._points.size, dtype="int64")
        self._plot = np.zeros(max(self._edges.size - 1, 0), dtype="int64")
        self._below: list[Floats] | None = []
        self._above: list[Floats] | None = []
        self._n_tail = 0
        self.n = self.missing = self.violations = self.out_of_range = 0
        self.min, self.max = np.inf, -np.inf

    def add(self, values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> None:
        arr, violations = _float_values(values)
        nan = np.isnan(arr)
        self.missing += int(nan.sum()) - violations
        self.violations += violations
        # one sort per batch (SIMD, ~16 ms per million) turns every count below into a
        # binary search of the few reference points in the batch, instead of the reverse
        arr = np.sort(arr[np.isfinite(arr)])
        if arr.size == 0:
            return
        self.n += arr.size
        self.min = min(self.min, float(arr[0]))
        self.max = max(self.max, float(arr[-1]))
        self.out_of_range += int(np.searchsorted(arr, self._lo, side="left"))
        self.out_of_range += int(arr.size - np.searchsorted(arr, self._hi, side="right"))
        if self._held is not None:
            self._held.append(arr)
            if self._cap is None or self.n <= self._cap:
                return
            arr = np.sort(np.concatenate(self._held))
            self._held = None
        self._bin(arr)

    def _bin(self, arr: Floats) -> None:
        """Count the sorted ``arr`` between the reference points and in the plot bins."""
        p = self._points
        if p.size:
            left = np.searchsorted(arr, p, side="left")  # values < p[i]
            right = np.searchsorted(arr, p, side="right")  # values <= p[i]
            self._le += np.diff(right, prepend=0, append=arr.size)
            self._eq += right - left
            if self._below is not None and self._above is not None:
                self._n_tail += int(left[0] + arr.size - right[-1])
                if self._n_tail > TAIL_CAP:
                    self._below = self._above = None
                else:
                    self._below.append(arr[: left[0]].copy())  # a view would keep the batch alive
                    self._above.append(arr[right[-1] :].copy())
        if self._plot.size:
            self._plot += _histogram(arr, self._edges)

    def finish(self) -> NumericCurrent:
        values = None
        plot = self._plot
        tails = None
        if self._held is None and self._below is not None and self._above is not None:
            tails = (np.concatenate([np.empty(0), *self._below]), np.concatenate([np.empty(0), *self._above]))
            tails = (np.sort(tails[0]), np.sort(tails[1]))
        if self._held is not None:
            values = np.sort(np.concatenate(self._held)) if self._held else np.empty(0)
            plot = _histogram(values, self._edges) if self._plot.size else self._plot
        return NumericCurrent(
            n=self.n,
            missing=self.missing,
            violations=self.violations,
            min=self.min,
            max=self.max,
            out_of_range=self.out_of_range,
            values=values,
            le_counts=None if values is not None else self._le,
            eq_counts=None if values is not None else self._eq,
            tails=tails,
            plot_counts=plot,
        )


def _histogram(sorted_values: Floats, edges: Floats) -> Counts:
    """Counts of sorted values in ``[a, b)`` bins (the last ``[a, b]``), outside ones in the end bins."""
    pos = np.searchsorted(sorted_values, edges, side="left")
    counts = np.diff(pos)
    counts[0] += pos[0]
    counts[-1] = sorted_values.size - pos[-2]
    return counts


def _booleanish(values: pd.Series) -> int:
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        present = values.dropna()
        return int((~present.isin([0, 1])).sum())
    words = values.dropna().astype(str).str.strip().str.lower()
    return int((~words.isin(_BOOLEAN_WORDS)).sum())


class CategoricalAccumulator:
    """Value counts of a categorical or boolean column."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self.counts: Counter[Any] = Counter()
        self.missing = self.violations = 0

    def add(self, values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> None:
        if isinstance(values, pa.ChunkedArray | pa.Array) and self._kind == "categorical":
            vc = pc.value_counts(values)
            counts = cast("list[int]", vc.field("counts").to_pylist())  # never null; the stubs allow it
            for v, n in zip(vc.field("values").to_pylist(), counts, strict=True):
                if v is None:
                    self.missing += n
                else:
                    self.counts[v] += n
            return
        if not isinstance(values, pd.Series):
            values = values.to_pandas()
        if self._kind == "boolean":
            self.violations += _booleanish(values)
        self.missing += int(values.isna().sum())
        for v, n in values.value_counts(dropna=True).items():
            if n:  # a pandas categorical lists its unobserved categories with 0
                self.counts[v.item() if isinstance(v, np.generic) else v] += int(n)

    def finish(self) -> CategoricalCurrent:
        return CategoricalCurrent(counts=dict(self.counts), missing=self.missing, violations=self.violations)


class OtherAccumulator:
    """Missing values, type violations (datetime) and duplicate hashes (id) of other columns."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._hashes: list[npt.NDArray[np.uint64]] = []
        self._first: Any = None
        self._varies = False
        self.n = self.missing = self.violations = 0

    def add(self, values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> None:
        if not isinstance(values, pd.Series):
            values = values.to_pandas()
        present = values.dropna()
        self.missing += len(values) - len(present)
        self.n += len(present)
        if self._kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(present.dtype):
            parsed = pd.to_datetime(present.astype(str), errors="coerce", format="ISO8601")
            self.violations += int(parsed.isna().sum())
        if self._kind == "id":
            self._hashes.append(pd.util.hash_array(present.astype(str).to_numpy(dtype=object)))
        if len(present) and not self._varies:
            first = present.iloc[0] if self._first is None else self._first
            self._first = first
            self._varies = bool((present != first).any())

    def finish(self) -> OtherCurrent:
        duplicates = 0
        if self._hashes:
            h = np.concatenate(self._hashes)
            duplicates = int(h.size - np.unique(h).size)
        return OtherCurrent(
            n=self.n,
            missing=self.missing,
            violations=self.violations,
            duplicates=duplicates,
            n_distinct_at_most_one=not self._varies,
        )


class TextAccumulator(OtherAccumulator):
    """:class:`OtherAccumulator`'s aggregates of a text column, and its term counts."""

    def __init__(self) -> None:
        super().__init__("text")
        self._terms = TermCounter()

    def add(self, values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> None:
        self._terms.add(values)
        super().add(values)

    def finish(self) -> TextCurrent:
        base = super().finish()
        return TextCurrent(
            n=base.n, missing=base.missing, violations=base.violations, duplicates=base.duplicates,
            n_distinct_at_most_one=base.n_distinct_at_most_one, terms=dict(self._terms.counts),
        )  # fmt: skip


Accumulator = NumericAccumulator | CategoricalAccumulator | OtherAccumulator


def accumulator(ref: ColumnReference, *, cap: int | None) -> Accumulator:
    """The accumulator for ``ref``'s kind."""
    if ref.kind == "numeric":
        return NumericAccumulator(ref, cap=cap)
    if ref.kind in ("categorical", "boolean"):
        return CategoricalAccumulator(ref.kind)
    if ref.kind == "text":
        return TextAccumulator()
    return OtherAccumulator(ref.kind)
