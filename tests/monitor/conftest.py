"""Shared fixtures for the monitor tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

# --- drift and quality (test_drift*, test_stats*, test_quality*, test_compare*) ------

DRIFT_COLUMNS = ("num_normal", "num_skewed", "num_count", "num_uniform", "cat_a", "cat_b", "flag")


def _drift_frame(n: int, seed: int, shifted: frozenset[str]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = {c: c in shifted for c in DRIFT_COLUMNS}
    cat_p = [0.2, 0.2, 0.2, 0.4] if s["cat_a"] else [0.4, 0.3, 0.2, 0.1]
    return pd.DataFrame(
        {
            "row_id": np.arange(n, dtype=np.int64) + seed * 10_000_000,
            "num_normal": rng.normal(0.5 if s["num_normal"] else 0.0, 1.0, n),
            "num_skewed": rng.lognormal(0.0, 0.6 if s["num_skewed"] else 0.5, n) * 100,
            "num_count": rng.poisson(3.0 if s["num_count"] else 2.0, n).astype(np.int64),
            "num_uniform": rng.uniform(0.0, 1.3 if s["num_uniform"] else 1.0, n),
            "cat_a": pd.Series(rng.choice(["w", "x", "y", "z"], n, p=cat_p), dtype="str"),
            "cat_b": pd.Series(rng.choice(["p", "q", "r"], n, p=[0.5, 0.3, 0.2]), dtype="str"),
            "flag": rng.random(n) < (0.6 if s["flag"] else 0.4),
        }
    )


@pytest.fixture(scope="session")
def drift_frames() -> Callable[..., pd.DataFrame]:
    """``drift_frames(n, seed, shifted=())``: a table of 4 numeric, 2 categorical and 1 boolean
    feature plus a ``row_id``; columns named in ``shifted`` come from a moved distribution."""

    def make(n: int, seed: int, shifted: tuple[str, ...] | frozenset[str] = ()) -> pd.DataFrame:
        return _drift_frame(n, seed, frozenset(shifted))

    return make


# --- performance, windows and reports (test_performance*, test_windows*, test_report*) --

PERF_NUMERIC = ("age", "tenure_months", "monthly_charges", "total_charges", "support_calls")
PERF_INPUTS = (*PERF_NUMERIC, "contract", "region")


@pytest.fixture(scope="session")
def perf_churn_model() -> tuple[object, object, pd.DataFrame]:
    """A forest on the churn example's numbers, a CBPE calibrated on a holdout, and the training rows."""
    from sklearn.ensemble import RandomForestClassifier

    from skloop.data import make_churn
    from skloop.monitor import CBPE

    train, holdout = make_churn(2000, seed=0), make_churn(1000, seed=1)
    model = RandomForestClassifier(n_estimators=40, min_samples_leaf=5, random_state=0, n_jobs=1)
    model.fit(train[list(PERF_NUMERIC)], train["churned"])
    estimator = CBPE(classes=model.classes_).fit(model.predict_proba(holdout[list(PERF_NUMERIC)]), holdout["churned"])
    return model, estimator, train[[*PERF_INPUTS, "churned"]]


@pytest.fixture(scope="session")
def perf_log(perf_churn_model: tuple[object, object, pd.DataFrame]) -> pd.DataFrame:
    """Five days of logged predictions (400 a day): three like training with labels, then two
    drifted days (shift 0.8 and 1.0) without labels yet."""
    from skloop.data import make_churn

    model = perf_churn_model[0]
    parts = []
    for day, shift in enumerate((0.0, 0.0, 0.0, 0.8, 1.0)):
        rows = make_churn(400, seed=20 + day, shift=shift)
        proba = model.predict_proba(rows[list(PERF_NUMERIC)])  # type: ignore[attr-defined]
        frame = rows[list(PERF_INPUTS)].copy()
        start = pd.Timestamp("2025-03-01", tz="UTC") + pd.Timedelta(days=day)
        frame.insert(0, "time", start + pd.to_timedelta(np.arange(400) * 200, unit="s"))
        frame["prediction"] = proba.argmax(axis=1)
        frame["proba_0"], frame["proba_1"] = proba[:, 0], proba[:, 1]
        frame["label"] = rows["churned"].astype(object) if day < 3 else None
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)
