from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import OTHER, QUANTILE_LEVELS, DatasetProfile, infer_schema, profile


@pytest.fixture(scope="module")
def churn_profile(churn: pd.DataFrame) -> DatasetProfile:
    schema = infer_schema(churn, target="churned", id_column="customer_id")
    return profile(churn, schema)


@pytest.mark.parametrize("name", ["monthly_charges", "total_charges", "tenure_months", "age"])
def test_numeric_values_match_pandas(churn: pd.DataFrame, churn_profile: DatasetProfile, name: str) -> None:
    col, p = churn[name], churn_profile[name]
    values = col.dropna().to_numpy(dtype=float)
    assert p.kind == "numeric"
    assert p.count == col.count() and p.missing == col.isna().sum()
    assert p.missing_share == pytest.approx(col.isna().mean())
    assert p.mean == pytest.approx(col.mean(), rel=1e-12)
    assert p.std == pytest.approx(col.std(), rel=1e-12)
    assert (p.min, p.max) == (col.min(), col.max())
    expected = col.quantile(list(QUANTILE_LEVELS)).to_numpy()
    np.testing.assert_allclose([v for _, v in p.quantiles or ()], expected, rtol=1e-12)
    assert p.quantile(0.5) == pytest.approx(col.median())
    edges = np.asarray(p.bin_edges)
    assert np.all(np.diff(edges) > 0) and 2 <= len(edges) <= 21
    assert edges[0] == col.min() and edges[-1] == col.max()
    np.testing.assert_array_equal(p.bin_counts, np.histogram(values, bins=edges)[0])
    assert sum(p.bin_counts or ()) == p.count


def test_monthly_charges_has_missing_and_equal_mass_bins(churn_profile: DatasetProfile) -> None:
    p = churn_profile["monthly_charges"]
    assert 0.01 < p.missing_share < 0.06
    assert len(p.bin_counts or ()) == 20
    assert max(p.bin_counts or ()) - min(p.bin_counts or ()) <= 3


def test_dedup_edges_for_discrete_and_constant_columns() -> None:
    df = pd.DataFrame({"d": [0] * 80 + [1] * 15 + [5] * 5, "k": [3.0] * 100})
    prof = profile(df, infer_schema(df))
    assert prof["d"].bin_edges == (0.0, 1.0, 5.0)
    assert prof["d"].bin_counts == (80, 20)
    assert prof["k"].bin_edges == (2.5, 3.5) and prof["k"].bin_counts == (100,)
    assert prof["k"].std == 0.0


def test_histogram_bins_new_data_like_the_reference(churn_profile: DatasetProfile) -> None:
    p = churn_profile["tenure_months"]
    counts = p.histogram([-100, 0, 10, 1000, np.nan, np.inf])
    assert counts.sum() == 4 and counts[0] >= 2 and counts[-1] >= 1
    with pytest.raises(DataError, match="column 'contract' \\(categorical\\) has no histogram"):
        churn_profile["contract"].histogram([1])


def test_categorical_frequencies_match_value_counts(churn: pd.DataFrame, churn_profile: DatasetProfile) -> None:
    for name in ("contract", "payment_method", "region", "has_partner", "churned"):
        p = churn_profile[name]
        assert p.frequency_map() == churn[name].value_counts().to_dict()
        assert p.n_unique == churn[name].nunique()
        assert p.missing == churn[name].isna().sum()
    counts = [n for _, n in churn_profile["region"].frequencies or ()]
    assert counts == sorted(counts, reverse=True)


def test_frequencies_are_capped_with_other() -> None:
    df = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d", "e"]})
    p = profile(df, infer_schema(df), max_frequencies=2)["c"]
    assert p.frequencies == (("a", 5), ("b", 4), (OTHER, 5)) and p.n_unique == 5


def test_datetime_text_and_id(churn: pd.DataFrame, churn_profile: DatasetProfile) -> None:
    d = churn_profile["signup_date"]
    assert d.min == churn["signup_date"].min().isoformat() and d.mean is None
    i = churn_profile["customer_id"]
    assert i.kind == "id" and i.n_unique == len(churn)
    notes = pd.Series(["a much longer sentence of many words here", None, "short words in a row now"])
    df = pd.DataFrame({"notes": notes})
    t = profile(df, infer_schema(df))["notes"]
    assert t.kind == "text" and t.n_unique == 2 and t.missing == 1
    assert t.mean_length == pytest.approx(notes.dropna().str.len().mean())


def test_empty_and_all_missing_columns() -> None:
    df = pd.DataFrame({"x": [np.nan, np.nan], "c": pd.Series([None, None], dtype="str")})
    p = profile(df, infer_schema(df))
    assert p["x"].missing == 2 and p["x"].mean is None and p["x"].bin_edges is None
    assert p["c"].frequencies == ()
    e = profile(df.head(0), infer_schema(df.head(0)))
    assert e.n_rows == 0 and e["x"].missing_share == 0.0


def test_json_round_trip(churn_profile: DatasetProfile) -> None:
    text = json.dumps(churn_profile.to_dict(), allow_nan=False)
    again = DatasetProfile.from_dict(json.loads(text))
    assert again == churn_profile
    assert again.n_rows == 1500 and again.names == churn_profile.names
    assert again["has_partner"].frequency_map()[True] > 0


def test_errors(churn: pd.DataFrame) -> None:
    schema = infer_schema(churn)
    with pytest.raises(DataError, match=r"columns \['region'\] of the schema are not in the data"):
        profile(churn.drop(columns="region"), schema)
    wrong = infer_schema(pd.DataFrame({"region": [1.0, 2.0]}))
    with pytest.raises(DataError, match="column 'region' is declared numeric but holds str values"):
        profile(churn, wrong)
    with pytest.raises(DataError, match=r"has no stored quantile 0\.3"):
        profile(churn, schema)["age"].quantile(0.3)
    with pytest.raises(DataError, match="not a profile dict"):
        DatasetProfile.from_dict({"columns": []})
