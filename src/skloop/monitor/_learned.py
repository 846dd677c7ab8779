"""Drift thresholds learned from the reference: ``threshold: learned``.

A fixed threshold treats every column alike: a column whose statistic is naturally
large at this window size (many rare categories, heavy tails, few rows) drifts in
every window, and a column whose statistic is naturally tiny hides a small real
shift. A learned threshold asks instead how large the statistic is *when nothing has
changed*: it draws ``chunks`` reference chunks of the window's size from the reference
(multinomial counts over its sketch points, or over its categories — chunks of rows
drawn with replacement from the reference distribution), computes the column's drift
statistic on each against the reference, exactly as for a window, and keeps the band
``mean ± k·std`` (NannyML's rule). The column drifts when its statistic is above the
band's upper end (a statistic *below* the band means closer to the reference than
usual, which is no drift).

A window of ``n`` rows and the reference of ``N`` rows are *both* samples: their
difference varies as ``1/n + 1/N``, while a chunk drawn from the reference and tested
against it varies as ``1/m`` only. So chunks hold the *effective* size
``m = n·N / (n + N)`` (the size behind the two-sample Kolmogorov–Smirnov law), which
gives the distances the spread a real unchanged window has; NannyML's chunks, cut
from the reference they are compared with, leave that out and come out too narrow
when the reference is not much larger than a window. The chi-square statistic, which
scales with the sizes, is rescaled from the chunk's sizes to the window's, and so is the
Anderson–Darling ``A²`` before it is standardised.

The chunks are drawn as one ``chunks × cells`` count matrix and the statistic is
computed for all of them at once where it has a batch form (every test of
:mod:`skloop.monitor._drift` and the text columns' Jensen–Shannon distance, see
:mod:`skloop.monitor._learned_batch`); any other statistic runs once per chunk on the
aggregates a window of that chunk would have (:func:`draw_currents`). Bands are cached
per column, test, chunk size (two significant digits) and settings, so a series of
windows of about one size draws them once; a reference's digest (the cache key over its
points) and its compacted sketch are kept per points array, so a long series of windows
hashes an exact reference of many rows once, not once per window.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable

import numpy as np

from skloop.core import LearnedSpec
from skloop.monitor._accumulate import CategoricalCurrent, NumericCurrent
from skloop.monitor._anderson import anderson_rescale
from skloop.monitor._chunks import Band, learned_band, round_size
from skloop.monitor._learned_batch import ChunkDraws, draw_chunks
from skloop.monitor._reference import MAX_POINTS, OTHER_CATEGORY, ColumnReference, numeric_reference
from skloop.monitor._types import Floats

__all__ = ["chunk_currents", "draw_currents", "drift_band"]

_CACHE: dict[tuple[object, ...], Band] = {}
_CACHE_SIZE = 4096
_DIGESTS: dict[int, tuple[weakref.ref[Floats], str]] = {}
_COMPACT: dict[tuple[object, ...], ColumnReference] = {}
_COMPACT_SIZE = 256

Statistic = Callable[[ColumnReference, NumericCurrent | CategoricalCurrent], float]
BatchStatistic = Callable[[ColumnReference, ChunkDraws], Floats | None]


def _digest(points: Floats) -> str:
    """sha256 of ``points``, computed once per read-only array (a reference's points never change)."""
    hit = _DIGESTS.get(id(points))
    if hit is not None and hit[0]() is points:
        return hit[1]
    digest = hashlib.sha256(np.ascontiguousarray(points).tobytes()).hexdigest()
    if not points.flags.writeable and points.size:
        if len(_DIGESTS) >= _CACHE_SIZE:
            _DIGESTS.clear()
        _DIGESTS[id(points)] = (weakref.ref(points), digest)
    return digest


def _key(ref: ColumnReference, method: str, size: int, learned: LearnedSpec) -> tuple[object, ...]:
    points = _digest(ref.points_array())
    return (ref.name, ref.kind, ref.count, points, ref.bin_edges, ref.categories, ref.category_counts, ref.other,
            method, size, learned.k, learned.chunks, learned.seed)  # fmt: skip


def _compact(ref: ColumnReference) -> ColumnReference:
    """``ref`` with at most :data:`MAX_POINTS` sketch points: an exact reference of many rows
    draws its chunks (and tests them) through a sketch, as a stored reference would."""
    if ref.kind != "numeric" or ref.points_array().size <= MAX_POINTS:
        return ref
    key = (_digest(ref.points_array()), ref.name, ref.role, ref.missing)
    if key not in _COMPACT:
        if len(_COMPACT) >= _COMPACT_SIZE:
            _COMPACT.clear()
        _COMPACT[key] = numeric_reference(ref.name, ref.role, ref.points_array(), ref.missing, MAX_POINTS)
    return _COMPACT[key]


def chunk_currents(ref: ColumnReference, draws: ChunkDraws) -> list[NumericCurrent | CategoricalCurrent]:
    """The chunks of ``draws`` as the aggregates windows of their rows would have (one per chunk)."""
    if ref.kind == "numeric":
        points = draws.points if draws.points is not None else np.empty(0)
        plots = draws.plot_counts()
        out: list[NumericCurrent | CategoricalCurrent] = []
        for i, counts in enumerate(draws.counts):
            present = np.flatnonzero(counts)
            out.append(NumericCurrent(
                n=draws.size, missing=0, violations=0, min=float(points[present[0]]),
                max=float(points[present[-1]]), out_of_range=0, values=None, le_counts=np.append(counts, 0),
                eq_counts=counts, tails=(np.empty(0), np.empty(0)), plot_counts=None if plots is None else plots[i],
            ))  # fmt: skip
        return out
    keys = [*(ref.categories or ()), *([OTHER_CATEGORY] if ref.other else [])]
    return [
        CategoricalCurrent(counts={k: int(n) for k, n in zip(keys, drawn, strict=True) if n}, missing=0, violations=0)
        for drawn in draws.counts
    ]


def draw_currents(
    ref: ColumnReference, size: int, chunks: int, rng: np.random.Generator
) -> list[NumericCurrent | CategoricalCurrent]:
    """``chunks`` reference chunks of ``size`` rows, as the aggregates windows of those rows would have."""
    return chunk_currents(ref, draw_chunks(ref, size, chunks, rng))


def drift_band(
    ref: ColumnReference,
    method: str,
    n: int,
    learned: LearnedSpec,
    statistic: Statistic,
    *,
    batch: BatchStatistic | None = None,
) -> Band | None:
    """The learned band of ``method``'s statistic for a window of ``n`` rows of ``ref``'s column.

    Parameters
    ----------
    ref : ColumnReference
        A numeric, categorical or boolean column's reference.
    method : str
        The test (the band is cached per test).
    n : int
        The window's non-missing values.
    learned : LearnedSpec
        ``k``, ``chunks`` and ``seed``.
    statistic : callable
        ``statistic(reference, current)``: the window's own test.
    batch : callable, optional
        ``batch(reference, draws)``: the same statistic of every chunk at once
        (:func:`~skloop.monitor._learned_batch.chunk_statistics`), or ``None`` when it
        has no batch form for them; then ``statistic`` runs once per chunk.

    Returns
    -------
    tuple of float or None
        ``(mean - k·std, mean + k·std)``, or ``None`` when the reference or the window is empty.
    """
    if n < 1 or ref.count < 1 or (ref.kind == "numeric" and ref.points_array().size == 0):
        return None
    size = round_size(max(1, round(n * ref.count / (n + ref.count))))
    key = (*_key(ref, method, size, learned), n if method in ("chisquare", "anderson") else None)
    if key not in _CACHE:
        rng = np.random.default_rng(learned.seed)
        compact = _compact(ref)
        draws = draw_chunks(compact, size, learned.chunks, rng)
        values = batch(compact, draws) if batch is not None else None
        if values is None:
            values = np.asarray([statistic(compact, cur) for cur in chunk_currents(compact, draws)], dtype=np.float64)
        if method == "chisquare":  # the statistic grows with n·N / (n + N): from the chunk's sizes to the window's
            values = values * (n * ref.count / (n + ref.count)) / (size * ref.count / (size + ref.count))
        elif method == "anderson":  # A² likewise, then standardised at the window's sizes
            values = anderson_rescale(values, compact.count, size, n)
        values = values[np.isfinite(values)]
        if values.size < 2:
            return None
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = learned_band(float(values.mean()), float(values.std(ddof=1)), learned.k)
    return _CACHE[key]
