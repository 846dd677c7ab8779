"""Fuzzing the readers: random bytes, cut or mutated valid files, odd encodings, huge fields.

Every input goes through both :func:`read_table` and :func:`iter_batches`; each may read
a table or raise :class:`DataError`, and nothing else.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_budget import fuzz_settings
from skloop.core import DataError
from skloop.data import iter_batches, read_table

SUFFIXES = [".csv", ".tsv", ".txt", ".csv.gz", ".parquet", ".pq", ".jsonl", ".ndjson"]


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "stamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "x": rng.normal(size=n),
            "n": rng.integers(0, 100, size=n),
            "cat": rng.choice(["a", "b", "é", ""], size=n),
            "flag": rng.random(n) > 0.5,
        }
    )


def _valid_bytes(suffix: str) -> bytes:
    df = _table()
    if suffix in (".parquet", ".pq"):
        buf = io.BytesIO()
        df.to_parquet(buf)
        return buf.getvalue()
    if suffix in (".jsonl", ".ndjson"):
        return df.to_json(orient="records", lines=True, date_format="iso").encode()
    text = df.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",").encode()
    return gzip.compress(text, mtime=0) if suffix.endswith(".gz") else text


VALID = {s: _valid_bytes(s) for s in SUFFIXES}


def _read_both(path: Path) -> None:
    try:
        read_table(path)
    except DataError as exc:
        assert str(exc)
    try:
        for _ in iter_batches(path, batch_rows=7):
            pass
    except DataError as exc:
        assert str(exc)


def _write(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"t{suffix}"
    path.write_bytes(data)
    return path


@fuzz_settings(0.5)
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=400))
def test_random_bytes_read_or_give_a_data_error(tmp_path: Path, suffix: str, data: bytes) -> None:
    _read_both(_write(tmp_path, suffix, data))


@fuzz_settings(0.5)
@given(
    suffix=st.sampled_from(SUFFIXES),
    cut=st.floats(0, 1),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
)
def test_cut_and_mutated_valid_files_read_or_give_a_data_error(
    tmp_path: Path, suffix: str, cut: float, edits: list[tuple[float, int]]
) -> None:
    data = bytearray(VALID[suffix])
    for where, byte in edits:
        data[int(where * (len(data) - 1))] = byte
    _read_both(_write(tmp_path, suffix, bytes(data[: max(1, int(cut * len(data)))])))


@fuzz_settings(0.3)
@given(
    suffix=st.sampled_from([".csv", ".tsv", ".csv.gz", ".jsonl"]),
    encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "shift_jis"]),
    text=st.text(alphabet=st.characters(codec="latin-1"), max_size=30),
)
def test_odd_encodings_read_or_give_a_data_error(tmp_path: Path, suffix: str, encoding: str, text: str) -> None:
    raw = VALID[".csv" if suffix == ".csv.gz" else suffix]
    plain = raw.decode() if not raw.startswith(b"\x1f\x8b") else gzip.decompress(raw).decode()
    data = (plain + text).encode(encoding, errors="replace")
    _read_both(_write(tmp_path, suffix, gzip.compress(data, mtime=0) if suffix.endswith(".gz") else data))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("size", [2**22])
def test_huge_fields_are_read(tmp_path: Path, suffix: str, size: int) -> None:
    df = pd.DataFrame({"a": ["x" * size, "y"], "b": [1, 2]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    got = read_table(path)
    assert len(got.loc[0, "a"]) == size and got["b"].tolist() == [1, 2]
    assert sum(len(b) for b in iter_batches(path, batch_rows=1)) == 2


@pytest.mark.parametrize(
    "text",
    [
        'a,b\n"unterminated,1\n',
        "a,b\n1,2,3,4\n",
        "a,a,a\n1,2,3\n",
        ",\n,\n",
        "\n\n\n",
        "a\x00b,c\n1,2\n",
        "a;b\n1,5;2\n3;4,5\n",
        "a|b\n" + "1|2\n" * 3 + "x" * 70_000 + "\n",
        "a,b\n" + '1,"' + "q" * 200_000 + '"\n',
        "day\n2024-02-30\n2024-01-01\n",
        "day\n9999-12-31T23:59:59+14:00\n0001-01-01\n",
        "day\n2024-01-01T00:00:00+99:99\n",
    ],
)
def test_odd_csv_shapes_read_or_give_a_data_error(tmp_path: Path, text: str) -> None:
    _read_both(_write(tmp_path, ".csv", text.encode()))


def test_a_corrupted_gzip_stream_is_a_data_error(tmp_path: Path) -> None:
    """Regression: a flipped byte in a .csv.gz raised zlib.error from the sniffer and the reader."""
    data = bytearray(VALID[".csv.gz"])
    data[len(data) // 2] ^= 0xFF
    path = _write(tmp_path, ".csv.gz", bytes(data))
    with pytest.raises(DataError, match=r"t\.csv\.gz"):
        read_table(path)
    with pytest.raises(DataError, match=r"t\.csv\.gz"):
        list(iter_batches(path, batch_rows=7))


def test_a_later_batch_of_numbers_in_a_date_column_is_left_as_numbers(tmp_path: Path) -> None:
    """Regression: the first batch made ``day`` a date column; a later all-numbers batch went to to_datetime."""
    path = _write(tmp_path, ".csv", ("day\n" + "2024-01-01\n" * 7 + "5\n" * 7).encode())
    first, second = list(iter_batches(path, batch_rows=7))
    assert str(first["day"].dtype) == "datetime64[us]"
    assert second["day"].tolist() == [5] * 7


@pytest.mark.parametrize("line", ["0", "[1, 2]", '"text"', "null", "true"])
def test_a_json_line_that_is_not_an_object_is_a_data_error(tmp_path: Path, line: str) -> None:
    """Regression: a JSON lines file with a line ``0`` raised TypeError from inside pandas."""
    path = _write(tmp_path, ".jsonl", ('{"a": 1}\n' + line + "\n").encode())
    with pytest.raises(DataError, match="one JSON object per line"):
        read_table(path)
    with pytest.raises(DataError, match=r"t\.jsonl"):
        list(iter_batches(path, batch_rows=5))
