"""`auto` preprocessing scales calendar features, so a linear model's solver converges."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skloop.pipelines import FeatureSets, build_preprocessor


def _frame(n: int = 4000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    seconds = rng.integers(0, 6 * 365 * 86400, n)
    when = pd.to_datetime("2019-01-01") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame({"age": rng.normal(40, 10, n), "signup": when})
    logit = (frame["age"] - 40) / 10 + (when.month.to_numpy() - 6.5) / 3
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_calendar_features_come_out_standardised() -> None:
    X, y = _frame()
    out = build_preprocessor(FeatureSets(numeric=("age",), datetime=("signup",))).fit_transform(X, y)
    varying = out[:, out.std(axis=0) > 0]
    assert varying.shape[1] >= 4  # age plus the calendar parts that vary
    np.testing.assert_allclose(varying.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(varying.std(axis=0), 1.0, atol=1e-9)


def test_logistic_regression_converges_on_the_auto_pipeline() -> None:
    X, y = _frame()
    pipe = Pipeline([
        ("preprocess", build_preprocessor(FeatureSets(numeric=("age",), datetime=("signup",)))),
        ("model", LogisticRegression(max_iter=100)),
    ])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # unscaled, lbfgs stops at max_iter
        pipe.fit(X, y)
    assert pipe.named_steps["model"].n_iter_[0] < 50
