"""Shared fixtures for the data layer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.data import make_churn


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """A small churn table; tests must not modify it (copy first)."""
    return make_churn(1500, seed=0)


@pytest.fixture
def mixed() -> pd.DataFrame:
    """One column of each kind, with missing values where a CSV allows them."""
    return pd.DataFrame(
        {
            "i": np.arange(6, dtype=np.int64),
            "f": [0.5, np.nan, 2.25, -1.0, 3.0, 1e9],
            "s": pd.Series(["a", "b", None, "a", "c", "b"], dtype="str"),
            "b": [True, False, True, True, False, False],
            "d": pd.to_datetime(["2024-01-01", "2024-02-29", None, "2023-12-31", "2024-06-30", "2020-01-01"]).as_unit(
                "us"
            ),
            "t": pd.to_datetime(
                [
                    "2024-01-01 10:00:00.123456",
                    "2024-02-29 23:59:59",
                    "2024-03-01 00:00:00",
                    "2023-12-31 12:30:00",
                    None,
                    "2020-01-01 01:02:03",
                ],
                format="ISO8601",
            ).as_unit("us"),
        }
    )
