from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from skloop.core import DataError, SqlSource
from skloop.data import iter_batches, read_table


def test_csv_and_parquet_of_the_same_table_are_equal(tmp_path: Path, mixed: pd.DataFrame) -> None:
    mixed.to_csv(tmp_path / "t.csv", index=False)
    mixed.to_parquet(tmp_path / "t.parquet")
    from_csv = read_table(tmp_path / "t.csv")
    from_parquet = read_table(tmp_path / "t.parquet")
    pdt.assert_frame_equal(from_csv, from_parquet)
    pdt.assert_frame_equal(from_csv, mixed)
    assert str(from_csv["d"].dtype) == "datetime64[us]"


def test_gzipped_csv_and_pq_suffix(tmp_path: Path, mixed: pd.DataFrame) -> None:
    mixed.to_csv(tmp_path / "t.csv.gz", index=False)
    mixed.to_parquet(tmp_path / "t.pq")
    pdt.assert_frame_equal(read_table(tmp_path / "t.csv.gz"), read_table(tmp_path / "t.pq"))


def test_relative_path_resolves_against_base_dir(tmp_path: Path, mixed: pd.DataFrame) -> None:
    (tmp_path / "data").mkdir()
    mixed.to_csv(tmp_path / "data" / "t.csv", index=False)
    assert len(read_table("data/t.csv", base_dir=tmp_path)) == len(mixed)


def test_offsets_parse_to_utc(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("at,x\n2024-01-01T10:00:00+02:00,1\n2024-01-01T08:00:00Z,2\n")
    at = read_table(tmp_path / "t.csv")["at"]
    assert str(at.dtype) == "datetime64[us, UTC]"
    assert at.iloc[0] == at.iloc[1]


def test_non_iso_strings_stay_strings(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("d,code,bad\n2024-01-01,2024-13,2024-02-30\n01/02/2024,x,2024-03-01\n")
    df = read_table(tmp_path / "t.csv")
    assert df["d"].dtype == "str" and df["code"].dtype == "str" and df["bad"].dtype == "str"


def test_parquet_nanoseconds_kept_when_not_whole_microseconds(tmp_path: Path) -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:00.000000001"]).as_unit("ns")})
    df.to_parquet(tmp_path / "t.parquet")
    assert str(read_table(tmp_path / "t.parquet")["t"].dtype) == "datetime64[ns]"
    whole = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:01"]).as_unit("ns")})
    whole.to_parquet(tmp_path / "w.parquet")
    assert str(read_table(tmp_path / "w.parquet")["t"].dtype) == "datetime64[us]"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv does not exist \(resolved against"):
        read_table("nope.csv", base_dir=tmp_path)


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "t.xls").write_text("a\n1\n")
    with pytest.raises(DataError, match=r"t\.xls has an unknown format.*\.csv"):
        read_table(tmp_path / "t.xls")


def test_garbled_parquet_carries_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"cannot read Parquet file .*bad\.parquet: .+") as info:
        read_table(tmp_path / "bad.parquet")
    assert info.value.__cause__ is not None


def test_garbled_csv_carries_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text('a,b\n1,2\n3,4,5,6\n"unterminated\n')
    with pytest.raises(DataError, match=r"cannot read CSV file .*bad\.csv: .*Expected 2 fields"):
        read_table(tmp_path / "bad.csv")


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 10000)
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read CSV file .*t\.csv\.gz"):
        read_table(tmp_path / "t.csv.gz")


def test_empty_csv(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv is empty"):
        read_table(tmp_path / "e.csv")


def _sqlite(tmp_path: Path, df: pd.DataFrame) -> str:
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as con:
        df.to_sql("customers", con, index=False)
    con.close()
    return f"sqlite:///{path}"


def test_sql_source_reads_through_sqlalchemy(tmp_path: Path, churn: pd.DataFrame) -> None:
    small = churn.head(200)
    url = _sqlite(tmp_path, small)
    df = read_table(SqlSource(url=url, query="SELECT * FROM customers"))
    assert df.columns.tolist() == small.columns.tolist()
    # SQLite has no datetime or bool type: dates come back as ISO text and are parsed
    assert str(df["signup_date"].dtype) == "datetime64[us]"
    pdt.assert_series_equal(df["signup_date"], small["signup_date"])
    pdt.assert_series_equal(df["monthly_charges"], small["monthly_charges"])
    pdt.assert_series_equal(df["customer_id"], small["customer_id"])


def test_sql_source_error_names_the_query_and_hides_password(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, pd.DataFrame({"a": [1]}))
    with pytest.raises(DataError, match=r"query 'SELECT \* FROM nowhere'.*no such table"):
        read_table(SqlSource(url=url, query="SELECT * FROM nowhere"))
    bad = SqlSource(url="nosuchdialect://user:secret@host/db", query="SELECT 1")
    with pytest.raises(DataError, match=r"user:\*\*\*@host") as info:
        read_table(bad)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet"])
def test_iter_batches_covers_all_rows(tmp_path: Path, churn: pd.DataFrame, suffix: str) -> None:
    path = tmp_path / f"churn.{suffix}"
    if suffix == "parquet":
        churn.to_parquet(path)
    else:
        churn.to_csv(path, index=False)
    batches = list(iter_batches(path, batch_rows=400))
    assert [len(b) for b in batches] == [400, 400, 400, 300]
    whole = pd.concat(batches)
    assert whole.index.equals(pd.RangeIndex(len(churn)))
    pdt.assert_frame_equal(whole, read_table(path))
    pdt.assert_frame_equal(whole, churn)


def test_iter_batches_sql(tmp_path: Path, churn: pd.DataFrame) -> None:
    url = _sqlite(tmp_path, churn.head(250))
    batches = list(iter_batches(SqlSource(url=url, query="SELECT * FROM customers"), 100))
    assert [len(b) for b in batches] == [100, 100, 50]
    assert all(str(b["signup_date"].dtype) == "datetime64[us]" for b in batches)


def test_iter_batches_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="batch_rows must be a positive integer; got 0"):
        next(iter_batches(tmp_path / "x.csv", batch_rows=0))
    with pytest.raises(DataError, match=r"x\.csv does not exist"):
        next(iter_batches(tmp_path / "x.csv"))


def test_stopping_early_closes_the_csv_file(tmp_path) -> None:
    import gc
    import warnings

    import pandas as pd

    from skloop.data import iter_batches

    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(100)}).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        batches = iter_batches(path, batch_rows=10)
        first = next(batches)
        batches.close()
        del batches
        gc.collect()
    assert len(first) == 10


def _same_as_comma_csv(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / "comma.csv").write_text("age,fare,town\n41,7.25,Leeds\n35,71.5,York\n")
    (tmp_path / name).write_text(text)
    pdt.assert_frame_equal(read_table(tmp_path / name), read_table(tmp_path / "comma.csv"))
    batches = list(iter_batches(tmp_path / name, batch_rows=1))
    pdt.assert_frame_equal(pd.concat(batches), read_table(tmp_path / "comma.csv"))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # European exports (UCI's wine quality, many government portals): ';' and decimal commas
        ("semicolons.csv", "age;fare;town\n41;7,25;Leeds\n35;71,5;York\n"),
        ("semicolons_points.csv", "age;fare;town\n41;7.25;Leeds\n35;71.5;York\n"),
        ("tabs.tsv", "age\tfare\ttown\n41\t7.25\tLeeds\n35\t71.5\tYork\n"),
        ("pipes.txt", "age|fare|town\n41|7.25|Leeds\n35|71.5|York\n"),
    ],
)
def test_the_separator_and_a_decimal_comma_are_sniffed(tmp_path: Path, name: str, text: str) -> None:
    _same_as_comma_csv(tmp_path, name, text)


def test_commas_inside_quoted_text_are_not_taken_for_a_separator_or_decimals(tmp_path: Path) -> None:
    text = 'age,fare,town\n41,7.25,"Leeds, West Yorkshire"\n35,71.5,"York, 1,5 miles out"\n'
    (tmp_path / "t.csv").write_text(text)
    assert read_table(tmp_path / "t.csv")["town"].tolist() == ["Leeds, West Yorkshire", "York, 1,5 miles out"]


def test_json_lines(tmp_path: Path) -> None:
    text = '{"age": 41, "fare": 7.25, "town": "Leeds"}\n{"age": 35, "fare": 71.5, "town": "York"}\n'
    _same_as_comma_csv(tmp_path, "t.jsonl", text)
    with gzip.open(tmp_path / "t.ndjson.gz", "wt") as fh:
        fh.write(text)
    assert read_table(tmp_path / "t.ndjson.gz")["town"].tolist() == ["Leeds", "York"]
    (tmp_path / "bad.jsonl").write_text('{"age": 41}\nnot json\n')
    with pytest.raises(DataError, match=r"cannot read JSON lines file .*bad\.jsonl"):
        read_table(tmp_path / "bad.jsonl")
