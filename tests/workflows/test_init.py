"""``init --data``: the spec it writes trains as it is, on tables the project did not generate.

The target is never a feature; the id and the time columns get their roles; suspected
leaks are dropped with their evidence; numbers with a few bad values are numeric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from skloop.core import parse_spec
from skloop.data import find_time_column, read_table
from skloop.workflows import InitResult, Project, init_from_data, prepare_data

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
N = 200


def _table(seed: int = 0, n: int = N) -> pd.DataFrame:
    """An ordinary table: a few features, a binary target that depends on two of them."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": rng.normal(50_000, 12_000, n).round(2),
        "city": rng.choice(["lyon", "nantes", "lille"], n),
        "signup_date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D"),
    })  # fmt: skip
    score = (df["age"] - 50) / 15 + (df["income"] - 50_000) / 12_000 + rng.normal(0, 1, n)
    df["churned"] = (score > 0).astype(int)
    return df


def _init(tmp_path: Path, df: pd.DataFrame, target: str = "churned") -> tuple[InitResult, dict, str]:
    data = tmp_path / "table.csv"
    df.to_csv(data, index=False)
    result = init_from_data(data, target, out=tmp_path / "skloop.yaml", force=True)
    text = result.spec_path.read_text(encoding="utf-8")
    parse_spec(text, str(result.spec_path))
    return result, yaml.safe_load(text), text


def _features(spec: dict) -> set[str]:
    return {c for kind in KINDS for c in spec["features"].get(kind, [])}


def _finding(result: InitResult, column: str, kind: str):  # type: ignore[no-untyped-def]
    found = [f for f in result.findings if f.column == column and f.kind == kind]
    assert found, f"no {kind} finding for {column!r} in {[(f.column, f.kind) for f in result.findings]}"
    return found[0]


# -- the target ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "values"),
    [
        ("churned", None),  # 0/1 integers (inferred boolean)
        ("spend", lambda df, rng: df["income"] / 100 + rng.normal(0, 40, len(df))),  # floats: regression
        ("plan", lambda df, rng: rng.choice(np.array(["gold", "silver", "basic"]), len(df))),
    ],
    ids=["binary", "float_regression", "strings"],
)
def test_the_target_is_never_a_feature(tmp_path: Path, target: str, values) -> None:  # type: ignore[no-untyped-def]
    df = _table()
    if values is not None:
        df[target] = values(df, np.random.default_rng(1))
        df = df.drop(columns="churned")
    _, spec, _ = _init(tmp_path, df, target)
    assert spec["data"]["target"] == target
    assert target not in _features(spec) and target not in spec["features"]["drop"]
    assert _features(spec) == {"age", "income", "city", "signup_date"}
    assert spec["task"] == ("regression" if target == "spend" else "classification")


# -- the id ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["id", "customer_id", "identifier", "CustomerId"])
@pytest.mark.parametrize("values", ["ints", "strings"])
def test_a_unique_column_named_like_an_id_is_data_id(tmp_path: Path, name: str, values: str) -> None:
    df = _table()
    ids = np.random.default_rng(2).permutation(N) + 1000
    df.insert(0, name, ids if values == "ints" else [f"K-{i:06d}" for i in ids])
    result, spec, text = _init(tmp_path, df)
    assert spec["data"]["id"] == name
    assert name not in _features(spec) and name not in spec["features"]["drop"]
    assert _finding(result, name, "id").evidence["n_unique"] == N
    assert "data.id" in text  # the decision is noted in the spec


def test_a_repeating_id_is_a_feature_not_the_id(tmp_path: Path) -> None:
    df = _table()
    df["store_id"] = np.random.default_rng(3).integers(0, 12, N)  # a foreign key: repeats
    df["order_id"] = [f"O{i}" for i in range(N)]
    df.loc[5, "order_id"] = "O4"  # one duplicate: not an identifier
    _, spec, _ = _init(tmp_path, df)
    assert "id" not in spec["data"]
    assert "store_id" in _features(spec)


# -- the time --------------------------------------------------------------------------


def test_a_column_named_timestamp_is_data_time(tmp_path: Path) -> None:
    df = _table()
    stamps = pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(N) * 37, unit="min")
    df["timestamp"] = stamps.strftime("%Y-%m-%d %H:%M:%S")  # strings in the file
    result, spec, _ = _init(tmp_path, df)
    assert spec["data"]["time"] == "timestamp"
    assert "timestamp" not in _features(spec)
    assert "signup_date" in spec["features"]["datetime"]  # a customer's date stays a feature
    assert _finding(result, "timestamp", "time").evidence["set"] is True


def test_event_time_text_dates_are_data_time(tmp_path: Path) -> None:
    df = _table()
    stamps = pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(N) * 3, unit="h")
    df["event_time"] = stamps.strftime("%Y/%m/%d %H:%M")  # not ISO: the reader leaves them as text
    data = tmp_path / "table.csv"
    df.to_csv(data, index=False)
    assert not pd.api.types.is_datetime64_any_dtype(read_table(data)["event_time"].dtype)
    result, spec, _ = _init(tmp_path, df)
    assert spec["data"]["time"] == "event_time"
    assert "event_time" not in _features(spec) and "event_time" not in spec["features"]["drop"]
    assert _finding(result, "event_time", "time").evidence["set"] is True


def test_time_rules_on_frames() -> None:
    rising = pd.date_range("2024-01-01", periods=50, freq="D")
    # the only datetime column, rising in row order: a log
    assert find_time_column(pd.DataFrame({"logged": rising, "x": range(50)})).column == "logged"
    # a datetime column in random order without a time name: a feature
    shuffled = pd.Series(rising).sample(frac=1.0, random_state=0).to_numpy()
    assert find_time_column(pd.DataFrame({"birthday": shuffled})) is None
    # text dates that do not sort in time order are reported, not set
    years = pd.Series(pd.date_range("2021-01-01", periods=50, freq="45D"))  # 01/.../2022 sorts before 02/.../2021
    us = pd.DataFrame({"event_time": years.dt.strftime("%m/%d/%Y").astype(object)})
    found = find_time_column(us)
    assert found is not None and found.evidence["set"] is False and "ISO-8601" in found.message
    # numbers are not dates
    assert find_time_column(pd.DataFrame({"time": [str(i) for i in range(50)]})) is None


# -- leaks -----------------------------------------------------------------------------


def _noisy_copy(y: pd.Series, share: float, seed: int) -> pd.Series:
    copy = y.copy()
    flip = np.random.default_rng(seed).choice(len(y), int(share * len(y)), replace=False)
    copy.iloc[flip] = 1 - copy.iloc[flip]
    return copy


def test_leaks_are_dropped_with_their_evidence(tmp_path: Path) -> None:
    df = _table()
    rng = np.random.default_rng(4)
    df["account_closed"] = _noisy_copy(df["churned"], 0.02, seed=5)  # recorded after the outcome
    df["y_pred"] = rng.random(N)  # another model's output
    df["churn_proba"] = rng.random(N)
    result, spec, text = _init(tmp_path, df)
    assert {"account_closed", "y_pred", "churn_proba"} <= set(spec["features"]["drop"])
    assert not {"account_closed", "y_pred", "churn_proba"} & _features(spec)
    closed = _finding(result, "account_closed", "leak")
    assert closed.evidence["roc_auc"] >= 0.95 and "ROC AUC of 0.9" in closed.message
    assert _finding(result, "y_pred", "leak").evidence["name"] is True
    assert _finding(result, "churn_proba", "leak").evidence["name"] is True
    # each dropped column carries its evidence as a comment just above it
    lines = text.splitlines()
    for column in ("account_closed", "y_pred", "churn_proba"):
        at = lines.index(f"  - {column}")
        assert lines[at - 1].startswith("  # ") and column in lines[at - 1] and "leak" in lines[at - 1]
    # the ordinary features are not suspects
    assert not [f for f in result.findings if f.kind == "leak" and f.column in {"age", "income", "city"}]


def test_a_regression_leak_is_found_by_r2(tmp_path: Path) -> None:
    df = _table().drop(columns="churned")
    rng = np.random.default_rng(6)
    df["spend"] = df["income"] / 100 + rng.normal(0, 60, N)
    df["spend_rounded"] = (df["spend"] / 10).round() * 10  # the target, rounded
    result, spec, _ = _init(tmp_path, df, "spend")
    assert "spend_rounded" in spec["features"]["drop"]
    assert _finding(result, "spend_rounded", "leak").evidence["r2"] >= 0.95
    assert "income" in _features(spec)  # strongly related, but not a copy


def test_a_leak_of_a_string_target(tmp_path: Path) -> None:
    df = _table().drop(columns="churned")
    df["plan"] = np.random.default_rng(8).choice(np.array(["gold", "basic"]), N)
    df["plan_code"] = np.where(df["plan"] == "gold", "G", "B")  # the label, recoded
    result, spec, _ = _init(tmp_path, df, "plan")
    assert "plan_code" in spec["features"]["drop"]
    assert _finding(result, "plan_code", "leak").evidence["roc_auc"] >= 0.95


# -- numbers with a few bad values -----------------------------------------------------


def test_numbers_with_a_few_bad_values_are_numeric_and_train(tmp_path: Path) -> None:
    df = _table()
    income = df["income"].astype(str).astype(object)
    income.iloc[[7, 42, 150]] = ["?", "unknown", "twelve"]
    df["income"] = income
    result, spec, text = _init(tmp_path, df)
    assert "income" in spec["features"]["numeric"]
    dirty = _finding(result, "income", "dirty_numeric")
    assert dirty.evidence == {"values": ["?", "unknown", "twelve"], "n_rows": 3, "rows": [7, 42, 150]}
    assert "3 row(s)" in dirty.message and "missing" in dirty.message and "7, 42, 150" in dirty.message
    lines = text.splitlines()
    assert "income" in lines[lines.index("  - income") - 1] and "missing" in lines[lines.index("  - income") - 1]
    # training reads the bad values as missing (imputed by the pipeline)
    spec_obj = parse_spec(text, str(result.spec_path))
    prepared = prepare_data(spec_obj, tmp_path)
    assert pd.api.types.is_float_dtype(prepared.X_train["income"].dtype)
    assert int(prepared.frame["income"].isin(["?", "unknown", "twelve"]).sum()) == 3


def test_the_written_spec_trains_as_it_is(tmp_path: Path) -> None:
    df = _table(n=120)
    n = len(df)
    df.insert(0, "customer_id", [f"C{i:05d}" for i in range(n)])
    df["timestamp"] = (pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(n), unit="h")).strftime("%Y-%m-%dT%H:%M")
    income = df["income"].astype(str).astype(object)
    income.iloc[[3, 9]] = ["?", "unknown"]
    df["income"] = income
    df["y_pred"] = np.random.default_rng(7).random(n)
    result, spec, _ = _init(tmp_path, df)
    assert spec["data"]["id"] == "customer_id" and spec["data"]["time"] == "timestamp"
    text = result.spec_path.read_text(encoding="utf-8")  # a smaller search: the columns are what is tested
    result.spec_path.write_text(text.replace("n_estimators: 100", "n_estimators: 10").replace("folds: 5", "folds: 3"))
    with Project.load(result.spec_path) as project:
        trained = project.train(n_jobs=1, register=False)
    assert set(trained.model[:-1].feature_names_in_) == {"age", "income", "city", "signup_date"}
    assert trained.cv["roc_auc"]["mean"] > 0.6
