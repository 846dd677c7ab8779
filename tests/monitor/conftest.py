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
