from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from skloop.core import DataError
from skloop.data import fingerprint, read_table


def _roundtrip(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    df.to_parquet(path)
    return pd.read_parquet(path)


def _rechunk(df: pd.DataFrame, sizes: list[int]) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    cuts = np.cumsum([0, *sizes])
    batches = [table.slice(int(a), int(b - a)) for a, b in itertools.pairwise(cuts)]
    rest = table.slice(int(cuts[-1]))
    return pa.concat_tables([*batches, rest])


def test_is_hex_sha256(mixed: pd.DataFrame) -> None:
    fp = fingerprint(mixed)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fingerprint(mixed) == fp


def test_stable_across_parquet_round_trip(tmp_path: Path, mixed: pd.DataFrame) -> None:
    assert fingerprint(_roundtrip(mixed, tmp_path / "t.parquet")) == fingerprint(mixed)


def test_stable_between_csv_and_parquet_reads(tmp_path: Path, churn: pd.DataFrame) -> None:
    churn.to_csv(tmp_path / "c.csv", index=False)
    churn.to_parquet(tmp_path / "c.parquet")
    fp = fingerprint(read_table(tmp_path / "c.csv"))
    assert fp == fingerprint(read_table(tmp_path / "c.parquet")) == fingerprint(churn)


def test_stable_across_chunk_layouts(mixed: pd.DataFrame) -> None:
    one = pa.Table.from_pandas(mixed, preserve_index=False)
    many = _rechunk(mixed, [1, 2, 0, 1])
    assert many.column(0).num_chunks > 1
    assert fingerprint(one) == fingerprint(many) == fingerprint(mixed)


def test_stable_across_pandas_backends(mixed: pd.DataFrame, churn: pd.DataFrame) -> None:
    for df in (mixed, churn):
        fp = fingerprint(df)
        assert fingerprint(df.convert_dtypes(dtype_backend="pyarrow")) == fp
        assert fingerprint(df.convert_dtypes(dtype_backend="numpy_nullable")) == fp
        objects = df.astype({c: object for c in df.columns if df[c].dtype == "str"})
        assert fingerprint(objects) == fp


def test_stable_across_widths_categories_units_and_index(mixed: pd.DataFrame) -> None:
    fp = fingerprint(mixed)
    assert fingerprint(mixed.astype({"i": "int16", "f": "float64"})) == fp
    assert fingerprint(mixed.astype({"i": "uint32"})) == fp
    assert fingerprint(mixed.astype({"s": "category"})) == fp
    assert fingerprint(mixed.assign(d=mixed["d"].dt.as_unit("ns"))) == fp
    assert fingerprint(mixed.set_axis(range(10, 16))) == fp
    utc = mixed.assign(t=mixed["t"].dt.tz_localize("UTC"))
    berlin = utc.assign(t=utc["t"].dt.tz_convert("Europe/Berlin"))
    assert fingerprint(utc) == fingerprint(berlin) != fp


def test_float32_widens_to_float64() -> None:
    df = pd.DataFrame({"x": np.array([0.5, 1.25, np.nan], dtype=np.float32)})
    assert fingerprint(df) == fingerprint(df.astype("float64"))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("i", 99),
        ("f", 0.5000001),
        ("s", "z"),
        ("b", False),
        ("d", pd.Timestamp("2024-01-02")),
        ("t", pd.Timestamp("2024-01-01 10:00:00.123457")),
    ],
)
def test_changes_when_one_value_changes(mixed: pd.DataFrame, column: str, value: object) -> None:
    changed = mixed.copy()
    changed.loc[0, column] = value
    assert fingerprint(changed) != fingerprint(mixed)


@pytest.mark.parametrize("column", ["i", "f", "s", "b", "d", "t"])
def test_changes_when_a_null_appears(mixed: pd.DataFrame, column: str) -> None:
    changed = mixed.copy()
    if column in ("i", "b"):
        changed[column] = changed[column].astype("Int64" if column == "i" else "boolean")
        assert fingerprint(changed) == fingerprint(mixed)
    changed.loc[3, column] = None
    assert fingerprint(changed) != fingerprint(mixed)


def test_null_differs_from_zero_and_empty_string() -> None:
    a = pd.DataFrame({"x": [0.0, 1.0], "s": ["", "a"]})
    b = pd.DataFrame({"x": [np.nan, 1.0], "s": ["", "a"]})
    c = pd.DataFrame({"x": [0.0, 1.0], "s": pd.Series([None, "a"], dtype="str")})
    assert len({fingerprint(a), fingerprint(b), fingerprint(c)}) == 3


def test_string_boundaries_matter() -> None:
    a = pd.DataFrame({"s": ["ab", "c"]})
    b = pd.DataFrame({"s": ["a", "bc"]})
    assert fingerprint(a) != fingerprint(b)


def test_changes_with_names_order_and_types(mixed: pd.DataFrame) -> None:
    fp = fingerprint(mixed)
    assert fingerprint(mixed.rename(columns={"f": "g"})) != fp
    assert fingerprint(mixed[list(reversed(mixed.columns))]) != fp
    assert fingerprint(mixed.iloc[::-1]) != fp
    assert fingerprint(mixed.astype({"i": "float64"})) != fp
    assert fingerprint(mixed.head(5)) != fp


def test_sliced_arrow_arrays_hash_their_own_values() -> None:
    table = pa.table({"s": ["x", "yy", None, "zzz"], "i": [1, 2, 3, 4], "b": [True, False, True, None]})
    sliced = table.slice(1, 3)
    fresh = pa.table({"s": ["yy", None, "zzz"], "i": [2, 3, 4], "b": [False, True, None]})
    assert fingerprint(sliced) == fingerprint(fresh)


def test_nan_in_arrow_counts_as_missing() -> None:
    with_nan = pa.table({"x": pa.array([1.0, float("nan")])})
    with_null = pa.table({"x": pa.array([1.0, None])})
    assert fingerprint(with_nan) == fingerprint(with_null)


def test_mixed_object_column_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"cannot fingerprint the DataFrame: .*astype\(str\)"):
        fingerprint(pd.DataFrame({"x": pd.Series([1, "a", 2.5], dtype=object)}))
    with pytest.raises(DataError, match="expects a pandas DataFrame or a pyarrow Table; got list"):
        fingerprint([1, 2])  # type: ignore[arg-type]


def test_fast_enough_for_a_million_rows() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    cols: dict[str, object] = {f"f{k}": rng.normal(size=n) for k in range(10)}
    cols.update({f"i{k}": rng.integers(0, 1000, n) for k in range(7)})
    cols.update({f"s{k}": pd.Series(rng.choice(["north", "south", "east"], n), dtype="str") for k in range(2)})
    cols["t"] = pd.date_range("2020-01-01", periods=n, freq="s")
    df = pd.DataFrame(cols)
    start = time.perf_counter()
    fingerprint(df)
    assert time.perf_counter() - start < 3.0


_frames = hpd.data_frames(
    columns=[
        hpd.column("i", dtype=np.int64),
        hpd.column("f", elements=st.floats(allow_nan=True, allow_infinity=False, width=64)),
        hpd.column("s", elements=st.one_of(st.none(), st.text(max_size=5))),
        hpd.column("b", dtype=bool),
        hpd.column(
            "d",
            elements=st.datetimes(
                min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                max_value=pd.Timestamp("2100-01-01").to_pydatetime(),
            ),
        ),
    ],
    index=hpd.range_indexes(min_size=0, max_size=30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(df=_frames, sizes=st.lists(st.integers(0, 10), max_size=4))
def test_property_parquet_round_trip_and_rechunking(tmp_path: Path, df: pd.DataFrame, sizes: list[int]) -> None:
    df = df.astype({"s": "str", "d": "datetime64[us]"})
    fp = fingerprint(df)
    assert fingerprint(_roundtrip(df, tmp_path / "h.parquet")) == fp
    assert fingerprint(_rechunk(df, sizes)) == fp
