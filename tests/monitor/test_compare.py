"""compare_data() with stored references and files: JSON round trips, profile vs frame, streaming."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import infer_schema, profile
from skloop.monitor import DriftReport, ReferenceSummary, _compare, compare_data, compare_data_files, reference_summary

Frames = Callable[..., pd.DataFrame]
SHIFTED = ("num_skewed", "num_uniform", "cat_a")


@pytest.fixture(scope="module")
def compare_pair(drift_frames: Frames) -> tuple[pd.DataFrame, pd.DataFrame]:
    return drift_frames(20_000, 41), drift_frames(5000, 42, shifted=SHIFTED)


def test_report_json_round_trip(drift_frames: Frames) -> None:
    ref, cur = drift_frames(800, 1), drift_frames(600, 2, shifted=("cat_a",))
    cur.loc[:9, "cat_a"] = "new"
    cur.loc[:50, "num_normal"] = None
    ref["proba"] = ref["num_uniform"]
    cur["proba"] = cur["num_uniform"]
    report = compare_data(ref, cur, prediction_columns=["proba"])
    again = DriftReport.from_json(report.to_json())
    assert again == report
    assert again.to_dict() == report.to_dict()
    assert again["cat_a"].categories == report["cat_a"].categories and again.quality.flagged


def test_reference_summary_json_round_trip(drift_frames: Frames) -> None:
    ref = reference_summary(drift_frames(3000, 1), prediction_columns=())
    again = ReferenceSummary.from_json(ref.to_json())
    assert again.to_dict() == ref.to_dict()
    assert (again["num_normal"].points == ref["num_normal"].points).all()
    assert len(ref["num_normal"].points) == 1000 and not ref["num_normal"].exact


def test_stored_summary_agrees_with_the_frame(compare_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = compare_pair
    exact = compare_data(ref, cur)
    stored = compare_data(None, cur, reference_profile=reference_summary(ref))
    assert stored.drifted_features == exact.drifted_features == list(SHIFTED)
    for a, b in zip(exact.features, stored.features, strict=True):
        assert a.method == b.method
        assert b.statistic == pytest.approx(a.statistic, rel=0.02, abs=2e-3)
        assert b.reference_counts == a.reference_counts and b.current_counts == a.current_counts
    assert [c.flagged for c in stored.quality] == [c.flagged for c in exact.quality]


def test_small_reference_summary_is_exact(drift_frames: Frames) -> None:
    ref, cur = drift_frames(600, 1), drift_frames(400, 2, shifted=("num_normal",))
    assert compare_data(ref, cur) == compare_data(None, cur, reference_profile=reference_summary(ref))


def test_training_profile_alone_gives_the_same_verdicts(compare_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = compare_pair
    schema = infer_schema(ref)
    exact = compare_data(ref, cur, schema)
    approx = compare_data(None, cur, schema, reference_profile=profile(ref, schema))
    assert approx.drifted_features == exact.drifted_features
    for a, b in zip(exact.features, approx.features, strict=True):
        assert b.statistic == pytest.approx(a.statistic, rel=0.25, abs=0.02), a.name


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_files_give_the_frames_report(
    compare_pair: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, suffix: str
) -> None:
    ref, cur = compare_pair
    cur = cur.iloc[:3000]
    paths = {}
    for name, df in (("ref", ref), ("cur", cur)):
        paths[name] = tmp_path / f"{name}{suffix}"
        df.to_parquet(paths[name]) if suffix == ".parquet" else df.to_csv(paths[name], index=False)
    summary = reference_summary(ref)
    from_frames = compare_data(None, cur, reference_profile=summary)
    streamed = compare_data_files(None, paths["cur"], reference_profile=summary, batch_rows=700)
    assert streamed.n_current == 3000 and streamed.n_reference == 20_000
    assert streamed.drifted_features == from_frames.drifted_features
    for a, b in zip(from_frames.features, streamed.features, strict=True):
        assert b.statistic == pytest.approx(a.statistic, rel=1e-9, abs=1e-12), a.name
    assert streamed.quality == from_frames.quality
    from_files = compare_data_files(paths["ref"], paths["cur"])
    assert from_files.drifted_features == from_frames.drifted_features


def test_binned_streaming_is_close_to_exact(
    compare_pair: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, cur = compare_pair
    path = tmp_path / "cur.parquet"
    cur.to_parquet(path)
    summary = reference_summary(ref)
    held = compare_data(None, cur, reference_profile=summary)
    monkeypatch.setattr(_compare, "EXACT_ROWS", 1000)  # bin everything past the first 1000 values
    binned = compare_data_files(None, path, reference_profile=summary, batch_rows=800)
    assert binned.drifted_features == held.drifted_features
    for a, b in zip(held.features, binned.features, strict=True):
        assert b.statistic == pytest.approx(a.statistic, rel=0.01, abs=1e-3), a.name
        assert b.current_counts == a.current_counts
    config_ks = {"drift": {"method": "ks"}}
    from skloop.core import MonitoringSpec

    spec = MonitoringSpec.model_validate(config_ks)
    held = compare_data(None, cur, reference_profile=summary, config=spec)
    binned = compare_data_files(None, path, reference_profile=summary, config=spec, batch_rows=800)
    for a, b in zip(held.features[:4], binned.features[:4], strict=True):
        assert b.statistic == pytest.approx(a.statistic, abs=1e-12)  # KS against the sketch is exact when binned


def test_reference_errors(drift_frames: Frames) -> None:
    df = drift_frames(50, 1)
    with pytest.raises(DataError, match="no reference"):
        compare_data(None, df)
    with pytest.raises(DataError, match="not both"):
        compare_data(df, df, reference_profile=reference_summary(df))
    with pytest.raises(DataError, match="not a drift report"):
        DriftReport.from_dict({"features": []})


def test_plain_frames_read_like_training(drift_frames: Frames, tmp_path: Path) -> None:
    """``compare_data(pd.read_csv(f), sample)``: date strings are datetimes (not tested), the target is no feature."""
    table = drift_frames(5000, 3)
    table["signup"] = pd.date_range("2020-01-01", periods=1000, freq="D").repeat(5).strftime("%Y-%m-%d")
    table["y"] = (table["num_normal"] > 0).astype(int)
    table.to_csv(tmp_path / "ref.csv", index=False)
    ref = pd.read_csv(tmp_path / "ref.csv")
    assert ref["signup"].dtype != "datetime64[us]"  # pandas leaves the dates as strings
    report = compare_data(ref, ref.sample(1000, random_state=0), target="y")
    assert "signup" not in report and "y" not in report
    assert "datetime" in report.skipped["signup"] and "id" in report.skipped["row_id"] and "y" not in report.skipped
    assert not report.drifted and report.drifted_features == []
    assert {q.column for q in report.quality.checks} >= {"signup"} and "y" not in {q.column for q in report.quality}
    assert report.verdict().startswith("No dataset drift: 0 of 7 features drifted")  # README: report.verdict()
    assert DriftReport.from_json(report.to_json()).skipped == report.skipped


def test_columns_choose_what_is_monitored(drift_frames: Frames) -> None:
    ref, cur = drift_frames(800, 1), drift_frames(600, 2, shifted=("cat_a", "num_normal"))
    cur["row_id"] = 7  # duplicate ids: not checked, the model does not read them
    report = compare_data(ref, cur, columns=["num_normal", "cat_b"])
    assert [f.name for f in report.features] == ["num_normal", "cat_b"] and report.drifted_features == ["num_normal"]
    assert {q.column for q in report.quality.checks} == {"num_normal", "cat_b"}
    assert report.verdict() == "Drift detected: 1 of 2 features drifted (50%; the verdict needs 50%): num_normal."
    with pytest.raises(DataError, match=r"columns \['nope'\] are not in the reference"):
        compare_data(ref, cur, columns=["num_normal", "nope"])
