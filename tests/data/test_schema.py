from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import ColumnSchema, Schema, infer_schema


def test_churn_kinds_and_roles(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn, target="churned", id_column="customer_id", time_column="signup_date")
    assert schema.by_kind("id") == ["customer_id"]
    assert schema.by_kind("datetime") == ["signup_date"]
    assert schema.by_kind("numeric") == [
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
    ]
    assert schema.by_kind("categorical") == ["contract", "payment_method", "region"]
    assert schema.by_kind("boolean") == ["paperless_billing", "has_partner", "churned"]
    assert schema.target == "churned"
    assert schema["customer_id"].role == "id" and schema["signup_date"].role == "time"
    assert "churned" not in schema.features and "customer_id" not in schema.features
    assert schema["contract"].categories == ("month-to-month", "one-year", "two-year")
    assert schema["payment_method"].nullable and not schema["contract"].nullable
    assert schema["churned"].categories == (0, 1)


def test_string_id_is_inferred_without_being_named(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn)
    assert schema["customer_id"].kind == "id" and schema["customer_id"].id_like
    assert schema["customer_id"].categories is None


def test_min_max_for_numeric_and_datetime(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn)
    assert schema["monthly_charges"].min == churn["monthly_charges"].min()
    assert schema["tenure_months"].max == int(churn["tenure_months"].max())
    assert isinstance(schema["tenure_months"].max, int)
    assert schema["signup_date"].min == churn["signup_date"].min().isoformat()
    assert schema["contract"].min is None


@pytest.mark.parametrize(
    "values",
    [
        [0, 1, 1, 0],
        [1.0, 0.0, None, 1.0],
        ["yes", "no", "no", None],
        ["True", "false", "true", "True"],
        ["Y", "N", "N", "Y"],
        [True, False, True, True],
    ],
)
def test_boolean_rule(values: list[object]) -> None:
    assert infer_schema(pd.DataFrame({"x": values}))["x"].kind == "boolean"


def test_two_values_that_are_not_a_pair_are_categorical_or_numeric() -> None:
    df = pd.DataFrame({"c": ["red", "blue", "red"], "n": [2, 5, 2], "h": [0.5, 1.0, 0.5]})
    schema = infer_schema(df)
    assert schema["c"].kind == "categorical"
    assert schema["n"].kind == "numeric" and schema["h"].kind == "numeric"


def test_integer_id_needs_unique_values_and_an_id_name() -> None:
    n = np.arange(50)
    df = pd.DataFrame({"user_id": n, "userId": n, "count": n, "paid": n, "dup_id": n % 10})
    schema = infer_schema(df)
    assert schema["user_id"].kind == "id" and schema["userId"].kind == "id"
    assert schema["count"].kind == "numeric" and schema["count"].id_like
    assert schema["paid"].kind == "numeric"
    assert schema["dup_id"].kind == "numeric" and not schema["dup_id"].id_like


def test_text_rule() -> None:
    rng = np.random.default_rng(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"]
    notes = [" ".join(rng.choice(words, 8)) for _ in range(40)]
    df = pd.DataFrame({"notes": notes, "code": [f"K{i % 7}" for i in range(40)]})
    schema = infer_schema(df)
    assert schema["notes"].kind == "text" and schema["notes"].categories is None
    assert schema["code"].kind == "categorical"


def test_few_unique_strings_are_categorical_not_id() -> None:
    schema = infer_schema(pd.DataFrame({"c": ["a", "b", "c"]}))
    assert schema["c"].kind == "categorical" and schema["c"].id_like


def test_pandas_category_and_datetime_tz() -> None:
    df = pd.DataFrame(
        {
            "c": pd.Categorical(["x", "y", "x"], categories=["x", "y", "unused"]),
            "t": pd.date_range("2024-01-01", periods=3, tz="UTC"),
        }
    )
    schema = infer_schema(df)
    assert schema["c"].kind == "categorical" and schema["c"].categories == ("x", "y")
    assert schema["c"].n_unique == 2
    assert schema["t"].kind == "datetime" and schema["t"].max == "2024-01-03T00:00:00+00:00"


def test_categories_are_capped() -> None:
    df = pd.DataFrame({"c": [f"v{i % 1500}" for i in range(3000)]})
    col = infer_schema(df)["c"]
    assert col.kind == "categorical" and col.n_unique == 1500 and len(col.categories or ()) == 1000


def test_target_is_never_id_and_id_column_always_is() -> None:
    df = pd.DataFrame({"label": [f"l{i}" for i in range(30)], "x": np.arange(30) * 0.5})
    schema = infer_schema(df, target="label", id_column="x")
    assert schema["label"].kind == "categorical" and schema["x"].kind == "id"


def test_round_trip_through_json(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn, target="churned", id_column="customer_id")
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    assert isinstance(again["contract"].categories, tuple)


def test_container_behaviour(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn)
    assert schema.names == list(churn.columns) and len(schema) == churn.shape[1]
    assert "region" in schema and "nope" not in schema
    assert all(isinstance(c, ColumnSchema) for c in schema)
    with pytest.raises(KeyError, match="no column 'nope' in the schema"):
        schema["nope"]


def test_errors() -> None:
    df = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(DataError, match=r"target column 'y' is not in the data; columns: \['a', 'b'\]"):
        infer_schema(df, target="y")
    with pytest.raises(DataError, match="column names repeat: \\['a'\\]"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(DataError, match="unknown column kind 'float'; expected one of numeric"):
        infer_schema(df).by_kind("float")
    with pytest.raises(DataError, match="column 'a' has unknown kind 'bogus'"):
        Schema.from_dict({"columns": [{"name": "a", "kind": "bogus"}]})
    with pytest.raises(DataError, match="not a schema dict"):
        Schema.from_dict({"cols": []})
