"""Fixtures for the pipelines tests: a small frame with one column of each kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.core import spec_from_dict
from skloop.pipelines import FeatureSets


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """80 rows: numeric with NaN, categorical with None and a rare level, boolean,
    datetime with NaT, text with None, and the target ``y``."""
    rng = np.random.default_rng(0)
    n = 80
    age = rng.normal(40, 10, n)
    df = pd.DataFrame(
        {
            "age": np.where(rng.random(n) < 0.1, np.nan, age),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
            "member": rng.choice(["yes", "no"], n).astype(object),
            "signup": pd.date_range("2020-01-01", periods=n, freq="5D"),
            "review": rng.choice(["great product", "bad service", "ok"], n).astype(object),
        }
    )
    df.loc[3, "city"] = None
    df.loc[5, "city"] = "marseille"
    df.loc[6, "member"] = None
    df.loc[2, "signup"] = pd.NaT
    df.loc[7, "review"] = None
    df["y"] = (age > 40).astype(int)
    return df


@pytest.fixture
def mixed_features() -> FeatureSets:
    return FeatureSets(
        numeric=("age",),
        categorical=("city",),
        boolean=("member",),
        datetime=("signup",),
        text=("review",),
    )


@pytest.fixture
def make_spec():
    """Build a :class:`~skloop.core.Spec` from a ``pipeline`` section."""

    def make(pipeline: dict | None = None, **extra):
        data = {"name": "t", "data": {"train": "train.csv", "target": "y"}, **extra}
        if pipeline is not None:
            data["pipeline"] = pipeline
        return spec_from_dict(data)

    return make
