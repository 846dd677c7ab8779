"""Reference chunks as one count matrix, and a drift statistic of all of them at once.

A learned band (:mod:`skloop.monitor._learned`) needs a column's drift statistic on
``chunks`` reference chunks. Each chunk is a multinomial count vector over the
reference's unique sketch points (numeric) or its categories and ``"__other__"``
(categorical, boolean, text), so the chunks form one ``chunks × cells`` matrix
(:class:`ChunkDraws`), and every statistic the monitor tests with is a handful of numpy
operations on it — cumulative sums along the cells for KS, Wasserstein and
Anderson–Darling, shares for the binned distances:

===============================  ================================================
method                           computed on all chunks as
===============================  ================================================
``ks``                           :func:`~skloop.monitor._stats.ks_binned`
``wasserstein``                  :func:`~skloop.monitor._stats.wasserstein_binned`
``anderson``                     :func:`~skloop.monitor._anderson.anderson_binned`
``psi``, ``jensenshannon``,      the functions of :mod:`skloop.monitor._stats` on the
``hellinger``, ``linf``,         plot bins (numeric) or the categories
``chisquare``
===============================  ================================================

each with the same arithmetic, step by step, as the per-chunk function on a window
known by counts (a chunk has no values between or beyond the points, so its
Wasserstein tails and Anderson–Darling gaps are closed forms), so a band equals the
per-chunk one to rounding (``tests/monitor/test_learned_batch.py`` checks 1e-12).
:func:`chunk_statistics` returns ``None`` for anything else, and the caller then falls
back to one statistic per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import distance

from skloop.monitor._anderson import anderson_sigma
from skloop.monitor._reference import OTHER_CATEGORY, ColumnReference
from skloop.monitor._stats import PSI_EPS, WASSERSTEIN_EPS
from skloop.monitor._types import Counts, Floats

__all__ = ["ChunkDraws", "chunk_statistics", "draw_chunks"]


@dataclass(frozen=True)
class ChunkDraws:
    """``chunks`` reference chunks of ``size`` rows as counts (one row a chunk).

    Attributes
    ----------
    size : int
        Rows of each chunk.
    counts : numpy.ndarray
        ``chunks × cells`` int64: numeric, per unique reference point (``points``);
        otherwise per category, then ``"__other__"`` when the reference has one.
    points : numpy.ndarray or None
        Numeric: the reference's unique points.
    slot : numpy.ndarray or None
        Numeric: each point's plot bin (``ref.bin_edges``), or ``None`` without bins.
    n_bins : int
        Numeric: the plot bins (``len(ref.bin_edges) - 1``).
    """

    size: int
    counts: Counts
    points: Floats | None = None
    slot: Counts | None = None
    n_bins: int = 0

    def plot_counts(self) -> Counts | None:
        """Numeric: each chunk's counts on the plot bins (``chunks × bins``)."""
        if self.slot is None:
            return None
        onehot = np.zeros((self.slot.size, self.n_bins))
        onehot[np.arange(self.slot.size), self.slot] = 1.0
        # integer counts below 2**53: the float product is exact
        return np.rint(self.counts.astype(np.float64) @ onehot).astype(np.int64)


def draw_chunks(ref: ColumnReference, size: int, chunks: int, rng: np.random.Generator) -> ChunkDraws:
    """``chunks`` multinomial chunks of ``size`` rows over ``ref``'s points or categories."""
    if ref.kind == "numeric":
        points, weights = np.unique(ref.points_array(), return_counts=True)
        edges = np.asarray(ref.bin_edges or (), dtype=np.float64)
        slot = None
        if edges.size >= 2:
            slot = np.clip(np.searchsorted(edges, points, side="right") - 1, 0, edges.size - 2).astype(np.int64)
        counts = rng.multinomial(size, weights / weights.sum(), size=chunks).astype(np.int64)
        return ChunkDraws(size=size, counts=counts, points=points, slot=slot, n_bins=max(edges.size - 1, 0))
    weights = np.asarray([*(ref.category_counts or ()), *([ref.other] if ref.other else [])], dtype=np.float64)
    counts = rng.multinomial(size, weights / weights.sum(), size=chunks).astype(np.int64)
    return ChunkDraws(size=size, counts=counts)


def chunk_statistics(ref: ColumnReference, draws: ChunkDraws, method: str) -> Floats | None:
    """``method``'s drift statistic of each chunk against ``ref``, or ``None`` if it has no batch form here.

    Parameters
    ----------
    ref : ColumnReference
        The reference the chunks were drawn from (:func:`draw_chunks`).
    draws : ChunkDraws
    method : str
        A drift test (:data:`~skloop.monitor._drift.DEFAULT_THRESHOLDS`'s keys).

    Returns
    -------
    numpy.ndarray or None
        One statistic per chunk, as the window test would give it on that chunk.
    """
    if ref.kind == "numeric":
        p = draws.points
        if p is None or p.size == 0 or draws.size < 1:
            return None
        if method == "ks":
            return _ks(ref, p, draws)
        if method == "wasserstein":
            return _wasserstein(ref, p, draws)
        if method == "anderson":
            return _anderson(ref, draws)
        plot = draws.plot_counts()
        r = np.asarray(ref.bin_counts or (), dtype=np.float64)
        if plot is None or plot.shape[1] != r.size:
            return None
        return binned_statistics(r, plot.astype(np.float64), method)
    cats = ref.categories or ()
    if ref.other and OTHER_CATEGORY in {c for c in cats if isinstance(c, str)}:
        return None  # a category named like the bucket: the per-chunk path decides how they merge
    r = np.asarray([*(ref.category_counts or ()), *([ref.other] if ref.other else [])], dtype=np.float64)
    if r.size != draws.counts.shape[1]:
        return None
    return binned_statistics(r, draws.counts.astype(np.float64), method)


# --- numeric: cumulative counts at the unique points ---------------------------------


def _cdfs(draws: ChunkDraws) -> tuple[Floats, Floats]:
    """Each chunk's CDF at the points, ``F(p)`` and ``F(p-)`` (as ``_stats._binned_cdfs``)."""
    le = np.cumsum(draws.counts, axis=1) / draws.size
    return le, le - draws.counts / draws.size


def _ks(ref: ColumnReference, p: Floats, draws: ChunkDraws) -> Floats:
    """``_stats.ks_binned`` of each chunk (``p``: the unique points)."""
    pts = ref.points_array()
    le, lt = _cdfs(draws)
    fr = np.searchsorted(pts, p, side="right") / pts.size
    fr_before = np.concatenate([[0.0], fr[:-1]])
    return np.asarray(np.maximum(np.max(np.abs(fr - le), axis=1), np.max(np.abs(fr_before - lt), axis=1)))


def _abs_linear_integral(d0: Floats, d1: Floats) -> Floats:
    """``_stats._abs_linear_integral``: the mean over t in [0, 1] of ``|d0 + (d1 - d0) t|``."""
    a, b = np.abs(d0), np.abs(d1)
    same = d0 * d1 >= 0
    total = np.where(a + b > 0, a + b, 1.0)
    return np.asarray(np.where(same, (a + b) / 2, (a * a + b * b) / (2 * total)))


def _tail(xs: tuple[float, float], fs: tuple[float, float], base: Floats | float) -> Floats | float:
    """``_stats._tail`` of a chunk, which has no values beyond the points: the current is ``base``."""
    if not xs[1] > xs[0]:
        return 0.0
    return _abs_linear_integral(np.asarray(fs[0] - base), np.asarray(fs[1] - base)) * (xs[1] - xs[0])


def _wasserstein(ref: ColumnReference, p: Floats, draws: ChunkDraws) -> Floats:
    """``_stats.wasserstein_binned`` of each chunk, with empty tails (``p``: the unique points)."""
    pts = ref.points_array()
    le, lt = _cdfs(draws)
    k = pts.size
    if not ref.exact:
        start = (np.searchsorted(pts, p, side="right") - 0.5) / k
        end = (np.searchsorted(pts, p, side="left") + 0.5) / k
        lo = float(p[0]) if ref.min is None else min(ref.min, float(p[0]))
        hi = float(p[-1]) if ref.max is None else max(ref.max, float(p[-1]))
    else:
        start = np.searchsorted(pts, p, side="right") / k
        end = np.concatenate([[0.0], start[:-1]])
        lo, hi = float(p[0]), float(p[-1])
    widths = np.diff(p)
    inner = np.sum(_abs_linear_integral(start[:-1] - le[:, :-1], end[1:] - lt[:, 1:]) * widths, axis=1)
    left = _tail((lo, float(p[0])), (0.0, float(end[0])), 0.0)
    right = _tail((float(p[-1]), hi), (float(start[-1]), 1.0), le[:, -1])
    w = inner + left + right
    norm = max(float(ref.std), WASSERSTEIN_EPS) if ref.std is not None else 1.0
    return np.asarray(w if ref.std is None else w / norm, dtype=np.float64)


def _anderson(ref: ColumnReference, draws: ChunkDraws) -> Floats:
    """``anderson_binned``: a chunk's values all sit at the points, so its gap cells are empty and dropped."""
    _, weight = np.unique(ref.points_array(), return_counts=True)
    out = np.zeros(draws.counts.shape[0])
    n_ref, n_cur = ref.count, draws.size
    sigma = anderson_sigma(n_ref, n_cur)
    if weight.size < 2 or n_ref < 1 or not np.isfinite(sigma):
        return out
    r = weight.astype(np.float64)
    r = r * (n_ref / r.sum())
    c = draws.counts.astype(np.float64)
    c = c * (n_cur / c.sum(axis=1, keepdims=True))
    n = float(n_ref + n_cur)
    ell = r + c
    b = np.cumsum(ell, axis=1) - ell / 2.0
    denom = b * (n - b) - n * ell / 4.0
    total = np.zeros(c.shape[0])
    for f, size in ((r, float(n_ref)), (c, float(n_cur))):
        m = np.cumsum(f, axis=-1) - f / 2.0
        total = total + np.sum(ell / n * (n * m - b * size) ** 2 / denom, axis=1) / size
    return np.asarray((total * (n - 1.0) / n - 1) / sigma, dtype=np.float64)


# --- binned: shares over the same bins ------------------------------------------------


def binned_statistics(r: Floats, c: Floats, method: str) -> Floats | None:
    """``_drift._binned`` of the reference counts ``r`` against each row of ``c`` (``None``: no batch form)."""
    if method not in ("psi", "jensenshannon", "hellinger", "linf", "chisquare"):
        return None
    out = np.zeros(c.shape[0])
    totals = c.sum(axis=1)
    live = totals != 0
    if r.sum() == 0 or not live.any():
        return out
    c = c[live]
    if method == "chisquare":
        out[live] = _chisquare(r, c)
        return out
    rs = r / r.sum()
    cs = c / c.sum(axis=1, keepdims=True)
    if method == "psi":
        rs = np.where(rs == 0, PSI_EPS, rs)
        cs = np.where(cs == 0, PSI_EPS, cs)
        out[live] = np.sum((cs - rs) * np.log(cs / rs), axis=1)
    elif method == "jensenshannon":
        out[live] = distance.jensenshannon(np.broadcast_to(rs, cs.shape), cs, axis=1)
    elif method == "hellinger":
        out[live] = np.sqrt(np.maximum(1.0 - np.sum(np.sqrt(rs * cs), axis=1), 0.0))
    elif rs.size:
        out[live] = np.max(np.abs(rs - cs), axis=1)
    return out


def _chisquare(r: Floats, c: Floats) -> Floats:
    """``_stats.chisquare_test``'s statistic per row of ``c``; bins empty on both sides drop out."""
    cols = r + c
    keep = cols > 0
    kept = keep.sum(axis=1)
    rows_r, rows_c = r.sum(), c.sum(axis=1)
    total = (rows_r + rows_c)[:, None]
    exp_r = rows_r * cols / total
    exp_c = rows_c[:, None] * cols / total
    yates = (kept == 2)[:, None]  # one degree of freedom: Yates' correction, as scipy

    def term(observed: Floats, expected: Floats) -> Floats:
        diff = expected - observed
        corrected = np.where(yates, observed + np.sign(diff) * np.minimum(0.5, np.abs(diff)), observed)
        with np.errstate(divide="ignore", invalid="ignore"):
            cell = (corrected - expected) ** 2 / expected
        return np.asarray(np.sum(np.where(keep, cell, 0.0), axis=1))

    stat = term(np.broadcast_to(r, c.shape), exp_r) + term(c, exp_c)
    return np.where((kept < 2) | (rows_r == 0) | (rows_c == 0), 0.0, stat)
