"""Signatures: inference (nullable ints and bools included) and coercion of incoming rows."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError, RegistryError
from skloop.registry import Signature, ValidationIssue, coerce_frame, infer_signature


@pytest.fixture(scope="module")
def sig_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": pd.array([30, None, 45, 52], dtype="Int64"),
            "income": [1.5, 2.5, np.nan, 4.0],
            "count": [1, 2, 3, 4],
            "member": pd.array([True, None, False, True], dtype="boolean"),
            "active": [True, None, False, True],  # object dtype: bools with a missing value
            "plain_flag": [True, False, False, True],
            "plan": ["basic", "pro", "basic", None],
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
        }
    )


@pytest.fixture(scope="module")
def sig(sig_frame: pd.DataFrame) -> Signature:
    return infer_signature(sig_frame, pd.Series(["a", "b", "a", "b"]), task="classification")


def test_dtypes_are_canonical_and_nullable_columns_are_recorded(sig: Signature) -> None:
    got = {c.name: (c.dtype, c.nullable) for c in sig.inputs}
    assert got == {
        "age": ("int64", True),
        "income": ("float64", True),
        "count": ("int64", False),
        "member": ("bool", True),
        "active": ("bool", True),
        "plain_flag": ("bool", False),
        "plan": ("string", True),
        "when": ("datetime64", False),
    }
    assert sig["age"].kind == "numeric" and (sig["age"].min, sig["age"].max) == (30, 52)
    assert sig["member"].kind == "boolean" and sig["member"].categories == (False, True)
    assert sig["active"].categories == (False, True)
    assert sig["plan"].categories == ("basic", "pro") and sig["plan"].min is None
    assert sig["when"].min == "2024-01-01T00:00:00"
    assert sig.output.classes == ("a", "b") and sig.output.dtype == "string" and sig.output.task == "classification"


def test_signature_round_trips_through_json(sig: Signature) -> None:
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig


def test_classes_follow_the_model_and_regression_has_none(churn_split, churn_forest) -> None:
    X, y = churn_split["X_train"], churn_split["y_train"]
    sig = infer_signature(X, y, task="classification", model=churn_forest)
    assert sig.output.classes == (0, 1) and sig.output.dtype == "int64"
    assert sig["note"].kind == "text" and sig["note"].categories is None  # the pipeline's own kinds
    reg = infer_signature(X, y.astype(float), task="regression")
    assert reg.output.classes is None and reg.output.dtype == "float64"


def test_bad_inputs_to_inference_and_from_dict() -> None:
    with pytest.raises(RegistryError, match="task must be one of"):
        infer_signature(pd.DataFrame({"a": [1]}), task="ranking")
    with pytest.raises(RegistryError, match="not a signature dict"):
        Signature.from_dict({"inputs": [{"name": "a"}]})


def test_the_same_rows_as_csv_and_as_json_coerce_to_equal_frames(churn_split, churn_forest) -> None:
    X = churn_split["X_test"].head(30).copy()
    X.loc[X.index[0], "monthly_charges"] = np.nan
    sig = infer_signature(churn_split["X_train"], churn_split["y_train"], task="classification", model=churn_forest)
    csv = pd.read_csv(io.StringIO(X.to_csv(index=False)))
    records = json.loads(X.to_json(orient="records", date_format="iso"))
    columns = {k: list(v.values()) for k, v in json.loads(X.to_json(orient="columns", date_format="iso")).items()}
    from_csv, from_records, from_columns = (coerce_frame(d, sig) for d in (csv, records, columns))
    pd.testing.assert_frame_equal(from_csv.frame, from_records.frame)
    pd.testing.assert_frame_equal(from_csv.frame, from_columns.frame)
    assert from_csv.ok and from_records.ok and from_columns.ok
    # the model sees the same thing as the original rows
    np.testing.assert_allclose(churn_forest.predict_proba(from_records.frame), churn_forest.predict_proba(X))


def test_null_and_nan_both_mean_missing(sig: Signature) -> None:
    row = {"age": 40, "count": 2, "member": True, "active": "yes", "plain_flag": 0, "plan": "pro", "when": "2024-02-03"}
    a = coerce_frame([{**row, "income": None}], sig)
    b = coerce_frame([{**row, "income": float("nan")}], sig)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.ok and a.frame["income"].isna().all()
    assert a.frame["active"].dtype == "boolean" and bool(a.frame["active"][0]) is True
    assert a.frame["plain_flag"].tolist() == [False]


def _only(issues, severity):
    return [(i.row, i.column) for i in issues if i.severity == severity]


def test_each_kind_of_issue(sig: Signature) -> None:
    good = {
        "age": 40,
        "income": 2.0,
        "count": 2,
        "member": True,
        "active": False,
        "plain_flag": True,
        "plan": "pro",
        "when": "2024-02-03",
    }
    rows = [
        good,
        {**good, "income": "abc"},  # 1: not a number
        {**good, "count": None},  # 2: missing in a non-nullable column
        {**good, "plan": "enterprise"},  # 3: unknown category
        {**good, "age": 200, "when": "2030-01-01"},  # 4: out of range (numeric and datetime)
        {**good, "count": 2.5, "member": "maybe", "when": "not a date"},  # 5: wrong types
        {**good, "zip": "75001"},  # 6: an extra column
    ]
    result = coerce_frame(rows, sig)
    errors = {(i.row, i.column): i.problem for i in result.errors}
    assert set(errors) == {(1, "income"), (2, "count"), (5, "count"), (5, "member"), (5, "when")}
    assert "'abc' is not a number; expected float64" in errors[(1, "income")]
    assert "missing value" in errors[(2, "count")]
    assert "'maybe' is not a boolean" in errors[(5, "member")]
    assert "2.5 is not a whole number" in errors[(5, "count")]
    assert _only(result.issues, "flag") == [(4, "age"), (3, "plan"), (4, "when"), (None, "zip")]
    assert "outside the training range [30, 52]" in next(i.problem for i in result.flags if i.column == "age")
    assert result.error_rows == (1, 2, 5)
    assert not result.ok
    # flagged rows are kept, with their values; values that could not be cast are missing; extras dropped
    assert result.frame["plan"][3] == "enterprise" and result.frame["age"][4] == 200
    assert pd.isna(result.frame["income"][1]) and "zip" not in result.frame.columns
    assert list(result.frame.columns) == [c.name for c in sig.inputs]


def test_a_missing_column_is_an_error_for_every_row(sig: Signature) -> None:
    result = coerce_frame({"age": [40, 41], "income": [1.0, 2.0]}, sig)
    missing = {i.column for i in result.errors if i.row is None}
    assert missing == {"count", "member", "active", "plain_flag", "plan", "when"}
    assert result.error_rows == (0, 1)
    assert result.frame.shape == (2, 8) and result.frame["plan"].isna().all()
    assert ValidationIssue(None, "plan", "x", "error").to_dict()["row"] is None


def test_row_issues_are_capped_per_problem_but_error_rows_are_complete(sig: Signature) -> None:
    frame = pd.DataFrame({c.name: [None] * 100 for c in sig.inputs}).astype(object)
    frame["income"] = "abc"
    result = coerce_frame(frame, sig)
    income = [i for i in result.errors if i.column == "income"]
    assert len(income) == 21 and income[-1].row is None and income[-1].problem.startswith("80 more rows")
    assert len(result.error_rows) == 100


def test_data_that_is_not_a_table_is_a_data_error(sig: Signature) -> None:
    with pytest.raises(DataError, match="list of records"):
        coerce_frame([1, 2], sig)
    with pytest.raises(DataError, match="got str"):
        coerce_frame("age,income", sig)


def test_coercion_is_vectorised(churn_split, churn_forest) -> None:
    """50 000 rows of JSON records coerce in well under a second per 10 000 rows."""
    import time

    sig = infer_signature(churn_split["X_train"], churn_split["y_train"], task="classification", model=churn_forest)
    records = json.loads(churn_split["X_test"].to_json(orient="records", date_format="iso")) * 500
    started = time.perf_counter()
    result = coerce_frame(records, sig)
    elapsed = time.perf_counter() - started
    assert len(result.frame) == 50_000 and elapsed < 10


def test_numbers_for_dates_and_integers_beyond_int64_are_row_errors() -> None:
    import warnings

    from skloop.registry import Signature, coerce_frame

    sig = Signature.from_dict(
        {
            "inputs": [
                {"name": "n", "dtype": "int64", "kind": "numeric", "nullable": True},
                {"name": "d", "dtype": "datetime64", "kind": "datetime", "nullable": True},
            ],
            "output": {"task": "regression", "classes": None, "dtype": "float64"},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = coerce_frame([{"n": 2**70, "d": 12345}, {"n": 3, "d": "2024-01-01"}], sig)
    problems = {(i.row, i.column) for i in result.errors}
    assert problems == {(0, "n"), (0, "d")}
    assert result.frame["n"].iloc[1] == 3


def test_the_positive_class_of_a_binary_model_is_recorded() -> None:
    X = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4]})
    names = infer_signature(X, pd.Series(["stay", "stay", "stay", "leave"]), task="classification")
    assert names.output.classes == ("leave", "stay") and names.output.positive_class == "leave"  # the minority
    floats = infer_signature(X, pd.Series([0.0, 1.0, 1.0, 1.0]), task="classification")
    assert floats.output.positive_class == 1.0 and floats.output.dtype == "float64"
    declared = infer_signature(X, pd.Series(["a", "b", "b", "a"]), task="classification", positive_class="a")
    assert Signature.from_dict(declared.to_dict()).output.positive_class == "a"
    three = infer_signature(X, pd.Series(["a", "b", "c", "a"]), task="classification")
    assert three.output.positive_class is None and "positive_class" not in three.to_dict()["output"]


def test_words_in_a_column_training_read_as_missing_are_read_as_missing_when_served() -> None:
    """Issue 10 (corpus, tickets): training read "n/a" in a numeric column as missing; serving refused it."""
    from skloop.data import coerce_numbers

    raw = pd.DataFrame({"wait": ["10", "n/a", "25", "?", "40"], "other": [1.0, 2.0, 3.0, 4.0, 5.0]})
    X, counts = coerce_numbers(raw, ["wait", "other"])
    sig = infer_signature(X, task="regression", not_numbers=[c for c, n in counts.items() if n])
    assert sig["wait"].not_numbers and not sig["other"].not_numbers
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict())))["wait"].not_numbers
    result = coerce_frame([{"wait": "unknown", "other": 2.0}, {"wait": 12, "other": "n/a"}], sig)
    assert result.frame["wait"].isna().tolist() == [True, False]
    assert [(i.row, i.column, i.severity) for i in result.issues] == [(1, "other", "error"), (0, "wait", "flag")]
    assert "read as missing, as in training" in result.flags[0].problem
    # a signature stored before the key existed refuses them, as it always did
    old = sig.to_dict()
    for col in old["inputs"]:
        del col["not_numbers"]
    assert coerce_frame([{"wait": "unknown", "other": 2.0}], Signature.from_dict(old)).errors
