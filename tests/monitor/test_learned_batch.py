"""Learned bands computed for all chunks at once equal the per-chunk computation (and scipy)."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skloop.core import LearnedSpec
from skloop.monitor import _learned, reference_summary
from skloop.monitor._chunks import round_size
from skloop.monitor._drift import _statistic, _text_js, _text_js_batch
from skloop.monitor._learned import _compact, chunk_currents, draw_currents, drift_band
from skloop.monitor._learned_batch import binned_statistics, chunk_statistics, draw_chunks
from skloop.monitor._reference import (
    OTHER_CATEGORY,
    ColumnReference,
    categorical_reference,
    numeric_reference,
    text_reference,
)

NUMERIC = ("ks", "wasserstein", "anderson", "psi", "jensenshannon", "chisquare", "hellinger", "linf")
BINNED = ("psi", "jensenshannon", "chisquare", "hellinger", "linf")
SIZES = (1, 3, 40, 900, 20_000)


def _numeric_refs(seed: int) -> dict[str, ColumnReference]:
    rng = np.random.default_rng(seed)
    columns = {
        "small": rng.integers(0, 12, 300).astype(float),  # ties
        "large": rng.normal(0.0, 2.0, 5000),  # exact: compacted to a 1000-point sketch
        "heavy": np.round(rng.lognormal(1.0, 1.0, 20_000), 1),  # repeated sketch points
        "one": np.full(50, 7.0),  # one value
    }
    out = {f"exact-{k}": numeric_reference(k, "feature", v, 0, None) for k, v in columns.items()}
    out.update({f"sketch-{k}": numeric_reference(k, "feature", v, 0, 200) for k, v in columns.items() if k != "one"})
    assert not out["sketch-heavy"].exact and np.diff(out["sketch-heavy"].points_array()).min() == 0
    return out


def _categorical_refs(seed: int) -> dict[str, ColumnReference]:
    rng = np.random.default_rng(seed)
    few = Counter(rng.choice(["a", "b", "c", "d", "rare"], 2000, p=[0.4, 0.3, 0.2, 0.0985, 0.0015]).tolist())
    many = Counter(f"v{i}" for i in rng.zipf(1.3, 30_000) % 3000)  # beyond 1000 categories: an other bucket
    terms = Counter(f"t{i}" for i in rng.zipf(1.5, 20_000) % 5000)
    refs = {
        "few": categorical_reference("few", "categorical", "feature", few, 0),
        "many": categorical_reference("many", "categorical", "feature", many, 3),
        "boolean": categorical_reference("boolean", "boolean", "feature", {True: 970, False: 30}, 0),
        "text": text_reference("text", "feature", terms, 1000, 0, len(terms)),
    }
    assert refs["many"].other > 0 and refs["few"].other == 0
    return refs


def _per_chunk(ref: ColumnReference, method: str, size: int, seed: int) -> np.ndarray:
    currents = draw_currents(ref, size, 50, np.random.default_rng(seed))
    if ref.kind == "text":
        return np.asarray([_text_js(ref, cur) for cur in currents])
    return np.asarray([_statistic(ref, cur, method)[0] for cur in currents])


def _batched(ref: ColumnReference, method: str, size: int, seed: int) -> np.ndarray:
    draws = draw_chunks(ref, size, 50, np.random.default_rng(seed))
    values = _text_js_batch(ref, draws) if ref.kind == "text" else chunk_statistics(ref, draws, method)
    assert values is not None, f"{method} has a batch form"
    return values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numeric_chunk_statistics_equal_per_chunk(seed: int) -> None:
    for name, ref in _numeric_refs(seed).items():
        compact = _compact(ref)
        for method in NUMERIC:
            for size in SIZES:
                want = _per_chunk(compact, method, size, seed)
                got = _batched(compact, method, size, seed)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name} {method} {size}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_categorical_chunk_statistics_equal_per_chunk(seed: int) -> None:
    for name, ref in _categorical_refs(seed).items():
        for method in ("vocabulary",) if ref.kind == "text" else BINNED:
            for size in SIZES:
                want = _per_chunk(ref, method, size, seed)
                got = _batched(ref, method, size, seed)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name} {method} {size}")


def _bands(ref: ColumnReference, method: str, n: int) -> tuple[object, object]:
    """The band of a window of ``n`` rows with the batch form and with one statistic per chunk."""
    learned = LearnedSpec(k=3.0, chunks=50, seed=7)
    if ref.kind == "text":
        statistic, batch = _text_js, _text_js_batch
    else:
        statistic = lambda r, c: _statistic(r, c, method)[0]  # noqa: E731
        batch = lambda r, d: chunk_statistics(r, d, method)  # noqa: E731
    _learned._CACHE.clear()
    fast = drift_band(ref, method, n, learned, statistic, batch=batch)
    _learned._CACHE.clear()
    slow = drift_band(ref, method, n, learned, statistic)
    _learned._CACHE.clear()
    return fast, slow


def test_bands_equal_per_chunk_bands_with_rescaling() -> None:
    """Whole bands, chi-square and Anderson–Darling rescaled to the window's size included."""
    refs = {**_numeric_refs(5), **_categorical_refs(5)}
    for name, ref in refs.items():
        methods = NUMERIC if ref.kind == "numeric" else ("vocabulary",) if ref.kind == "text" else BINNED
        for method in methods:
            for n in (2, 60, 5000):
                fast, slow = _bands(ref, method, n)
                if slow is None:
                    assert fast is None, f"{name} {method} {n}"
                    continue
                assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12), f"{name} {method} {n}"


def test_batch_forms_against_scipy_on_an_exact_reference() -> None:
    """Chunks of an exact reference hold only reference values, so the binned KS, Wasserstein and
    Anderson–Darling are exact: scipy on the rows each chunk stands for gives the same numbers."""
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(5.0, 2.0, 400), 1)
    ref = reference_summary(pd.DataFrame({"x": values}), max_points=None)["x"]
    draws = draw_chunks(ref, 120, 8, np.random.default_rng(4))
    assert draws.points is not None
    ks = chunk_statistics(ref, draws, "ks")
    w = chunk_statistics(ref, draws, "wasserstein")
    ad = chunk_statistics(ref, draws, "anderson")
    assert ks is not None and w is not None and ad is not None
    for i, counts in enumerate(draws.counts):
        rows = np.repeat(draws.points, counts)
        assert ks[i] == pytest.approx(stats.ks_2samp(values, rows).statistic, rel=1e-12)
        assert w[i] == pytest.approx(stats.wasserstein_distance(values, rows) / values.std(), rel=1e-9)
        with warnings.catch_warnings():  # scipy warns when its p-value is capped; the statistic is not
            warnings.simplefilter("ignore")
            res = stats.anderson_ksamp([values, rows], variant="midrank")
        assert ad[i] == pytest.approx(res.statistic, rel=1e-9)


def test_binned_batch_against_hand_formulas() -> None:
    r = np.array([50.0, 30.0, 20.0, 0.0])
    c = np.array([[10.0, 10.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    rs, cs = r / r.sum(), c[0] / c[0].sum()
    psi = binned_statistics(r, c, "psi")
    assert psi is not None
    r_eps, c_eps = np.where(rs == 0, 1e-4, rs), np.where(cs == 0, 1e-4, cs)
    assert psi[0] == pytest.approx(np.sum((c_eps - r_eps) * np.log(c_eps / r_eps)), rel=1e-12)
    assert psi[1] == 0.0  # an empty chunk: no drift, as for an empty window
    chi = binned_statistics(r, c, "chisquare")
    assert chi is not None
    table = np.vstack([r, c[0]])
    assert chi[0] == pytest.approx(stats.chi2_contingency(table[:, table.sum(axis=0) > 0]).statistic, rel=1e-12)
    two = binned_statistics(np.array([90.0, 10.0]), np.array([[3.0, 4.0]]), "chisquare")  # Yates, as scipy
    assert two is not None
    assert two[0] == pytest.approx(stats.chi2_contingency([[90, 10], [3, 4]], correction=True).statistic, rel=1e-12)
    assert binned_statistics(r, c, "ks") is None  # no batch form: the caller goes per chunk


def test_no_batch_form_falls_back_per_chunk() -> None:
    """A statistic without a batch form, and a category named like the other bucket, go per chunk."""
    ref = _categorical_refs(0)["few"]
    learned = LearnedSpec(k=2.0, chunks=20, seed=1)
    calls: list[int] = []

    def share_of_a(r: ColumnReference, cur: object) -> float:
        calls.append(1)
        counts = cur.counts  # type: ignore[attr-defined]
        return counts.get("a", 0) / sum(counts.values())

    _learned._CACHE.clear()
    band = drift_band(ref, "share", 400, learned, share_of_a, batch=lambda r, d: None)
    assert band is not None and len(calls) == 20
    draws = draw_chunks(ref, round_size(round(400 * 2000 / 2400)), 20, np.random.default_rng(1))
    shares = draws.counts[:, 0] / draws.size
    assert band == pytest.approx((shares.mean() - 2 * shares.std(ddof=1), shares.mean() + 2 * shares.std(ddof=1)))
    counts = {OTHER_CATEGORY: 50, **{f"c{i}": 9 for i in range(1001)}}
    clash = categorical_reference("x", "categorical", "feature", counts, 0)
    assert clash.other > 0 and OTHER_CATEGORY in (clash.categories or ())
    assert chunk_statistics(clash, draw_chunks(clash, 50, 4, np.random.default_rng(0)), "jensenshannon") is None
    _learned._CACHE.clear()


def test_chunk_currents_match_the_counts() -> None:
    ref = _compact(_numeric_refs(0)["exact-large"])
    draws = draw_chunks(ref, 500, 5, np.random.default_rng(0))
    plots = draws.plot_counts()
    assert plots is not None and plots.shape == (5, len(ref.bin_edges or ()) - 1)
    assert (plots.sum(axis=1) == 500).all()
    for i, cur in enumerate(chunk_currents(ref, draws)):
        assert cur.n == 500 and cur.plot_counts is not None
        edges = np.asarray(ref.bin_edges)
        rows = np.repeat(draws.points, draws.counts[i])
        assert (cur.plot_counts == np.histogram(rows, bins=edges)[0]).all()  # the reference's bins, by numpy
