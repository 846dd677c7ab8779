"""DatetimeFeatures gives the same features whatever the datetime64 unit (MLflow sends ns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.pipelines import DatetimeFeatures


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
def test_every_datetime64_unit_matches_parsed_strings(unit: str) -> None:
    text = pd.DataFrame({"d": ["2024-02-29T13:00:00", "1969-07-20T20:17:00", None]})
    stamps = pd.DataFrame({"d": pd.to_datetime(text["d"]).astype(f"datetime64[{unit}]")})
    expected = DatetimeFeatures().fit(text).transform(text)
    got = DatetimeFeatures().fit(stamps).transform(stamps)
    np.testing.assert_array_equal(got, expected)
    assert got[0, 0] == 2024 and np.isnan(got[2]).all()
