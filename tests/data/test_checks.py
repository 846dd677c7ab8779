from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import check_training_frame, infer_task


@pytest.mark.parametrize(
    ("y", "task"),
    [
        ([0, 1, 0], "classification"),
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([1.0, 2.0, 3.0, np.nan], "classification"),
        ([0.5, 1.5, 2.0], "regression"),
        (list(np.arange(30, dtype=float)), "regression"),
        (pd.Series([1, 2, None], dtype="Int64"), "classification"),
        (pd.Series(["x", "y"], dtype="category"), "classification"),
    ],
)
def test_infer_task(y: object, task: str) -> None:
    assert infer_task(y) == task  # type: ignore[arg-type]


def test_returns_the_task(churn: pd.DataFrame) -> None:
    assert check_training_frame(churn, "churned") == "classification"
    assert check_training_frame(churn, "monthly_charges".replace("monthly", "total")) == "regression"
    assert check_training_frame(churn, "churned", task="regression") == "regression"
    assert check_training_frame(churn, "total_charges", task="auto") == "regression"


def test_missing_target_names_close_matches_and_columns(churn: pd.DataFrame) -> None:
    with pytest.raises(DataError) as info:
        check_training_frame(churn, "churn")
    msg = str(info.value)
    assert "target column 'churn' is not in the data" in msg
    assert "Did you mean 'churned'?" in msg
    assert "'customer_id', 'signup_date'" in msg and "Set data.target" in msg


def test_missing_target_without_close_match() -> None:
    with pytest.raises(DataError, match=r"'zzz' is not in the data\. Columns: 'a', 'b'\."):
        check_training_frame(pd.DataFrame({"a": [1], "b": [2]}), "zzz")


def test_target_with_missing_values_names_rows() -> None:
    y = [0, 1, None, 1, None, 0, None, None, None, None, None, 1]
    df = pd.DataFrame({"x": range(12), "y": y})
    with pytest.raises(
        DataError,
        match=r"'y' has 7 missing value\(s\) of 12, at rows 2, 4, 6, 7, 8, \.\.\. \(0-based\)",
    ):
        check_training_frame(df, "y")
    with pytest.raises(DataError, match="target column 'y' is empty: all 2 values are missing"):
        check_training_frame(pd.DataFrame({"x": [1, 2], "y": [None, None]}), "y")


def test_all_empty_column_is_named() -> None:
    df = pd.DataFrame({"x": [1, 2], "blank": [np.nan, np.nan], "y": [0, 1]})
    with pytest.raises(DataError, match=r"column\(s\) 'blank' are empty \(all 2 values missing\)"):
        check_training_frame(df, "y")


def test_single_class() -> None:
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]})
    with pytest.raises(DataError, match="'y' has a single class \\('a' in all 3 rows\\)"):
        check_training_frame(df, "y")


def test_regression_needs_numbers_and_task_must_be_known() -> None:
    df = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    with pytest.raises(DataError, match="has dtype str but regression needs numbers"):
        check_training_frame(df, "y", task="regression")
    with pytest.raises(DataError, match=r"task must be one of .*; got 'clustering'"):
        check_training_frame(df, "y", task="clustering")


def test_no_rows() -> None:
    with pytest.raises(DataError, match="the training data has no rows"):
        check_training_frame(pd.DataFrame({"x": [], "y": []}), "y")
