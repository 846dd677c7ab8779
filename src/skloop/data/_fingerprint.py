"""Content fingerprints of tables: SHA-256 over a canonical Arrow form.

Two tables get the same fingerprint when they hold the same values, in the same
columns, in the same order — however they were stored or loaded. The canonical form
erases what storage changes and keeps what the data means:

===================================  =========================================
in the table                         hashed as
===================================  =========================================
any signed or unsigned integer       int64 (unsigned values bit-reinterpreted)
float16/32/64, decimal               float64; NaN counts as missing, -0.0 as 0.0
string, large_string, string_view,   large_string (UTF-8 bytes and lengths)
dictionary (pandas categorical)
timestamp of any unit                timestamp[us]; tz-aware values in UTC
date32/date64                        date32
bool                                 bool
duration / time                      duration[us] / time64[us]
binary                               large_binary
anything else (lists, structs)       the JSON text of each value
===================================  =========================================

Each column contributes its name, its canonical type, its length, a bitmap of its
missing positions and its values with missing slots zero-filled. The pandas index is
not part of the content. Work is done on whole column buffers through numpy, never
row by row in Python.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from skloop.core import DataError

__all__ = ["fingerprint"]

_VERSION = b"skloop-fingerprint-v1"


def _to_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"fingerprint expects a pandas DataFrame or a pyarrow Table; got {type(data).__name__}")
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"cannot fingerprint the DataFrame: {exc}; give each column a single type "
            "(for example cast mixed object columns with .astype(str))"
        ) from exc


def _decode(arr: pa.ChunkedArray[Any]) -> pa.ChunkedArray[Any]:
    if pa.types.is_dictionary(arr.type):
        return arr.cast(arr.type.value_type)
    return arr


def _canonical(arr: pa.ChunkedArray[Any]) -> tuple[str, pa.Array[Any]]:
    """The canonical type name and a single contiguous array for one column."""
    arr = _decode(arr)
    t = arr.type
    if pa.types.is_integer(t):
        if pa.types.is_unsigned_integer(t):
            arr = arr.cast(pa.uint64())
            flat = arr.combine_chunks()
            return "int64", flat.view(pa.int64())
        return "int64", arr.cast(pa.int64()).combine_chunks()
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float64", arr.cast(pa.float64()).combine_chunks()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "large_string", arr.cast(pa.large_string()).combine_chunks()
    if pa.types.is_timestamp(t):
        tz = "UTC" if t.tz is not None else ""
        target = pa.timestamp("us", tz="UTC" if tz else None)
        return f"timestamp[us,{tz}]", arr.cast(target, safe=False).combine_chunks()
    if pa.types.is_date(t):
        return "date32", arr.cast(pa.date32()).combine_chunks()
    if pa.types.is_boolean(t):
        return "bool", arr.combine_chunks()
    if pa.types.is_duration(t):
        return "duration[us]", arr.cast(pa.duration("us"), safe=False).combine_chunks()
    if pa.types.is_time(t):
        return "time64[us]", arr.cast(pa.time64("us"), safe=False).combine_chunks()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "large_binary", arr.cast(pa.large_binary()).combine_chunks()
    if pa.types.is_null(t):
        return "null", pa.nulls(len(arr))
    values = [None if v is None else json.dumps(v, sort_keys=True, default=str) for v in arr.to_pylist()]
    return f"json:{t}", pa.array(values, type=pa.large_string())


def _buffer(flat: pa.Array[Any], i: int) -> memoryview:
    """Buffer ``i`` of ``flat``; only null-typed arrays, handled before, lack their value buffer."""
    buf = flat.buffers()[i]
    if buf is None:
        raise DataError(f"cannot fingerprint a {flat.type} column: its Arrow array has no buffer {i}")
    return memoryview(buf)


def _valid_mask(flat: pa.Array[Any], type_name: str) -> npt.NDArray[np.bool_]:
    valid = flat.is_valid()
    if type_name == "float64":
        # pyarrow-stubs types pc.fill_null as coalesce and the method's result as a plain Array
        nan = cast(pa.BooleanArray, flat.is_nan().fill_null(True))
        valid = pc.and_(valid, pc.invert(nan))
    return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _fixed_width_bytes(flat: pa.Array[Any], valid: npt.NDArray[np.bool_], dtype: str) -> bytes:
    """Values of a fixed-width array as little-endian bytes, missing slots zeroed."""
    width = np.dtype(dtype).itemsize
    raw = np.frombuffer(_buffer(flat, 1), dtype=dtype, count=len(flat) + flat.offset)[flat.offset :]
    values = raw.astype(np.dtype(dtype).newbyteorder("<"), copy=True)
    if dtype == "float64":
        values += 0.0  # -0.0 becomes 0.0
    values[~valid] = 0
    assert values.itemsize == width
    return values.tobytes()


def _var_width_parts(flat: pa.Array[Any], valid: npt.NDArray[np.bool_]) -> tuple[bytes, bytes | memoryview]:
    """Lengths and concatenated bytes of a large_string/large_binary array."""
    flat = flat.fill_null("" if pa.types.is_large_string(flat.type) else b"")
    buffers = flat.buffers()
    offsets = np.frombuffer(_buffer(flat, 1), dtype=np.int64, count=len(flat) + 1 + flat.offset)
    offsets = offsets[flat.offset :]
    lengths = np.diff(offsets).astype("<i8")
    lengths[~valid] = 0
    data = buffers[2]
    body = b"" if data is None else memoryview(data)[int(offsets[0]) : int(offsets[-1])]
    return lengths.tobytes(), body


def _hash_column(h: hashlib._Hash, name: str, chunked: pa.ChunkedArray[Any]) -> None:
    type_name, flat = _canonical(chunked)
    valid = _valid_mask(flat, type_name) if len(flat) else np.zeros(0, dtype=bool)
    header = json.dumps([name, type_name, len(flat), int((~valid).sum())]).encode()
    h.update(struct.pack("<q", len(header)) + header)
    h.update(np.packbits(valid, bitorder="little").tobytes())
    if type_name == "null" or len(flat) == 0:
        return
    if type_name == "bool":
        values = np.asarray(flat.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)
        h.update(np.packbits(values & valid, bitorder="little").tobytes())
        return
    if type_name in ("large_string", "large_binary") or type_name.startswith("json:"):
        lengths, body = _var_width_parts(flat, valid)
        h.update(lengths)
        h.update(body)
        return
    storage = {"int64": "int64", "float64": "float64", "date32": "int32", "time64[us]": "int64"}
    dtype = storage.get(type_name, "int64")  # timestamps and durations are 64-bit ints
    h.update(_fixed_width_bytes(flat, valid, dtype))


def fingerprint(data: pd.DataFrame | pa.Table) -> str:
    """Hex SHA-256 of a table's content in a canonical Arrow form.

    The fingerprint depends on the column names and their order, each column's
    canonical type, the positions of missing values and the values themselves. It does
    not depend on integer or float widths, on string storage (numpy object, pandas
    ``str``, pyarrow-backed or categorical), on timestamp units or time zones (values
    are compared as UTC instants), on how a pyarrow Table is split into chunks, nor on
    the pandas index. Float NaN counts as missing, as pandas treats it.

    Parameters
    ----------
    data : pandas.DataFrame or pyarrow.Table
        The table.

    Returns
    -------
    str
        64 hex digits.

    Raises
    ------
    DataError
        If a DataFrame column cannot be converted to Arrow (mixed Python types).

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2], "s": ["a", None]})
    >>> b = a.astype({"x": "int8"})
    >>> fingerprint(a) == fingerprint(b)
    True
    >>> fingerprint(a) == fingerprint(a.rename(columns={"x": "y"}))
    False
    """
    table = _to_arrow(data)
    h = hashlib.sha256(_VERSION)
    h.update(struct.pack("<qq", table.num_columns, table.num_rows))
    for name, column in zip(table.column_names, table.columns, strict=True):
        _hash_column(h, str(name), column)
    return h.hexdigest()
