"""Drift per column through compare_data(): the auto rule, agreement with scipy, FPR, shifted columns, config."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from skloop.core import MonitoringSpec, SpecError
from skloop.data import infer_schema, make_churn
from skloop.monitor import DEFAULT_THRESHOLDS, choose_method, compare_data, reference_summary

Frames = Callable[..., pd.DataFrame]
NUMERIC = ("num_normal", "num_skewed", "num_count", "num_uniform")
CATEGORICAL = ("cat_a", "cat_b", "flag")


def _config(**drift: object) -> MonitoringSpec:
    return MonitoringSpec.model_validate({"drift": drift})


def test_auto_rule_by_kind_and_smaller_sample() -> None:
    assert choose_method("numeric", 999, 10**6) == "ks"
    assert choose_method("numeric", 1000, 1000) == "wasserstein"
    assert choose_method("categorical", 10**6, 10) == "chisquare"
    assert choose_method("boolean", 5000, 5000) == "jensenshannon"
    assert choose_method("numeric", 400, 400, auto_rows=300) == "wasserstein"


def test_small_samples_use_tests_that_match_scipy(drift_frames: Frames) -> None:
    ref, cur = drift_frames(400, 1), drift_frames(300, 2, shifted=("num_normal",))
    report = compare_data(ref, cur)
    for name in NUMERIC:
        f = report[name]
        expected = stats.ks_2samp(ref[name], cur[name])
        assert f.method == "ks" and f.threshold == 0.05
        assert f.statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert f.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    for name in CATEGORICAL:
        f = report[name]
        table = pd.crosstab(np.r_[np.zeros(len(ref)), np.ones(len(cur))], np.r_[ref[name], cur[name]])
        assert f.method == "chisquare"
        assert f.p_value == pytest.approx(stats.chi2_contingency(table.to_numpy()).pvalue, rel=1e-9)
    assert "row_id" not in report  # ids are checked for duplicates, not drift


def test_large_samples_use_distances_that_match_scipy(drift_frames: Frames) -> None:
    ref, cur = drift_frames(3000, 1), drift_frames(2000, 2, shifted=("num_skewed", "cat_a"))
    report = compare_data(ref, cur)
    for name in NUMERIC:
        f = report[name]
        expected = stats.wasserstein_distance(ref[name], cur[name]) / np.std(ref[name])
        assert f.method == "wasserstein" and f.p_value is None and f.threshold == 0.1
        assert f.statistic == pytest.approx(expected, rel=1e-9)
    f = report["cat_a"]
    assert f.method == "jensenshannon"
    r = ref["cat_a"].value_counts().reindex(["w", "x", "y", "z"]).to_numpy()
    c = cur["cat_a"].value_counts().reindex(["w", "x", "y", "z"]).to_numpy()
    assert f.statistic == pytest.approx(distance.jensenshannon(r / r.sum(), c / c.sum()), rel=1e-9)


@pytest.mark.parametrize("n", [300, 3000])
def test_shifted_pair_flags_exactly_the_shifted_columns(drift_frames: Frames, n: int) -> None:
    shifted = ("num_normal", "num_count", "cat_a", "flag")
    report = compare_data(drift_frames(n, 11), drift_frames(n, 12, shifted=shifted))
    assert report.drifted_features == list(shifted)
    assert report.share == pytest.approx(4 / 7)
    assert report.drifted  # 4/7 >= 0.5


def test_no_drift_pair_flags_nothing(drift_frames: Frames) -> None:
    report = compare_data(drift_frames(5000, 21), drift_frames(5000, 22))
    assert report.drifted_features == []
    assert not report.drifted and report.share == 0.0


def test_false_positive_rate_of_the_tests_is_the_threshold(drift_frames: Frames) -> None:
    runs, flagged, verdicts = 200, 0, 0
    ref = reference_summary(drift_frames(300, 0), max_points=None)  # exact, computed once
    for seed in range(1, runs + 1):
        report = compare_data(ref, drift_frames(300, seed))
        flagged += sum(f.drifted for f in report.features)
        verdicts += report.drifted
    rate = flagged / (runs * 7)
    # 1400 tests at p < 0.05: the rate lies within a few standard errors of 5% (chi-square on
    # a 2x2 table with Yates' correction is conservative, so the rate may fall below)
    assert 0.015 < rate < 0.08
    assert verdicts <= 0.02 * runs  # four of seven features at once almost never happens by chance


def test_churn_shift_flags_the_moved_features_and_not_the_others() -> None:
    ref, cur = make_churn(4000, seed=1), make_churn(4000, seed=2, shift=1.0)
    schema = infer_schema(ref, target="churned", id_column="customer_id")
    report = compare_data(ref, cur, schema)
    drifted = set(report.drifted_features)
    assert {"tenure_months", "monthly_charges", "total_charges", "contract", "region", "support_calls"} <= drifted
    assert not drifted & {"age", "has_partner"}
    assert "churned" not in report and "signup_date" not in report


def test_method_and_threshold_come_from_the_spec(drift_frames: Frames) -> None:
    ref, cur = drift_frames(2000, 1), drift_frames(2000, 2)
    config = _config(
        method="psi",
        threshold=0.0,
        columns={"num_normal": {"method": "ks", "threshold": 0.5}, "cat_b": {"enabled": False}},
    )
    report = compare_data(ref, cur, config=config)
    assert report["num_normal"].method == "ks" and report["num_normal"].threshold == 0.5
    assert report["num_skewed"].method == "psi" and report["num_skewed"].drifted  # psi >= 0
    assert "cat_b" not in report
    config = _config(threshold={"wasserstein": 1e-9, "jensenshannon": 0.9})
    report = compare_data(ref, cur, config=config)
    assert all(report[n].drifted and report[n].threshold == 1e-9 for n in NUMERIC)
    assert not any(report[n].drifted for n in CATEGORICAL)
    assert report["cat_a"].threshold == 0.9
    assert DEFAULT_THRESHOLDS["psi"] == 0.2


def test_share_threshold_sets_the_verdict(drift_frames: Frames) -> None:
    ref, cur = drift_frames(2000, 1), drift_frames(2000, 2, shifted=("num_normal",))
    assert compare_data(ref, cur, config=_config(share=0.1)).drifted
    assert not compare_data(ref, cur).drifted


def test_numeric_only_method_on_a_category_is_a_spec_error(drift_frames: Frames) -> None:
    ref = drift_frames(200, 1)
    with pytest.raises(SpecError, match=r"monitoring.drift.columns.cat_a.method.*'ks' needs a numeric column"):
        compare_data(ref, ref, config=_config(columns={"cat_a": {"method": "ks"}}))


def test_prediction_drift_is_reported_apart_from_features(drift_frames: Frames) -> None:
    ref, cur = drift_frames(1500, 1), drift_frames(1500, 2)
    ref["proba"] = np.random.default_rng(0).beta(2, 5, len(ref))
    cur["proba"] = np.random.default_rng(1).beta(5, 2, len(cur))
    ref["label"] = pd.Series(np.where(ref["proba"] > 0.5, "yes", "no"), dtype="str")
    cur["label"] = pd.Series(np.where(cur["proba"] > 0.5, "yes", "no"), dtype="str")
    report = compare_data(ref, cur, prediction_columns=["proba", "label"])
    assert [p.name for p in report.predictions] == ["proba", "label"]
    assert report["proba"].kind == "numeric" and report["label"].kind == "categorical"
    assert report.prediction_drifted and report.drifted_features == []
    off = compare_data(ref, cur, prediction_columns=["proba"], config=MonitoringSpec(prediction_drift=False))
    assert off.predictions == () and "proba" not in [f.name for f in off.features]


def test_plot_summaries_share_bins_and_categories(drift_frames: Frames) -> None:
    ref, cur = drift_frames(1000, 1), drift_frames(800, 2, shifted=("cat_a",))
    cur.loc[:9, "cat_a"] = "new"
    report = compare_data(ref, cur)
    num = report["num_normal"]
    assert len(num.bin_edges) == len(num.reference_counts) + 1 == len(num.current_counts) + 1
    assert sum(num.reference_counts) == 1000 and sum(num.current_counts) == 800
    cat = report["cat_a"]
    assert cat.categories[-1] == "new" and cat.reference_counts[-1] == 0 and cat.current_counts[-1] == 10
    assert dict(zip(cat.categories, cat.reference_counts, strict=True)) == {
        **ref["cat_a"].value_counts().to_dict(),
        "new": 0,
    }
