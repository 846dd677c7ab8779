"""Permutation importance: skloop's batched calls against scikit-learn's ``permutation_importance``.

Same fitted pipelines, same seeds, same scorers; checks the importances are equal and
prints each tool's time and the ratio (scikit-learn / skloop), measured in the same run::

    python benchmarks/bench_importance.py [--rows 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skloop.registry import column_importance


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "c": pd.Categorical(rng.choice(list("xyz"), n)),
        "d": rng.choice(["p", "q"], n),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3, help="timings per tool; the best is kept")
    args = parser.parse_args()
    X = _frame(args.rows)
    noise = np.random.default_rng(1).normal(size=len(X))
    binary = ((X["a"] + (X["c"] == "x") + noise) > 0.5).astype(int)
    classes = np.where(X["a"] > 0.5, "hi", np.where(X["b"] > 0, "mid", "lo"))
    target = 3 * X["a"] + X["b"] + noise
    cases = [
        ("forest", RandomForestClassifier(50, random_state=0), binary, "roc_auc"),
        ("logistic", LogisticRegression(), binary, "neg_log_loss"),
        ("logistic", LogisticRegression(), classes, "accuracy"),
        ("forest", RandomForestClassifier(30, random_state=0), classes, "roc_auc_ovr"),
        ("ridge", Ridge(), target, "r2"),
        ("forest", RandomForestRegressor(30, random_state=0), target, "neg_root_mean_squared_error"),
    ]
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rows} rows, 4 columns, 5 repeats per column")
    print(f"{'model':<9} {'scoring':<28} {'sklearn s':>9} {'skloop s':>9} {'ratio':>6}  equal")
    for label, estimator, y, scoring in cases:
        ct = make_column_transformer((StandardScaler(), ["a", "b"]), (OneHotEncoder(), ["c", "d"]))
        model = make_pipeline(ct, estimator).fit(X, y)
        theirs_s = ours_s = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            theirs = permutation_importance(model, X, np.asarray(y), scoring=scoring, n_repeats=5, random_state=3)
            theirs_s = min(theirs_s, time.perf_counter() - t)
            t = time.perf_counter()
            ours = column_importance(model, X, y, scoring=scoring, seed=3)
            ours_s = min(ours_s, time.perf_counter() - t)
        equal = all(
            ours[c]["mean"] == theirs.importances_mean[i] and ours[c]["std"] == theirs.importances_std[i]
            for i, c in enumerate(X.columns)
        )
        print(f"{label:<9} {scoring:<28} {theirs_s:9.3f} {ours_s:9.3f} {theirs_s / ours_s:5.1f}x  {equal}")


if __name__ == "__main__":
    main()
