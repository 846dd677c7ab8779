from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skloop.data import fingerprint, infer_schema, make_churn, read_table, write_example

CATEGORICAL = ["contract", "payment_method", "region"]
NUMERIC = [
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "has_partner",
    "paperless_billing",
]


def _model() -> object:
    # a linear model: single-threaded and fast, and the generator's signal is logistic
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
    )
    return make_pipeline(encode, LogisticRegression(max_iter=1000))


def _xy(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    x = df[CATEGORICAL + NUMERIC].copy()
    x[CATEGORICAL] = x[CATEGORICAL].astype(object).fillna("missing")
    return x, df["churned"]


def test_same_seed_and_shift_give_identical_frames() -> None:
    a, b = make_churn(800, seed=3, shift=0.4), make_churn(800, seed=3, shift=0.4)
    pdt.assert_frame_equal(a, b)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(make_churn(800, seed=4, shift=0.4)) != fingerprint(a)
    assert fingerprint(make_churn(800, seed=3, shift=0.5)) != fingerprint(a)


def test_columns_and_shape(churn: pd.DataFrame) -> None:
    assert churn["customer_id"].is_unique
    assert str(churn["signup_date"].dtype) == "datetime64[us]"
    assert churn["tenure_months"].dtype == np.int64 and churn["churned"].dtype == np.int64
    assert 0.015 < churn["monthly_charges"].isna().mean() < 0.05
    assert churn["payment_method"].isna().any()
    shares = churn["region"].value_counts(normalize=True)
    assert (shares < 0.01).sum() >= 2
    assert sorted(churn["contract"].unique()) == ["month-to-month", "one-year", "two-year"]
    assert 0.2 < churn["churned"].mean() < 0.3


def test_kinds_via_infer_schema(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn, target="churned")
    assert schema["customer_id"].kind == "id"
    assert schema["signup_date"].kind == "datetime"
    assert set(schema.by_kind("numeric")) == {
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
    }
    assert set(schema.by_kind("categorical")) == set(CATEGORICAL)
    assert {"has_partner", "paperless_billing"} <= set(schema.by_kind("boolean"))


def test_signal_is_learnable(churn: pd.DataFrame) -> None:
    x, y = _xy(churn)
    auc = cross_val_score(_model(), x, y, cv=3, scoring="roc_auc").mean()  # type: ignore[arg-type]
    assert auc > 0.75


def test_shift_moves_distributions() -> None:
    ref, drifted = make_churn(2000, seed=0), make_churn(2000, seed=0, shift=1.0)
    assert drifted["monthly_charges"].mean() > ref["monthly_charges"].mean() + 5
    assert drifted["tenure_months"].mean() < ref["tenure_months"].mean() - 5
    m2m = "month-to-month"
    assert (drifted["contract"] == m2m).mean() > (ref["contract"] == m2m).mean() + 0.15
    assert "metro" in set(drifted["region"]) and "metro" not in set(ref["region"])
    assert drifted["signup_date"].max() > ref["signup_date"].max()
    small = make_churn(2000, seed=0, shift=0.05)
    assert (small["contract"] != ref["contract"]).mean() < 0.05


def test_shift_hurts_an_old_model_and_retraining_recovers() -> None:
    old = _model().fit(*_xy(make_churn(3000, seed=1)))  # type: ignore[attr-defined]
    new = _model().fit(*_xy(make_churn(3000, seed=2, shift=1.0)))  # type: ignore[attr-defined]
    x0, y0 = _xy(make_churn(2000, seed=3))
    x1, y1 = _xy(make_churn(2000, seed=3, shift=1.0))
    auc_old_before = roc_auc_score(y0, old.predict_proba(x0)[:, 1])
    auc_old_after = roc_auc_score(y1, old.predict_proba(x1)[:, 1])
    auc_new_after = roc_auc_score(y1, new.predict_proba(x1)[:, 1])
    assert auc_old_after < auc_old_before - 0.1
    assert auc_new_after > auc_old_after + 0.1
    acc_old = (old.predict(x1) == y1).mean()
    acc_new = (new.predict(x1) == y1).mean()
    assert acc_new > acc_old + 0.05


def test_write_example_round_trips(tmp_path: Path) -> None:
    path = write_example(tmp_path / "project", n_rows=300, seed=5)
    assert path == tmp_path / "project" / "data" / "churn.csv"
    df = read_table(path)
    pdt.assert_frame_equal(df, make_churn(300, seed=5))
    assert fingerprint(df) == fingerprint(make_churn(300, seed=5))


def test_rejects_empty_request() -> None:
    with pytest.raises(ValueError, match="n_rows must be at least 1; got 0"):
        make_churn(0)
