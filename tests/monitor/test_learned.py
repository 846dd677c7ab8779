"""Thresholds learned from the reference: ``threshold: learned`` (mean ± k·std over reference chunks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skloop.core import MonitoringSpec, SpecError, parse_spec
from skloop.monitor import CBPE, compare_data, monitor_frame
from skloop.monitor._chunks import round_size

LEARNED = {"drift": {"threshold": "learned"}}


def test_band_by_hand_on_a_small_reference() -> None:
    """Four reference values, a window of 4 rows, 6 chunks: the band is the mean ± 2·std of the KS
    statistics (scipy's) of six chunks drawn with the learned seed, each of the effective size of
    two samples of 4 rows, 4·4 / (4 + 4) = 2."""
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    cur = pd.DataFrame({"x": [1.0, 1.0, 2.0, 4.0]})
    config = MonitoringSpec.model_validate({**LEARNED, "learned": {"k": 2, "chunks": 6, "seed": 11}})
    f = compare_data(ref, cur, config=config)["x"]
    draws = np.random.default_rng(11).multinomial(2, [0.25] * 4, size=6)
    ks = [stats.ks_2samp(ref["x"], np.repeat([1.0, 2.0, 3.0, 4.0], d)).statistic for d in draws]
    mean, std = np.mean(ks), np.std(ks, ddof=1)
    assert f.method == "ks"
    assert f.band == pytest.approx((mean - 2 * std, mean + 2 * std), rel=1e-12)
    assert f.threshold == pytest.approx(mean + 2 * std)
    assert f.p_value is None  # the statistic decides
    assert f.statistic == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).statistic)
    assert f.drifted == (f.statistic > f.band[1])


def _tables(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cats = [f"c{i:03d}" for i in range(800)]
    ref = pd.DataFrame({"noisy": rng.choice(cats, 20_000), "stable": rng.normal(0.0, 1.0, 20_000)})
    # the same 800 equally likely values, and a small shift (0.06 std) of the stable feature
    cur = pd.DataFrame({"noisy": rng.choice(cats, 5000), "stable": rng.normal(0.06, 1.0, 5000)})
    return ref, cur


def test_noisy_feature_quiet_and_small_shift_caught() -> None:
    ref, cur = _tables(0)
    fixed = compare_data(ref, cur)
    learned = compare_data(ref, cur, config=MonitoringSpec.model_validate(LEARNED))
    # 5,000 draws over 800 values sit far from their shares by chance: JS distance ~0.2 > 0.1
    assert fixed["noisy"].method == "jensenshannon" and fixed["noisy"].drifted
    assert not learned["noisy"].drifted and learned["noisy"].band[0] < fixed["noisy"].statistic
    # 0.06 std is below the fixed 0.1 but far above what chance gives at 5,000 rows
    assert fixed["stable"].method == "wasserstein" and not fixed["stable"].drifted
    assert learned["stable"].drifted and learned["stable"].threshold < 0.05
    # and with no change at all, neither alerts
    same = compare_data(ref, ref.sample(5000, random_state=1), config=MonitoringSpec.model_validate(LEARNED))
    assert not same["noisy"].drifted and not same["stable"].drifted


def test_per_column_and_per_method_learned() -> None:
    ref, cur = _tables(1)
    by_column = MonitoringSpec.model_validate({"drift": {"columns": {"noisy": {"threshold": "learned"}}}})
    r = compare_data(ref, cur, config=by_column)
    assert r["noisy"].band is not None and r["stable"].band is None and r["stable"].threshold == 0.1
    by_method = MonitoringSpec.model_validate({"drift": {"threshold": {"wasserstein": "learned"}}})
    r = compare_data(ref, cur, config=by_method)
    assert r["stable"].band is not None and r["noisy"].band is None and r["noisy"].threshold == 0.1


def test_windows_carry_their_band_and_sizes_share_one() -> None:
    ref, cur = _tables(2)
    log = cur.assign(time=pd.date_range("2026-01-01", periods=len(cur), freq="min", tz="UTC"))
    report = monitor_frame(log, ref, window=1000, config=MonitoringSpec.model_validate(LEARNED), n_boot=0)
    bands = [w.features["stable"]["band"] for w in report.windows.windows]
    assert all(b is not None for b in bands) and len({tuple(b) for b in bands}) == 1
    assert round_size(1234) == 1200 and round_size(98) == 98 and round_size(1_049_999) == 1_000_000


def test_classifier_metrics_alert_outside_the_band(perf_churn_model) -> None:
    _model, cbpe, _train = perf_churn_model
    assert isinstance(cbpe, CBPE)
    band = cbpe.band(500, 3.0)
    P, T = cbpe.reference_rows_
    # the accuracy band: mean ± 3·std of the holdout's accuracy over chunks of 500 rows; the std of a
    # mean of 500 draws of 0/1 correctness is about sqrt(acc (1 - acc) / 500)
    acc = float((P.argmax(axis=1) == T.argmax(axis=1)).mean())
    lo, hi = band["accuracy"]
    assert (lo + hi) / 2 == pytest.approx(acc, abs=0.01)
    assert (hi - lo) / 6 == pytest.approx(np.sqrt(acc * (1 - acc) / 500), rel=0.3)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("monitoring:\n  drift:\n    threshold: learnt\n", "monitoring.drift.threshold"),
        ("monitoring:\n  learned:\n    k: 0\n", "monitoring.learned.k"),
        ("monitoring:\n  learned:\n    chunks: 1\n", "monitoring.learned.chunks"),
        ("monitoring:\n  performance:\n    threshold: band\n", "monitoring.performance.threshold"),
        ("monitoring:\n  drift:\n    columns:\n      x:\n        threshold: learnd\n", "monitoring.drift.columns.x"),
    ],
)
def test_bad_values_name_the_key(text: str, key: str) -> None:
    base = "name: demo\ndata:\n  train: data.csv\n  target: y\n"
    with pytest.raises(SpecError) as info:
        parse_spec(base + text, "skloop.yaml")
    assert key in str(info.value)
