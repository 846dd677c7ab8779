"""Reading tables: delimited text (CSV, TSV, ``;``-separated), Parquet, JSON lines and SQL sources.

Every reader returns the same DataFrame for the same table: ISO-8601 date and datetime
strings in a CSV become ``datetime64[us]`` columns, and datetime columns read from
Parquet are brought to microseconds when that loses nothing, so that a CSV and the
Parquet file of the same table compare equal.

SQL sources are read with :func:`pandas.read_sql` given the SQLAlchemy URL as a string;
pandas builds (and disposes of) the engine, so this layer never imports SQLAlchemy
itself (the import-linter contract keeps SQLAlchemy in the store).
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import re
import zlib
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skloop.core import TABLE_FORMATS_HELP, DataError, SqlSource, redact_url, table_format

__all__ = ["DEFAULT_BATCH_ROWS", "iter_batches", "parse_datetimes", "read_table", "redact_url"]

logger = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 65_536
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 65_536
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$"
)

Source = str | os.PathLike[str] | SqlSource


def _resolve(source: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None) -> Path:
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.exists():
        hint = f" (resolved against {base_dir})" if base_dir is not None else ""
        raise DataError(f"data file {path} does not exist{hint}; check the path in data.train or create the file")
    if path.is_dir():
        raise DataError(f"data path {path} is a directory; expected a file ending in {TABLE_FORMATS_HELP}")
    return path


def _format(path: Path) -> str:
    kind = table_format(path.name)
    if kind is None:
        raise DataError(f"data file {path} has an unknown format; expected a name ending in {TABLE_FORMATS_HELP}")
    return kind


class _Dialect(TypedDict, total=False):
    """The :func:`pandas.read_csv` options a sniffed file needs; absent ones keep pandas' defaults."""

    sep: str
    decimal: str


def _csv_dialect(path: Path) -> _Dialect:
    """``sep`` (and ``decimal``) of a delimited file, sniffed from its first lines.

    Public tables are not all comma-separated: European exports use ``;`` with decimal
    commas (``3,5``), others tabs or pipes. Read with the wrong separator, such a file
    is one column whose name is the whole header, and every later error is confusing.
    """
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            head = fh.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return {}  # the reader itself reports the file's problem
    lines = head.splitlines()
    if len(lines) > 1 and len(head) == _SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut
    sample = "\n".join(lines[:50])
    if not sample:
        return {}
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return {}
    if sep == ",":
        return {}
    dialect: _Dialect = {"sep": sep}
    body = lines[1:50]
    if (
        sep != ","
        and body
        and any(_DECIMAL_COMMA.search(line) for line in body)
        and not any(_DECIMAL_POINT.search(line) for line in body)
    ):
        dialect["decimal"] = ","
    return dialect


_DECIMAL_COMMA = re.compile(r"(?:^|[;\t|])-?\d+,\d+(?=$|[;\t|])")
_DECIMAL_POINT = re.compile(r"(?:^|[;\t|])-?\d+\.\d+(?=$|[;\t|])")


def _iso_columns(df: pd.DataFrame) -> dict[str, bool]:
    """Names of string columns whose every value is an ISO-8601 date/datetime.

    Returns a mapping from the column name to whether any value carries a UTC offset.
    """
    found: dict[str, bool] = {}
    for name in df.columns:
        col = df[name]
        if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            continue
        values = col.dropna()
        head = values.iloc[:100]
        # look at a few values first so that ordinary text columns cost almost nothing
        if head.empty or not all(isinstance(v, str) and _ISO_DATETIME.match(v) for v in head):
            continue
        strings = values.astype(str)
        if not bool(strings.str.match(_ISO_DATETIME.pattern).all()):
            continue
        found[str(name)] = bool(strings.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$").any())
    return found


def _parse_datetimes(df: pd.DataFrame, columns: dict[str, bool], where: str) -> pd.DataFrame:
    for name, has_tz in columns.items():
        if name not in df.columns:
            continue
        dtype = df[name].dtype
        if not (pd.api.types.is_string_dtype(dtype) or dtype == np.dtype("O")):
            # a later batch whose values of this column are all numbers (or already dates): pandas
            # would read numbers as epochs, so they are left as they are, as a whole-file read would
            continue
        try:
            parsed = pd.to_datetime(df[name], format="ISO8601", utc=has_tz)
        except (ValueError, TypeError, OverflowError) as exc:
            # shaped like dates but not valid ones (2024-02-30): keep the strings
            logger.debug("column %r in %s stays text: %s", name, where, exc)
            continue
        df[name] = _to_us(parsed)
    return df


def _to_us(col: pd.Series[pd.Timestamp]) -> pd.Series[pd.Timestamp]:
    """Cast a datetime64 column to microseconds unless that would drop precision."""
    unit = col.dt.unit
    if unit == "us":
        return col
    if unit == "ns" and (col.dropna().dt.nanosecond != 0).any():  # sub-microsecond digits would be lost
        return col
    return col.dt.as_unit("us")


def _is_datetime64(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M")


def _normalise_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    for name in df.columns:
        if _is_datetime64(df[name].dtype):
            df[name] = _to_us(df[name])
    return df


# a corrupted gzip stream raises zlib.error (not an OSError) from deep in the gzip module
_CSV_ERRORS = (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError, zlib.error)
# a line that is JSON but not an object (``7``, ``[1]``) is a TypeError inside pandas
_JSONL_ERRORS = (ValueError, TypeError, UnicodeDecodeError, OSError, EOFError, zlib.error)
# what reading a later batch can raise, whatever the format (pyarrow's errors all derive from ArrowException)
_BATCH_ERRORS = (*_CSV_ERRORS, TypeError, pa.ArrowException)


def _csv_error(path: Path, exc: Exception) -> DataError:
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"CSV file {path} is empty (no header row); write a header and rows")
    return DataError(
        f"cannot read CSV file {path}: {exc}; check that it is a valid UTF-8 CSV (the gzip stream intact for .csv.gz)"
    )


def _jsonl_error(path: Path, exc: Exception) -> DataError:
    return DataError(f"cannot read JSON lines file {path}: {exc}; expected one JSON object per line")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **_csv_dialect(path))
    except (pd.errors.EmptyDataError, *_CSV_ERRORS) as exc:
        raise _csv_error(path, exc) from exc


def _read_csv_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    """pandas' chunked reader (a TextFileReader iterates DataFrames), opened with the header read."""
    try:
        return pd.read_csv(path, **_csv_dialect(path), chunksize=chunksize)
    except (pd.errors.EmptyDataError, *_CSV_ERRORS) as exc:
        raise _csv_error(path, exc) from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        return pd.read_json(path, lines=True)
    except _JSONL_ERRORS as exc:
        raise _jsonl_error(path, exc) from exc


def _read_jsonl_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    """pandas' JsonReader, which iterates DataFrames of ``chunksize`` lines."""
    try:
        return pd.read_json(path, lines=True, chunksize=chunksize)
    except _JSONL_ERRORS as exc:
        raise _jsonl_error(path, exc) from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others
        raise DataError(f"cannot read Parquet file {path}: {exc}; check that it is a complete Parquet file") from exc


def _read_sql(source: SqlSource, chunksize: int | None = None) -> pd.DataFrame | Iterator[pd.DataFrame]:
    try:
        return pd.read_sql(source.query, source.url, chunksize=chunksize)
    except Exception as exc:  # SQLAlchemy and DB-API errors have no common base we may import
        raise DataError(
            f"cannot read SQL source {redact_url(source.url)} with query {source.query!r}: "
            f"{exc}; check the URL, the driver and the query"
        ) from exc


def parse_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its ISO-8601 date strings parsed as :func:`read_table` parses them.

    For tables that did not come through a reader (``pd.read_csv`` output, a frame
    built by hand), so that their columns get the kinds training gives them: a column
    of ``"2024-01-02"`` strings is a datetime, not a category. ``df`` is not changed.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_datetimes(pd.DataFrame({"day": ["2024-01-02"], "x": [1]})).dtypes.astype(str).tolist()
    ['datetime64[us]', 'int64']
    """
    iso = _iso_columns(df)
    if not iso:
        return df
    return _parse_datetimes(df.copy(), iso, "the data")


def batch_datetimes(first: pd.DataFrame) -> dict[str, bool]:
    """The ISO-8601 date columns of a table's first batch, as :func:`iter_batches` decides them.

    Pass the result to :func:`type_batch` for every batch of the table (on whichever
    process reads it), so that all batches get the dtypes :func:`iter_batches` gives.
    Maps each column to whether it carries a UTC offset.
    """
    return _iso_columns(first)


def type_batch(batch: pd.DataFrame, datetimes: Mapping[str, bool], where: str) -> pd.DataFrame:
    """One batch typed as :func:`iter_batches` types it, given :func:`batch_datetimes` of the first.

    Raises
    ------
    DataError
        A column of ISO-8601 dates in the first batch holds a value that is not one.
    """
    return _normalise_datetimes(_parse_datetimes(batch, dict(datetimes), where))


def read_table(source: Source, base_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a table from a delimited text file, Parquet, JSON lines or a SQL source.

    Parameters
    ----------
    source : str, os.PathLike or SqlSource
        A path ending in ``.csv``, ``.tsv`` or ``.txt`` (optionally gzipped; the
        separator, ``,`` ``;`` tab or ``|``, and a decimal comma are sniffed from the
        first lines), ``.parquet`` or ``.pq``, ``.jsonl`` or ``.ndjson`` (one object per
        line), or a :class:`~skloop.core.SqlSource` (SQLAlchemy URL and query).
    base_dir : str or os.PathLike, optional
        Directory that relative paths are resolved against (the spec's folder).

    Returns
    -------
    pandas.DataFrame
        The table with a fresh ``RangeIndex``. String columns whose values are all
        ISO-8601 dates or datetimes are parsed to ``datetime64[us]`` (UTC when any value
        has an offset; left as strings if a value is not a real date, such as
        ``2024-02-30``); datetime columns are in microseconds when lossless.

    Raises
    ------
    DataError
        If the file does not exist, has an unknown suffix or cannot be parsed, or the
        SQL query fails.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.csv").write_text("day,x\\n2024-01-02,1\\n")
    >>> read_table("t.csv", base_dir=d).dtypes.astype(str).tolist()
    ['datetime64[us]', 'int64']
    """
    if isinstance(source, SqlSource):
        df = _read_sql(source)
        assert isinstance(df, pd.DataFrame)
        where = f"SQL source {redact_url(source.url)}"
    else:
        path = _resolve(source, base_dir)
        where = str(path)
        kind = _format(path)
        df = _read_csv(path) if kind == "csv" else _read_jsonl(path) if kind == "jsonl" else _read_parquet(path)
    df = _parse_datetimes(df, _iso_columns(df), where)
    df = _normalise_datetimes(df)
    return df.reset_index(drop=True)


def iter_batches(
    source: Source,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> Generator[pd.DataFrame, None, None]:
    """Yield a table in DataFrames of at most ``batch_rows`` rows, without loading it whole.

    Parquet files are streamed by record batches (:meth:`pyarrow.parquet.ParquetFile.iter_batches`),
    CSV files with pandas' chunked reader, SQL sources with ``read_sql(chunksize=...)``.
    Which columns hold ISO-8601 datetimes is decided on the first batch and applied to
    every later one, so all batches have the same dtypes as far as the data allows.

    Parameters
    ----------
    source : str, os.PathLike or SqlSource
        As for :func:`read_table`.
    batch_rows : int, default=65536
        Largest number of rows per yielded DataFrame.
    base_dir : str or os.PathLike, optional
        Directory that relative paths are resolved against.

    Yields
    ------
    pandas.DataFrame
        Consecutive slices of the table; their index continues across batches.

    Raises
    ------
    DataError
        As for :func:`read_table`, or if ``batch_rows`` is not a positive integer.
    """
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise DataError(f"batch_rows must be a positive integer; got {batch_rows!r}")
    chunks: Iterator[pd.DataFrame]
    if isinstance(source, SqlSource):
        where = f"SQL source {redact_url(source.url)}"
        result = _read_sql(source, chunksize=batch_rows)
        chunks = iter([result]) if isinstance(result, pd.DataFrame) else result
    else:
        path = _resolve(source, base_dir)
        where = str(path)
        kind = _format(path)
        if kind == "csv":
            chunks = _read_csv_chunks(path, batch_rows)
        elif kind == "jsonl":
            chunks = _read_jsonl_chunks(path, batch_rows)
        else:
            chunks = _parquet_batches(path, batch_rows)
    iso: dict[str, bool] | None = None
    start = 0
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except _BATCH_ERRORS as exc:
                raise DataError(f"cannot read {where} after row {start}: {exc}") from exc
            if iso is None:
                iso = _iso_columns(chunk)
            chunk = _normalise_datetimes(_parse_datetimes(chunk, iso, where))
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk
    finally:  # a caller that stops early must not leave the file open
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:
        raise DataError(f"cannot read Parquet file {path}: {exc}") from exc
    with reader:
        for batch in reader.iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()
