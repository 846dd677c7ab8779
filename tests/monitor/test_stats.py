"""The drift statistics agree with scipy, and PSI with a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from skloop.monitor import _stats


def _counts(points: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``le`` and ``eq`` counts of ``cur`` between the unique ``points`` (as the accumulator bins)."""
    p = np.unique(points)
    idx = np.searchsorted(p, cur, side="left")
    le = np.bincount(idx, minlength=p.size + 1)
    inside = idx < p.size
    eq = np.bincount(idx[inside][p[idx[inside]] == cur[inside]], minlength=p.size)
    return le, eq


@pytest.mark.parametrize(("n_ref", "n_cur", "shift"), [(40, 60, 0.0), (800, 300, 0.3), (12_000, 11_000, 0.02)])
def test_ks_matches_scipy(n_ref: int, n_cur: int, shift: float) -> None:
    rng = np.random.default_rng(n_ref)
    ref, cur = np.sort(rng.normal(size=n_ref)), np.sort(rng.normal(shift, size=n_cur))
    expected = stats.ks_2samp(ref, cur)
    d, p = _stats.ks_test(ref, cur)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert _stats.ks_statistic(ref, cur) == pytest.approx(expected.statistic, abs=1e-12)


def test_ks_on_discrete_values_matches_scipy_and_binned_is_exact() -> None:
    rng = np.random.default_rng(3)
    ref, cur = np.sort(rng.poisson(2.0, 5000).astype(float)), np.sort(rng.poisson(2.2, 4000).astype(float))
    expected = stats.ks_2samp(ref, cur)
    assert _stats.ks_test(ref, cur)[0] == pytest.approx(expected.statistic, abs=1e-12)
    le, eq = _counts(ref, cur)
    assert _stats.ks_binned(ref, le, eq, cur.size) == pytest.approx(expected.statistic, abs=1e-12)


def test_binned_ks_is_exact_against_the_reference_points() -> None:
    rng = np.random.default_rng(4)
    ref, cur = np.sort(rng.normal(size=3000)), np.sort(rng.normal(0.1, 1.2, size=7000))
    le, eq = _counts(ref, cur)
    assert _stats.ks_binned(ref, le, eq, cur.size) == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_ks_against_a_sketch_is_close_and_uses_the_true_size_for_the_p_value() -> None:
    rng = np.random.default_rng(5)
    full = np.sort(rng.normal(size=50_000))
    sketch = np.quantile(full, (np.arange(1000) + 0.5) / 1000, method="inverted_cdf")
    cur = np.sort(rng.normal(0.05, size=20_000))
    expected = stats.ks_2samp(full, cur)
    d, p = _stats.ks_test(sketch, cur, n_ref=full.size)
    assert d == pytest.approx(expected.statistic, abs=1.5e-3)
    assert p == pytest.approx(_stats.ks_pvalue(d, full.size, cur.size))


def test_wasserstein_matches_scipy_and_is_normalised_by_the_reference_std() -> None:
    rng = np.random.default_rng(6)
    ref, cur = np.sort(rng.normal(size=700)), np.sort(rng.normal(0.4, 2.0, size=900))
    expected = stats.wasserstein_distance(ref, cur)
    assert _stats.wasserstein(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert _stats.wasserstein(ref, cur, ref_std=ref.std()) == pytest.approx(expected / ref.std(), rel=1e-12)
    # a constant reference normalises by the floor, not by zero
    assert _stats.wasserstein(np.zeros(5), np.ones(5), ref_std=0.0) == pytest.approx(1.0 / _stats.WASSERSTEIN_EPS)


@pytest.mark.parametrize("discrete", [False, True])
def test_binned_wasserstein_is_close_to_the_exact_one(discrete: bool) -> None:
    rng = np.random.default_rng(7)
    if discrete:
        ref, cur = rng.poisson(3.0, 4000).astype(float), rng.poisson(3.5, 6000).astype(float)
    else:
        ref, cur = rng.lognormal(0, 0.5, 4000), rng.lognormal(0.1, 0.6, 6000)
    ref, cur = np.sort(ref), np.sort(cur)
    sketch = np.quantile(ref, (np.arange(1000) + 0.5) / 1000, method="inverted_cdf")
    le, eq = _counts(sketch, cur)
    tails = (cur[cur < sketch[0]], cur[cur > sketch[-1]])
    got = _stats.wasserstein_binned(
        sketch, le, eq, cur.size, cur[0], cur[-1], sketch=True, ref_min=ref[0], ref_max=ref[-1], tails=tails
    )
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur), rel=0.01)
    # against the whole reference (a step CDF) the same way
    le, eq = _counts(ref, cur)
    tails = (cur[cur < ref[0]], cur[cur > ref[-1]])
    got = _stats.wasserstein_binned(ref, le, eq, cur.size, cur[0], cur[-1], tails=tails)
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur), rel=0.01)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([30, 70], [45, 55]), ([10, 20, 30, 40, 5], [12, 25, 20, 60, 0]), ([0, 5, 9], [3, 0, 8]), ([1, 0], [2, 0])],
)
def test_chisquare_matches_chi2_contingency(ref: list[int], cur: list[int]) -> None:
    stat, p = _stats.chisquare_test(np.array(ref), np.array(cur))
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        assert (stat, p) == (0.0, 1.0)
        return
    expected = stats.chi2_contingency(table)
    assert stat == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-12)


def test_jensenshannon_matches_scipy() -> None:
    ref, cur = np.array([40, 30, 20, 10, 0]), np.array([20, 20, 20, 30, 10])
    expected = distance.jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert _stats.jensenshannon(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert _stats.jensenshannon(ref, ref * 3) == pytest.approx(0.0, abs=1e-7)
    assert _stats.jensenshannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(math.sqrt(math.log(2)))


def test_psi_matches_a_hand_computation() -> None:
    # shares 0.5/0.3/0.2 against 0.3/0.3/0.4:
    # (0.3-0.5)*ln(0.3/0.5) + 0 + (0.4-0.2)*ln(0.4/0.2) = 0.2*ln(5/3) + 0.2*ln(2)
    assert _stats.psi(np.array([50, 30, 20]), np.array([30, 30, 40])) == pytest.approx(
        0.2 * math.log(5 / 3) + 0.2 * math.log(2), rel=1e-12
    )
    # an empty bin counts as 1e-4 (so PSI stays finite)
    got = _stats.psi(np.array([50, 50, 0]), np.array([40, 40, 20]))
    hand = 2 * (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    assert got == pytest.approx(hand, rel=1e-12)
    assert _stats.psi(np.array([5, 5]), np.array([50, 50])) == 0.0
