"""Behaviour of skloop's transformers: values, unseen categories, missing values, pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from skloop.pipelines import (
    BooleanEncoder,
    DatetimeFeatures,
    MissingCategoryFiller,
    QuantileClipper,
    RareCategoryGrouper,
)


def test_filler_fills_every_kind_of_missing_and_casts_to_str():
    X = pd.DataFrame(
        {
            "a": pd.Series(["x", None, np.nan, "y"], dtype=object),
            "b": pd.Series([1, pd.NA, 3, 4], dtype="Int64"),
            "c": pd.Categorical(["u", None, "v", "u"]),
        }
    )
    out = MissingCategoryFiller(fill_value="?").fit(X).transform(X)
    assert out.dtype == object
    assert out.tolist() == [["x", "1", "u"], ["?", "?", "?"], ["?", "3", "v"], ["y", "4", "u"]]
    assert all(type(v) is str for v in out.ravel())


def test_filler_counts_missing_and_integral_floats_match_ints():
    filler = MissingCategoryFiller().fit(np.array([[1.0], [np.nan], [2.0]]))
    assert filler.missing_counts_.tolist() == [1]
    assert filler.transform(np.array([[1]], dtype=object)).tolist() == [["1"]]


def test_filler_pandas_output_keeps_names():
    X = pd.DataFrame({"city": ["a", None]})
    out = MissingCategoryFiller().set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["city"]
    assert out["city"].tolist() == ["a", "__missing__"]


def test_filler_is_not_fitted():
    with pytest.raises(NotFittedError):
        MissingCategoryFiller().transform([["a"]])


def test_grouper_fraction_count_and_unseen():
    X = np.array([["a"]] * 6 + [["b"]] * 3 + [["c"]], dtype=object)
    by_fraction = RareCategoryGrouper(min_frequency=0.2).fit(X)
    assert by_fraction.categories_[0].tolist() == ["a", "b"]
    by_count = RareCategoryGrouper(min_frequency=4, other_label="other").fit(X)
    assert by_count.categories_[0].tolist() == ["a"]
    out = by_fraction.transform(np.array([["a"], ["b"], ["c"], ["never seen"]], dtype=object))
    assert out.ravel().tolist() == ["a", "b", "__rare__", "__rare__"]


def test_grouper_zero_keeps_all_and_missing_stays_missing():
    X = np.array([["a"], ["b"], [None]], dtype=object)
    grouper = RareCategoryGrouper(min_frequency=0.0).fit(X)
    assert grouper.categories_[0].tolist() == ["a", "b"]
    out = grouper.transform(X)
    assert out[:2, 0].tolist() == ["a", "b"]
    assert pd.isna(out[2, 0])


def test_grouper_pandas_output_and_feature_names():
    X = pd.DataFrame({"c1": ["a", "a", "b"], "c2": ["x", "y", "y"]})
    grouper = RareCategoryGrouper(min_frequency=2).set_output(transform="pandas").fit(X)
    out = grouper.transform(X)
    assert list(out.columns) == ["c1", "c2"]
    assert out.to_numpy().tolist() == [["a", "__rare__"], ["a", "y"], ["__rare__", "y"]]


def test_grouper_rejects_bad_min_frequency():
    with pytest.raises(ValueError, match="min_frequency"):
        RareCategoryGrouper(min_frequency=1.5).fit([["a"]])


def test_datetime_features_from_datetimes_strings_and_missing():
    X = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-03-05 10:30", None]),
            "iso": ["2023-12-31T23:00:00", "not a date"],
        }
    )
    transformer = DatetimeFeatures(features=("year", "month", "dayofweek", "hour")).fit(X)
    out = transformer.transform(X)
    np.testing.assert_array_equal(out[0], [2024, 3, 1, 10, 2023, 12, 6, 23])
    assert np.isnan(out[1]).all()
    assert transformer.get_feature_names_out().tolist() == [
        "when_year", "when_month", "when_dayofweek", "when_hour",
        "iso_year", "iso_month", "iso_dayofweek", "iso_hour",
    ]  # fmt: skip


def test_datetime_features_timezones_become_utc_and_numbers_are_unix_seconds():
    X = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 12:00"]).tz_localize("Europe/Paris")})
    assert DatetimeFeatures(features=("hour",)).fit_transform(X).tolist() == [[11.0]]
    epoch = np.array([[86400.0 * 366]])
    assert DatetimeFeatures(features=("year", "dayofyear")).fit_transform(epoch).tolist() == [[1971.0, 2.0]]


def test_datetime_features_pandas_output():
    X = pd.DataFrame({"d": ["2020-01-02"]})
    out = DatetimeFeatures(features=("year", "day")).set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["d_year", "d_day"]
    assert out.iloc[0].tolist() == [2020.0, 2.0]


def test_datetime_features_rejects_unknown_feature():
    with pytest.raises(ValueError, match="weekofyear"):
        DatetimeFeatures(features=("weekofyear",)).fit([["2020-01-01"]])


def test_boolean_encoder_values():
    X = pd.DataFrame(
        {
            "s": ["Yes", "no", "TRUE", "f", None, ""],
            "b": pd.array([True, False, None, True, False, True], dtype="boolean"),
            "n": [1, 0, 2, np.nan, 0, 1],
        }
    )
    out = BooleanEncoder().fit_transform(X)
    expected = np.array([[1, 1, 1], [0, 0, 0], [1, np.nan, 1], [0, 1, np.nan], [np.nan, 0, 0], [np.nan, 1, 1]])
    np.testing.assert_array_equal(out, expected)


def test_boolean_encoder_unknown_values():
    X = np.array([["yes"], ["maybe"]], dtype=object)
    assert np.isnan(BooleanEncoder().fit_transform(X)[1, 0])
    with pytest.raises(ValueError, match=r"column 'flag' has the value 'maybe'"):
        BooleanEncoder(handle_unknown="error").fit(pd.DataFrame({"flag": ["yes", "maybe"]}))


def test_boolean_encoder_pandas_output():
    X = pd.DataFrame({"flag": ["y", "n"]})
    out = BooleanEncoder().set_output(transform="pandas").fit_transform(X)
    assert out["flag"].tolist() == [1.0, 0.0]


def test_quantile_clipper_bounds_nan_and_dtype():
    X = np.c_[np.arange(101, dtype=float), np.full(101, np.nan)]
    clipper = QuantileClipper(lower=0.05, upper=0.95).fit(X)
    np.testing.assert_allclose(clipper.lower_bounds_, [5.0, -np.inf])
    np.testing.assert_allclose(clipper.upper_bounds_, [95.0, np.inf])
    out = clipper.transform(np.array([[-1.0, 3.0], [np.nan, np.nan], [500.0, 1.0]]))
    np.testing.assert_array_equal(out, [[5.0, 3.0], [np.nan, np.nan], [95.0, 1.0]])
    assert clipper.transform(X.astype(np.float32)).dtype == np.float32


def test_quantile_clipper_pandas_output_and_bad_bounds():
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    out = QuantileClipper(lower=0.5, upper=0.5).set_output(transform="pandas").fit_transform(X)
    assert out["x"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="must not exceed"):
        QuantileClipper(lower=0.9, upper=0.1).fit(X)
