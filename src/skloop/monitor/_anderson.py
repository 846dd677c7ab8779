"""The k-sample Anderson–Darling test (k = 2) on counts, exact or on a streamed window's cells.

:func:`anderson_test` is :func:`scipy.stats.anderson_ksamp` (``variant="midrank"``,
Scholz & Stephens 1987, eq. 7) on two sorted samples: the statistic is the
standardised ``T = (A²akN - (k - 1)) / σ``, and the p-value is scipy's, read off the
authors' table of critical values by a quadratic fit of ``log p`` and clipped to
``[0.001, 0.25]`` (:data:`~skloop.core.ANDERSON_P_RANGE`: scipy warns and returns the
bound outside it). The sums only need, per distinct pooled value, how many values of
each sample equal it, so :func:`anderson_counts` computes the test from counts on any
ordered grid, with real-valued weights.

That is what a streamed window needs (:func:`anderson_binned`): beyond the exact rows a
numeric column is known only by counts *at* the reference's sketch points and *between*
them. The grid is then the cells ``gap₀ < p₀ < gap₁ < p₁ < … < p_L-1 < gap_L``: every
current value strictly between two points is taken as tied with the others of its gap,
and a sketch point stands for ``count / k`` reference rows (its share of the sketch).
With mid-level quantile points and mid-ranks this grouping is unbiased to first order
(the reference's mid-rank CDF at a point and the current's at a gap both sit at the
level between), and what it loses is the order of values inside a cell, at most one
cell's mass (1/1000 of the reference) — the statistic of a grouped sample, slightly
below the exact one. The sizes in ``σ`` are the true row counts.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from skloop.core import ANDERSON_P_RANGE
from skloop.monitor._types import Counts, Floats

__all__ = ["anderson_binned", "anderson_counts", "anderson_pvalue", "anderson_rescale", "anderson_sigma",
           "anderson_test"]  # fmt: skip

# Scholz & Stephens (1987), table 2, as scipy: critical values of T at these levels
_B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
_SIG = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
_M = 1  # k - 1 for two samples
_CRITICAL = _B0 + _B1 / math.sqrt(_M) + _B2 / _M
_FIT = np.polyfit(_CRITICAL, np.log(_SIG), 2)


@functools.lru_cache(maxsize=64)
def _h_g(n: int) -> tuple[float, float]:
    """Scholz & Stephens' ``h = Σ_{i<N} 1/i`` and ``g = Σ_{i<N-1} Σ_{i<j<N} 1/((N-i) j)``: O(N), so cached."""
    hs_cs = np.cumsum(1.0 / np.arange(n - 1, 1, -1))
    return float(hs_cs[-1]) + 1.0, float(np.sum(hs_cs / np.arange(2, n)))


def anderson_sigma(n_ref: int, n_cur: int) -> float:
    """Standard deviation of ``A²akN`` under the null for samples of these sizes (scipy's formula)."""
    n = n_ref + n_cur
    if n < 4 or n_ref < 1 or n_cur < 1:
        return math.nan
    k = 2
    big_h = 1.0 / n_ref + 1.0 / n_cur
    h, g = _h_g(n)
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * big_h
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * big_h - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * big_h + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    nf = float(n)
    sigmasq = (a * nf**3 + b * nf**2 + c * nf + d) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0))
    return math.sqrt(sigmasq) if sigmasq > 0 else math.nan


def anderson_pvalue(t: float) -> float:
    """scipy's p-value of the standardised statistic ``t``, clipped to ``[0.001, 0.25]`` without a warning."""
    lo, hi = ANDERSON_P_RANGE
    if not math.isfinite(t):
        return hi if t < 0 else lo
    if t < _CRITICAL.min():
        return hi
    if t > _CRITICAL.max():
        return lo
    return float(math.exp(np.polyval(_FIT, t)))


def _a2(ref_w: Floats, cur_w: Floats, n_ref: float, n_cur: float) -> float:
    """``A²akN`` (mid-ranks) from both samples' counts on an ordered grid, each summing to its size."""
    n = n_ref + n_cur
    ell = ref_w + cur_w
    b = np.cumsum(ell) - ell / 2.0
    denom = b * (n - b) - n * ell / 4.0
    total = 0.0
    for f, size in ((ref_w, n_ref), (cur_w, n_cur)):
        m = np.cumsum(f) - f / 2.0
        total += float(np.sum(ell / n * (n * m - b * size) ** 2 / denom)) / size
    return total * (n - 1.0) / n


def anderson_counts(
    ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, n_ref: int, n_cur: int
) -> tuple[float, float]:
    """Anderson–Darling statistic ``T`` and p-value from counts on one ordered grid.

    Parameters
    ----------
    ref_counts, cur_counts : array-like
        Per grid cell (in increasing order of value), how many values of each sample
        it holds; real weights allowed (a sketch point's share). Each side is scaled to
        its size.
    n_ref, n_cur : int
        The samples' true sizes (used for ``σ`` and the scaling).

    Returns
    -------
    (statistic, p_value) : tuple of float
        ``(0.0, 1.0)`` when a side is empty or the pooled values are all one.
    """
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    if n_ref < 1 or n_cur < 1 or r.sum() <= 0 or c.sum() <= 0 or r.size < 2:
        return 0.0, 1.0
    r = r * (n_ref / r.sum())
    c = c * (n_cur / c.sum())
    sigma = anderson_sigma(int(n_ref), int(n_cur))
    if not math.isfinite(sigma):
        return 0.0, 1.0
    t = (_a2(r, c, float(n_ref), float(n_cur)) - _M) / sigma
    return float(t), anderson_pvalue(t)


def anderson_test(ref: Floats, cur: Floats) -> tuple[float, float]:
    """:func:`scipy.stats.anderson_ksamp` ``([ref, cur], variant="midrank")`` of two sorted samples."""
    grid = np.unique(np.concatenate([ref, cur]))
    counts = [np.searchsorted(s, grid, side="right") - np.searchsorted(s, grid, side="left") for s in (ref, cur)]
    return anderson_counts(counts[0], counts[1], ref.size, cur.size)


def anderson_binned(points: Floats, le_counts: Counts, eq_counts: Counts, n_ref: int) -> tuple[float, float]:
    """The test of a reference sketch (or its whole sample) against a window known by counts.

    ``points`` are the reference's sorted points (repeats allowed: a repeated sketch
    point carries more weight); ``le_counts`` and ``eq_counts`` are the window's counts
    on the *unique* points as :class:`~skloop.monitor.NumericCurrent` keeps them
    (``le_counts[i]``: values in ``(p[i-1], p[i]]``, the last one above ``p[-1]``;
    ``eq_counts[i]``: values equal to ``p[i]``). See the module docstring for the cells.
    """
    unique, weight = np.unique(points, return_counts=True)
    between = np.asarray(le_counts, dtype=np.float64).copy()
    between[:-1] -= eq_counts
    n_cells = 2 * unique.size + 1
    ref_cells = np.zeros(n_cells)
    cur_cells = np.zeros(n_cells)
    ref_cells[1::2] = weight
    cur_cells[1::2] = eq_counts
    cur_cells[0::2] = between
    return anderson_counts(ref_cells, cur_cells, n_ref, round(float(cur_cells.sum())))


def anderson_rescale(t: Floats, n_ref: int, size: int, n: int) -> Floats:
    """``T`` of reference chunks of ``size`` rows, as a window of ``n`` rows would have it.

    A chunk drawn from the reference differs from it with variance ``1/size`` only, a
    window with ``1/n + 1/n_ref``; ``A²`` grows with ``size·n_ref / (size + n_ref)``, so
    it is rescaled as the chi-square statistic is (:mod:`skloop.monitor._learned`), then
    standardised with the window's ``σ``.
    """
    eff = n * n_ref / (n + n_ref)
    ratio = eff / (size * n_ref / (size + n_ref))
    a2 = t * anderson_sigma(n_ref, size) + _M
    return np.asarray((a2 * ratio - _M) / anderson_sigma(n_ref, n), dtype=np.float64)
