"""missing_handled_columns: the fitted model is asked which columns it scores when emptied (issue 10, item 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skloop.pipelines import FeatureSets, build_preprocessor, missing_handled_columns


def _table(n: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.uniform(1, 80, n),
            "fare": rng.gamma(2.0, 10.0, n),
            "sex": pd.Series(rng.choice(["m", "f"], n), dtype="str"),
            "pclass": pd.array(rng.integers(1, 4, n), dtype="Int64"),
        }
    )
    return X, (X["age"] > 40).to_numpy().astype(int)


def test_the_auto_preprocessing_fills_in_every_column() -> None:
    X, y = _table()
    pre = build_preprocessor(FeatureSets(numeric=("age", "fare", "pclass"), categorical=("sex",)))
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    assert missing_handled_columns(model, X) == ["age", "fare", "sex", "pclass"]


def test_an_estimator_that_takes_nan_handles_the_numeric_columns() -> None:
    X, y = _table()
    numeric = X[["age", "fare"]]
    assert missing_handled_columns(HistGradientBoostingClassifier(max_iter=5).fit(numeric, y), numeric) == [
        "age",
        "fare",
    ]


def test_only_the_imputed_branch_is_handled() -> None:
    X, y = _table()
    X = X[["age", "fare"]]
    pre = ColumnTransformer([("imputed", SimpleImputer(), ["age"]), ("scaled", StandardScaler(), ["fare"])])
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    assert missing_handled_columns(model, X) == ["age"]  # the scaler passes NaN on, the regression refuses it
    assert missing_handled_columns(model, X.iloc[:0]) == []
