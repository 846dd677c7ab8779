"""Each data-quality check is triggered by a window crafted for it, and a clean window flags none."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from skloop.core import MonitoringSpec
from skloop.data import infer_schema
from skloop.monitor import QUALITY_CHECKS, compare_data

Frames = Callable[..., pd.DataFrame]


@pytest.fixture
def quality_pair(drift_frames: Frames) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = drift_frames(1000, 31)
    ref["day"] = pd.Series(pd.date_range("2024-01-01", periods=len(ref), freq="h").as_unit("us"))
    cur = drift_frames(500, 32)
    cur["day"] = pd.Series(pd.date_range("2024-03-01", periods=len(cur), freq="h").as_unit("us"))
    return ref, cur


def _issues(ref: pd.DataFrame, cur: pd.DataFrame, **quality: object) -> set[tuple[str, str]]:
    config = MonitoringSpec.model_validate({"quality": quality})
    report = compare_data(ref, cur, infer_schema(ref), config=config)
    return {(c.check, c.column) for c in report.quality.issues}


def test_clean_window_flags_nothing(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    assert _issues(ref, cur) == set()
    report = compare_data(ref, cur)
    assert {c.check for c in report.quality} == set(QUALITY_CHECKS) - {"missing_column"}


def test_missing_share_rise(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur.loc[:99, "num_skewed"] = np.nan  # 20% missing, 0% in the reference
    cur.loc[:19, "cat_b"] = None  # 4%: under the default 10% rise
    assert _issues(ref, cur) == {("missing_increase", "num_skewed")}
    assert _issues(ref, cur, missing_increase=0.03) == {
        ("missing_increase", "num_skewed"),
        ("missing_increase", "cat_b"),
    }
    check = next(c for c in compare_data(ref, cur).quality.issues if c.column == "num_skewed")
    assert check.value == pytest.approx(0.2) and check.count == 100 and "20.0% missing now" in check.detail


def test_values_outside_the_training_range(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur.loc[:9, "num_uniform"] = 5.0  # 2% above the max (the reference is uniform on [0, 1])
    assert _issues(ref, cur) == {("out_of_range", "num_uniform")}


def test_unseen_categories(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur.loc[:24, "cat_b"] = "brand-new"
    assert _issues(ref, cur) == {("unseen_categories", "cat_b")}
    check = next(c for c in compare_data(ref, cur).quality.issues)
    assert check.count == 25 and "'brand-new'" in check.detail


def test_type_violations(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur["num_normal"] = cur["num_normal"].astype(object)
    cur.loc[3, "num_normal"] = "n/a?"
    cur["flag"] = cur["flag"].map({True: "true", False: "false"}).astype(object)
    cur.loc[4, "flag"] = "maybe"
    cur["day"] = cur["day"].astype(str).astype(object)
    cur.loc[5, "day"] = "not a date"
    issues = _issues(ref, cur)
    assert {("type_violations", "num_normal"), ("type_violations", "flag"), ("type_violations", "day")} <= issues
    assert not {i for i in issues if i[0] == "type_violations"} - {
        ("type_violations", "num_normal"),
        ("type_violations", "flag"),
        ("type_violations", "day"),
    }


def test_constant_columns(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur["num_count"] = 2
    cur["cat_a"] = "w"
    issues = _issues(ref, cur)
    assert {("constant", "num_count"), ("constant", "cat_a")} <= issues
    assert ("constant", "num_count") not in _issues(ref, cur, constant=False)


def test_duplicated_ids(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    cur.loc[10:14, "row_id"] = cur.loc[0, "row_id"]
    assert _issues(ref, cur) == {("duplicate_ids", "row_id")}
    check = next(c for c in compare_data(ref, cur).quality.issues)
    assert check.count == 5 and check.value == pytest.approx(5 / 500)


def test_missing_column(quality_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = quality_pair
    report = compare_data(ref, cur.drop(columns=["cat_b"]))
    assert {(c.check, c.column) for c in report.quality.issues} == {("missing_column", "cat_b")}
    assert "cat_b" not in report
