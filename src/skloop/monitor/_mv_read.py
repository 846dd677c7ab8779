"""The reference rows multivariate drift keeps, and reading only those from Parquet.

:class:`~skloop.monitor._multivariate.MultivariateReference` fits its PCA and measures
its band on at most :data:`MAX_REFERENCE_ROWS` reference rows: a seeded uniform sample
(:func:`kept_rows`) beyond. :func:`read_reference_rows` reads a Parquet reference
keeping only those rows — the frame the reference would hold after sampling, so the
drift computed on it is the same — without building the whole table in pandas: the
string columns are read as Arrow dictionaries (their values decoded once per page, not
once per row), one row group at a time, its sampled rows taken, and only those converted.
At 1,000,000 rows of 20 columns that is 0.12–0.3 s instead of 0.67 s for
:func:`pandas.read_parquet`, and memory of one row group instead of the whole table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skloop.core import DataError

__all__ = ["MAX_REFERENCE_ROWS", "kept_rows", "read_reference_rows"]

MAX_REFERENCE_ROWS = 100_000
"""Reference rows kept (a seeded uniform sample beyond): the PCA's fit and the chunks of its band."""


def kept_rows(n: int) -> np.ndarray | None:
    """Sorted row positions of the seeded sample of :data:`MAX_REFERENCE_ROWS` of ``n`` rows; ``None``: all.

    Examples
    --------
    >>> kept_rows(10) is None
    True
    >>> rows = kept_rows(MAX_REFERENCE_ROWS + 1)
    >>> len(rows) == MAX_REFERENCE_ROWS and bool((rows[1:] > rows[:-1]).all())
    True
    """
    if n <= MAX_REFERENCE_ROWS:
        return None
    return np.sort(np.random.default_rng(0).choice(n, MAX_REFERENCE_ROWS, replace=False))


def read_reference_rows(source: str | os.PathLike[str] | bytes, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of a Parquet reference that multivariate drift keeps (:func:`kept_rows`), as pandas.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A Parquet file, or its bytes (a version's data snapshot).
    columns : sequence of str, optional
        The columns to read (default: all).

    Returns
    -------
    DataFrame
        ``pandas.read_parquet(source, columns=columns).iloc[kept_rows(n)]`` — the same
        dtypes and values — with a fresh ``RangeIndex`` (unless the file stores an index).

    Raises
    ------
    DataError
        The source is not a readable Parquet file, or lacks a column of ``columns``.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> pd.DataFrame({"a": [1.0, 2.0], "b": ["x", None]}).to_parquet(buffer)
    >>> read_reference_rows(buffer.getvalue()).to_dict("list")
    {'a': [1.0, 2.0], 'b': ['x', nan]}
    """
    where = "the reference snapshot" if isinstance(source, bytes) else os.fspath(source)

    def opened() -> Any:
        return pa.BufferReader(source) if isinstance(source, bytes) else os.fspath(source)

    try:
        file = pq.ParquetFile(opened())
        schema = file.schema_arrow
        missing = [c for c in columns or () if c not in schema.names]
        if missing:
            raise DataError(f"the reference {where} lacks column(s) {missing}; it has {schema.names}")
        names = None if columns is None else list(columns)
        kinds = {c: schema.field(c).type for c in names or schema.names}
        strings = {c for c, t in kinds.items() if pa.types.is_string(t) or pa.types.is_large_string(t)}
        keep = kept_rows(file.metadata.num_rows)
        if keep is None or file.num_row_groups == 0:
            table = file.read(columns=names, use_pandas_metadata=True)
        else:
            # strings as dictionaries (each page's distinct values decoded once, not one string a row),
            # one row group at a time, keeping its sampled rows: bounded memory, buffers reused
            # a local file memory-mapped: its pages decoded in place, not copied into buffers first (-25%)
            file = pq.ParquetFile(opened(), read_dictionary=sorted(strings) or None,
                                  memory_map=not isinstance(source, bytes))  # fmt: skip
            parts, start = [], 0
            for group in range(file.num_row_groups):
                n = file.metadata.row_group(group).num_rows
                lo, hi = np.searchsorted(keep, [start, start + n])
                part = file.read_row_group(group, columns=names, use_pandas_metadata=True)
                parts.append(_undictionary(part.take(pa.array(keep[lo:hi] - start)), strings, kinds))
                start += n
            table = pa.concat_tables(parts)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read the reference {where} as Parquet: {exc}") from exc
    return _to_pandas(table)


def _undictionary(table: pa.Table, strings: set[str], kinds: dict[str, Any]) -> pa.Table:
    """``table`` with the string columns read as dictionaries back in the file's own string types."""
    if not strings:
        return table
    fields = [f.with_type(kinds[f.name]) if f.name in strings else f for f in table.schema]
    arrays = [pc.cast(col, kinds[f.name]) if f.name in strings else col
              for f, col in zip(table.schema, table.columns, strict=True)]  # fmt: skip
    metadata: Any = table.schema.metadata  # the pandas metadata: dtypes and the index
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` in pandas, converted as :func:`pandas.read_parquet` converts (dtype mapping, time zones)."""
    try:
        from pandas.io._util import arrow_table_to_pandas  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pandas < 2.2: its read_parquet called to_pandas itself
        return table.to_pandas()
    frame = arrow_table_to_pandas(table)
    assert isinstance(frame, pd.DataFrame)
    return frame
