"""Two-sample drift statistics on numpy arrays and counts.

Every function here is pure and vectorised: the sample functions take *sorted* float
arrays (so a sorted reference stored once is reused for every window), the binned ones
take counts on shared bins. They agree with scipy on the same data:

- :func:`ks_test` with :func:`scipy.stats.ks_2samp` (statistic exactly; p-value exactly
  when both samples are given in full and have at most 10,000 values, as scipy's
  ``method="auto"`` then computes the exact distribution; otherwise scipy's asymptotic
  ``kstwo.sf(D, round(n*m/(n+m)))``, which is what scipy uses above 10,000 too);
- :func:`wasserstein` with :func:`scipy.stats.wasserstein_distance`;
- :func:`chisquare_test` with :func:`scipy.stats.chi2_contingency` on the 2 x k table
  (Yates' correction at one degree of freedom, as scipy);
- :func:`jensenshannon` with :func:`scipy.spatial.distance.jensenshannon` (natural log,
  so the distance lies in ``[0, sqrt(ln 2)] ~ [0, 0.83]``, as in Evidently);
- :func:`hellinger` and :func:`linf` with their formulas on the shares (Evidently's
  conventions: ``sqrt(1 - Σ sqrt(p q))`` in ``[0, 1]``, and ``max |p - q|``).

The Anderson–Darling test is in :mod:`skloop.monitor._anderson`.

The ``*_binned`` variants compute KS and Wasserstein when the current sample is known
only through counts between the reference's sorted points (a streamed window).
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import distance

from skloop.monitor._types import Counts, Floats

__all__ = [
    "PSI_EPS",
    "WASSERSTEIN_EPS",
    "chisquare_test",
    "hellinger",
    "jensenshannon",
    "ks_binned",
    "ks_pvalue",
    "ks_statistic",
    "ks_test",
    "linf",
    "psi",
    "wasserstein",
    "wasserstein_binned",
]

PSI_EPS = 1e-4
"""Share given to empty bins in PSI (as Evidently), so that ``ln`` stays finite."""
WASSERSTEIN_EPS = 1e-3
"""Smallest reference standard deviation used to normalise Wasserstein (as Evidently)."""
_EXACT_KS_MAX = 10_000  # scipy's MAX_AUTO_N


def _ecdf(sorted_sample: Floats, at: Floats) -> Floats:
    return np.searchsorted(sorted_sample, at, side="right") / sorted_sample.size


def ks_statistic(ref: Floats, cur: Floats) -> float:
    """Two-sided KS statistic ``sup |F_ref - F_cur|`` of two sorted samples."""
    both = np.concatenate([ref, cur])
    return float(np.max(np.abs(_ecdf(ref, both) - _ecdf(cur, both))))


def ks_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    """Asymptotic two-sided KS p-value, as :func:`scipy.stats.ks_2samp` computes it above 10,000."""
    en = n_ref * n_cur / (n_ref + n_cur)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_test(ref: Floats, cur: Floats, *, n_ref: int | None = None) -> tuple[float, float]:
    """KS statistic and p-value of two sorted samples.

    Parameters
    ----------
    ref, cur : numpy.ndarray
        Sorted finite values. ``ref`` may be a quantile sketch of a larger sample.
    n_ref : int, optional
        Size of the sample ``ref`` stands for, when it is a sketch (used for the
        p-value); default ``ref.size`` (``ref`` is the sample itself).

    Returns
    -------
    (statistic, p_value) : tuple of float
    """
    exact = n_ref is None or n_ref == ref.size
    n = ref.size if n_ref is None else n_ref
    if exact and max(n, cur.size) <= _EXACT_KS_MAX:
        with warnings.catch_warnings():  # scipy warns if it falls back to the asymptotic method
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ks_2samp(ref, cur, method="auto")
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(ref, cur)
    return d, ks_pvalue(d, n, cur.size)


def _binned_cdfs(points: Floats, le_counts: Counts, eq_counts: Counts, n_cur: int) -> tuple[Floats, Floats, Floats]:
    """Unique reference points, and the current CDF at them: ``F(p)`` and ``F(p-)``."""
    le = np.cumsum(le_counts[:-1]) / n_cur
    lt = le - eq_counts / n_cur
    return np.unique(points), le, lt


def ks_binned(ref: Floats, le_counts: Counts, eq_counts: Counts, n_cur: int) -> float:
    """KS statistic of a sorted reference against a current sample known by counts.

    ``le_counts[i]`` counts current values in ``(p[i-1], p[i]]`` for the unique
    reference points ``p`` (the first from minus infinity, the extra last one above
    ``p[-1]``); ``eq_counts[i]`` those equal to ``p[i]``. Since the reference CDF is
    constant between its points and the current CDF is monotone, the supremum is at a
    point or just below one, so this is the exact statistic.
    """
    p, le, lt = _binned_cdfs(ref, le_counts, eq_counts, n_cur)
    fr = _ecdf(ref, p)
    fr_before = np.concatenate([[0.0], fr[:-1]])  # reference CDF just below each point
    return float(max(np.max(np.abs(fr - le)), np.max(np.abs(fr_before - lt))))


def _norm(ref_std: float) -> float:
    return max(float(ref_std), WASSERSTEIN_EPS)


def wasserstein(ref: Floats, cur: Floats, *, ref_std: float | None = None) -> float:
    """First Wasserstein distance of two sorted samples, divided by ``ref_std`` if given.

    The normalisation (by the reference standard deviation, ``ddof=0``, at least
    :data:`WASSERSTEIN_EPS`) follows Evidently, so its default threshold 0.1 means
    "the distributions moved by a tenth of a standard deviation".
    """
    both = np.sort(np.concatenate([ref, cur]))
    deltas = np.diff(both)
    at = both[:-1]
    w = float(np.sum(np.abs(_ecdf(ref, at) - _ecdf(cur, at)) * deltas))
    return w if ref_std is None else w / _norm(ref_std)


def _abs_linear_integral(d0: Floats, d1: Floats) -> Floats:
    """Mean over t in [0, 1] of ``|d0 + (d1 - d0) t|``."""
    a, b = np.abs(d0), np.abs(d1)
    same = d0 * d1 >= 0
    total = np.where(a + b > 0, a + b, 1.0)
    return np.where(same, (a + b) / 2, (a * a + b * b) / (2 * total))


def wasserstein_binned(
    ref: Floats,
    le_counts: Counts,
    eq_counts: Counts,
    n_cur: int,
    cur_min: float,
    cur_max: float,
    *,
    ref_std: float | None = None,
    sketch: bool = False,
    ref_min: float | None = None,
    ref_max: float | None = None,
    tails: tuple[Floats, Floats] | None = None,
) -> float:
    """Wasserstein distance when the current sample is known by counts (see :func:`ks_binned`).

    Between two reference points the current CDF is taken as linear between its known
    values. The reference CDF is the step function of ``ref`` when ``ref`` is the
    whole sample; when it is a quantile sketch (``sketch=True``, points at the mid-levels
    ``(i + 0.5) / k``) it is linear through those levels, with atoms where points repeat,
    and reaches 0 and 1 at ``ref_min`` and ``ref_max``. Either way the error is at most
    the width of a reference interval times the mass in it. Outside the reference
    points the current values themselves (``tails``: sorted values below the first
    point, and above the last) make the tails exact; without them the current CDF is
    taken as linear out to ``cur_min`` and ``cur_max``.
    """
    p, le, lt = _binned_cdfs(ref, le_counts, eq_counts, n_cur)
    k = ref.size
    if sketch:
        start = (np.searchsorted(ref, p, side="right") - 0.5) / k  # at each point
        end = (np.searchsorted(ref, p, side="left") + 0.5) / k  # just below each point
        lo = p[0] if ref_min is None else min(ref_min, p[0])
        hi = p[-1] if ref_max is None else max(ref_max, p[-1])
    else:
        start = _ecdf(ref, p)
        end = np.concatenate([[0.0], start[:-1]])
        lo, hi = p[0], p[-1]
    widths = np.diff(p)
    inner = float(np.sum(_abs_linear_integral(start[:-1] - le[:-1], end[1:] - lt[1:]) * widths))
    if tails is None:
        left = abs(end[0] / 2 * (p[0] - lo) - lt[0] / 2 * max(p[0] - cur_min, 0.0))
        right = abs((1.0 - start[-1]) / 2 * (hi - p[-1]) - (1.0 - le[-1]) / 2 * max(cur_max - p[-1], 0.0))
    else:
        below, above = tails
        left = _tail(below, [lo, p[0]], [0.0, end[0]], 0.0, n_cur)
        right = _tail(above, [p[-1], hi], [start[-1], 1.0], le[-1], n_cur)
    w = inner + float(left) + float(right)
    return w if ref_std is None else w / _norm(ref_std)


def _tail(values: Floats, xs: list[float], fs: list[float], base: float, n_cur: int) -> float:
    """Integral of |reference - current| over a tail: the reference linear through ``(xs, fs)``
    (0 before, 1 after), the current a step function ``base + #(values <= x) / n_cur``."""
    grid = np.unique(np.concatenate([values, xs]))
    if grid.size < 2:
        return 0.0
    r = np.interp(grid, xs, fs, left=0.0, right=1.0)
    c = base + np.searchsorted(values, grid, side="right") / n_cur
    return float(np.sum(_abs_linear_integral(r[:-1] - c[:-1], r[1:] - c[:-1]) * np.diff(grid)))


def _shares(counts: npt.ArrayLike) -> Floats:
    shares = np.asarray(counts, dtype="float64")
    total = shares.sum()
    return shares / total if total > 0 else shares


def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, *, eps: float = PSI_EPS) -> float:
    """Population Stability Index ``sum((c - r) * ln(c / r))`` over shares of the same bins.

    Empty bins get the share ``eps`` on either side (Evidently's rule).
    """
    r = _shares(ref_counts)
    c = _shares(cur_counts)
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Jensen–Shannon distance (natural log) of two count vectors over the same bins."""
    r = _shares(ref_counts)
    c = _shares(cur_counts)
    if r.sum() == 0 or c.sum() == 0:
        return 0.0
    return float(distance.jensenshannon(r, c))


def hellinger(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Hellinger distance ``sqrt(1 - Σ sqrt(p q))`` of two count vectors over the same bins.

    The same number as Evidently's ``sqrt(Σ (sqrt p - sqrt q)²) / sqrt 2`` (expand the
    square: ``Σ p = Σ q = 1``): 0 for equal shares, 1 for disjoint ones.

    Examples
    --------
    >>> round(hellinger([1, 1], [1, 0]), 4)  # sqrt(1 - sqrt(0.5))
    0.5412
    """
    r = _shares(ref_counts)
    c = _shares(cur_counts)
    if r.sum() == 0 or c.sum() == 0:
        return 0.0
    return float(np.sqrt(max(1.0 - float(np.sum(np.sqrt(r * c))), 0.0)))


def linf(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """L-infinity distance ``max |p - q|`` of the shares of two count vectors over the same bins.

    Examples
    --------
    >>> linf([3, 1], [1, 1])
    0.25
    """
    r = _shares(ref_counts)
    c = _shares(cur_counts)
    if r.sum() == 0 or c.sum() == 0 or r.size == 0:
        return 0.0
    return float(np.max(np.abs(r - c)))


def chisquare_test(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table of counts (as ``chi2_contingency``).

    Bins empty on both sides are dropped. With fewer than two non-empty bins the
    samples cannot differ: statistic 0, p-value 1.
    """
    table = np.vstack([np.asarray(ref_counts, dtype="float64"), np.asarray(cur_counts, dtype="float64")])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or (rows == 0).any():
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    dof = table.shape[1] - 1
    observed = table
    if dof == 1:  # Yates' continuity correction, as scipy
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return stat, float(stats.chi2.sf(stat, dof))
