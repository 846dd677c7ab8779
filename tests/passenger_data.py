"""A passenger-like table for the tests of missing values (issue 10, item 6).

``Age`` and ``Embarked`` have missing values in training; ``Fare``, ``Sex`` and
``Pclass`` have none. :func:`fit_passengers` fits the ``auto`` preprocessing (which
fills in every column) or, with ``impute_pclass=False``, passes ``Pclass`` through raw
to a logistic regression, which cannot score it missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ID = "passenger_id"
"""The entity id column (``data.id``)."""


def passengers(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``(X with the id column, y)``: missing ``Age`` and ``Embarked`` only."""
    rng = np.random.default_rng(seed)
    pclass = rng.integers(1, 4, n)
    sex = rng.choice(["male", "female"], n)
    age = rng.uniform(1, 80, n).round(1)
    fare = (rng.gamma(2.0, 15.0, n) / pclass).round(2)
    embarked = rng.choice(["S", "C", "Q"], n, p=[0.7, 0.2, 0.1]).astype(object)
    age_missing = rng.random(n) < 0.2
    embarked[rng.random(n) < 0.05] = None
    logit = 1.5 * (sex == "female") - 0.8 * (pclass - 2) + 0.01 * fare - 0.02 * age
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="Survived")
    X = pd.DataFrame(
        {
            ID: [f"p-{i}" for i in range(n)],
            "Pclass": pclass,
            "Sex": sex,
            "Age": np.where(age_missing, np.nan, age),
            "Fare": fare,
            "Embarked": embarked,
        }
    )
    return X, y


def fit_passengers(impute_pclass: bool = True) -> tuple[Any, pd.DataFrame, pd.Series]:
    """The fitted pipeline (``auto`` preprocessing, or ``Pclass`` passed through raw), X (no id), y."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from skloop.pipelines import FeatureSets, build_preprocessor

    X, y = passengers()
    X = X.drop(columns=[ID])
    if impute_pclass:
        pre = build_preprocessor(FeatureSets(numeric=("Pclass", "Age", "Fare"), categorical=("Sex", "Embarked")))
    else:
        auto = build_preprocessor(FeatureSets(numeric=("Age", "Fare"), categorical=("Sex", "Embarked")))
        pre = ColumnTransformer([*auto.transformers, ("raw", "passthrough", ["Pclass"])])
    pipe = Pipeline([("preprocess", pre), ("model", LogisticRegression(max_iter=500))])
    return pipe.fit(X, y), X, y
