"""Champion vs challenger statistics against hand computations (no statsmodels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from skloop.core import DataError
from skloop.monitor import ModelComparison, compare_models
from skloop.monitor._compare_models import delong_test, mcnemar_test


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    noise_a, noise_b = rng.normal(size=300), rng.normal(size=300)
    score_a = 1 / (1 + np.exp(-(0.8 * (2 * y - 1) + 1.2 * noise_a)))
    score_b = 1 / (1 + np.exp(-(1.4 * (2 * y - 1) + 1.0 * noise_b)))
    return y, score_a, score_b


def test_mcnemar_counts_and_exact_tail_by_hand() -> None:
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1], dtype=bool)  # champion right?
    b = np.array([1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0], dtype=bool)  # challenger right?
    diff, p, se, detail = mcnemar_test(a, b)
    n_b, n_c = 2, 4  # (a and not b), (b and not a), counted by eye
    assert (detail["b"], detail["c"]) == (n_b, n_c)
    assert diff == pytest.approx((n_c - n_b) / 12)
    tail = sum(math.comb(n_b + n_c, k) for k in range(n_c, n_b + n_c + 1)) / 2 ** (n_b + n_c)
    assert p == pytest.approx(tail)
    assert detail["chi2"] == pytest.approx((n_b - n_c) ** 2 / (n_b + n_c))
    assert se == pytest.approx(math.sqrt((n_b + n_c) / 12 - ((n_c - n_b) / 12) ** 2) / math.sqrt(12))
    # with a margin: the normal test of the paired difference
    _, p_margin, _, _ = mcnemar_test(a, b, margin=0.05)
    assert p_margin == pytest.approx(1 - stats.norm.cdf((diff - 0.05) / se))


def test_delong_matches_auc_and_the_structural_components(binary) -> None:  # type: ignore[no-untyped-def]
    y, sa, sb = binary
    sa = np.round(sa, 2)  # ties, which count one half
    auc_a, auc_b, diff, se, p = delong_test(y, sa, sb)
    assert auc_a == pytest.approx(roc_auc_score(y, sa))
    assert auc_b == pytest.approx(roc_auc_score(y, sb))
    pos, neg = y == 1, y == 0

    def psi(x: np.ndarray, z: np.ndarray) -> np.ndarray:  # O(m n) by hand
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    v10 = np.array([psi(s[pos], s[neg]).mean(axis=1) for s in (sa, sb)])  # per positive
    v01 = np.array([psi(s[pos], s[neg]).mean(axis=0) for s in (sa, sb)])  # per negative
    S = np.cov(v10) / pos.sum() + np.cov(v01) / neg.sum()
    var = S[0, 0] + S[1, 1] - 2 * S[0, 1]
    assert se == pytest.approx(math.sqrt(var))
    assert p == pytest.approx(stats.norm.sf(diff / math.sqrt(var)))


def test_paired_bootstrap_uses_the_same_resamples_for_both(binary) -> None:  # type: ignore[no-untyped-def]
    y, sa, sb = binary
    pred_a, pred_b = (sa > 0.5).astype(int), (sb > 0.5).astype(int)
    result = compare_models(y, pred_a, pred_b, metric="f1", method="bootstrap", n_boot=200, seed=3, margin=0.01)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(y), size=(200, len(y)))
    d = np.array([f1_score(y[i], pred_b[i]) - f1_score(y[i], pred_a[i]) for i in idx])
    assert result.difference == pytest.approx(f1_score(y, pred_b) - f1_score(y, pred_a))
    assert result.p_value == pytest.approx(np.mean(d <= 0.01))
    assert result.lower == pytest.approx(np.quantile(d, 0.05))
    assert result.upper == pytest.approx(np.quantile(d, 0.95))
    assert result.method == "bootstrap" and result.detail["n_boot"] == 200


def test_losses_improve_downwards() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    good, bad = y + rng.normal(scale=0.1, size=200), y + rng.normal(scale=1.0, size=200)
    result = compare_models(y, bad, good, metric="rmse", task="regression", n_boot=300)
    assert not result.greater_is_better
    rmse = lambda p: math.sqrt(np.mean((y - p) ** 2))  # noqa: E731
    assert result.difference == pytest.approx(rmse(bad) - rmse(good))
    assert result.difference > 0 and result.better
    assert not compare_models(y, good, bad, metric="rmse", task="regression", n_boot=300).better


def test_auto_picks_the_test_that_fits_the_metric(binary) -> None:  # type: ignore[no-untyped-def]
    y, sa, sb = binary
    proba = lambda s: np.column_stack([1 - s, s])  # noqa: E731
    auc = compare_models(y, (sa > 0.5).astype(int), (sb > 0.5).astype(int), champion_proba=proba(sa),
                         challenger_proba=proba(sb))  # fmt: skip
    assert (auc.metric, auc.method) == ("roc_auc", "delong")
    assert auc.champion == pytest.approx(roc_auc_score(y, sa)) and auc.better
    acc = compare_models(y, (sa > 0.5).astype(int), (sb > 0.5).astype(int))
    assert (acc.metric, acc.method) == ("accuracy", "mcnemar")
    assert acc.challenger == pytest.approx(accuracy_score(y, sb > 0.5))
    assert ModelComparison.from_dict(acc.to_dict()) == acc
    assert "challenger accuracy" in acc.summary()


def test_a_worse_or_equal_challenger_is_not_better(binary) -> None:  # type: ignore[no-untyped-def]
    y, sa, sb = binary
    proba = lambda s: np.column_stack([1 - s, s])  # noqa: E731
    hard = lambda s: (s > 0.5).astype(int)  # noqa: E731
    worse = compare_models(y, hard(sb), hard(sa), champion_proba=proba(sb), challenger_proba=proba(sa))
    assert worse.difference < 0 and not worse.better
    same = compare_models(y, hard(sa), hard(sa), champion_proba=proba(sa), challenger_proba=proba(sa))
    assert same.difference == 0 and not same.better


def test_methods_that_do_not_fit_are_refused(binary) -> None:  # type: ignore[no-untyped-def]
    y, sa, sb = binary
    with pytest.raises(DataError, match="McNemar"):
        compare_models(y, sa > 0.5, sb > 0.5, metric="f1", method="mcnemar")
    with pytest.raises(DataError, match="probabilities"):
        compare_models(y, sa > 0.5, sb > 0.5, metric="roc_auc")
    with pytest.raises(DataError, match="same rows"):
        compare_models(y, sa[:10] > 0.5, sb > 0.5)


def test_binary_comparisons_are_about_the_positive_class() -> None:
    y = np.array(["leave"] * 20 + ["stay"] * 80)
    champion = np.array(["stay"] * 100)  # never finds a leaver
    challenger = np.array(["leave"] * 15 + ["stay"] * 85)
    kept = compare_models(y, champion, challenger, metric="recall", positive="leave", method="bootstrap", n_boot=200)
    assert kept.champion == 0.0 and kept.challenger == pytest.approx(0.75) and kept.better
    assert compare_models(y, champion, challenger, metric="recall", n_boot=0).champion == 1.0  # of "stay"
