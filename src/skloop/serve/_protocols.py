"""Request bodies of both protocols read into typed rows, and answers written back.

- MLflow scoring (``/invocations``): JSON with one of ``dataframe_split``,
  ``dataframe_records``, ``instances``, ``inputs`` (``params`` is ignored), or
  ``text/csv``; the answer is ``{"predictions": [...]}``.
- KServe Open Inference Protocol V2 (``/v2/models/{name}/infer``): one tensor per
  column (``BYTES`` for strings and datetimes, ``FP32``/``FP64``/``INT*``/``BOOL``),
  or a single ``BYTES`` tensor whose elements are JSON row objects; tensors in JSON or
  in the binary-data extension (``Inference-Header-Content-Length``), as
  ``tritonclient.http`` sends them. Outputs: ``predictions`` and, for a classifier,
  ``probabilities`` (``[n, n_classes]`` in the order of ``classes``).

JSON is read with orjson; a body orjson refuses is read again with the standard
library, which accepts the ``NaN`` and ``Infinity`` literals Python's ``json`` writes.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from skloop.registry import brief
from skloop.serve._errors import BadRequestError, UnsupportedMediaError
from skloop.serve._validate import CompiledSignature, Prepared, _utf8

__all__ = [
    "MLFLOW_FORMATS",
    "V2_DATATYPES",
    "encodable",
    "loads",
    "parse_invocations",
    "parse_v2",
    "v2_datatype",
    "v2_outputs",
]

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
"""The JSON keys ``/invocations`` reads, as MLflow's scoring server does."""

V2_DATATYPES = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BYTES": "",
}
"""Tensor datatypes of the V2 protocol and their little-endian numpy codes."""

_V2_OF_DTYPE = {"int64": "INT64", "float64": "FP64", "bool": "BOOL", "string": "BYTES", "datetime64": "BYTES"}


def loads(body: bytes) -> Any:
    """Parse JSON, accepting ``NaN``/``Infinity``; a 400 naming the position otherwise.

    Nesting deeper than orjson's limit (1024 levels) is a 400, and so is text that is not
    valid Unicode (a lone surrogate such as ``"\\ud800"``, which only the standard
    library's parser reads): nothing downstream could encode it.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg:
            raise BadRequestError(
                f"malformed JSON at line {exc.lineno}, column {exc.colno}: nested deeper than 1024 levels; "
                "send rows of plain values"
            ) from None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequestError(f"malformed JSON{where}: {getattr(exc, 'msg', exc)}") from None
    surrogate_at = _lone_surrogate(doc)
    if surrogate_at is not None:
        raise BadRequestError(
            f"the JSON text at {surrogate_at} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape); "
            "send valid Unicode text",
            [{"row": None, "column": surrogate_at, "problem": "not valid Unicode", "severity": "error"}],
        )
    return doc


def _lone_surrogate(doc: Any) -> str | None:
    """The path of the first key or string that UTF-8 cannot encode, or ``None`` (no recursion)."""
    stack: list[tuple[str, Any]] = [("$", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _utf8(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if not key.isascii() and not _utf8(key):
                    return f"{path} (a key)"
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def v2_datatype(dtype: str) -> str:
    """The V2 tensor datatype of a signature dtype (datetimes travel as ISO-8601 ``BYTES``)."""
    return _V2_OF_DTYPE.get(dtype, "BYTES")


# -- MLflow -----------------------------------------------------------------------------


def parse_invocations(body: bytes, content_type: str, compiled: CompiledSignature) -> Prepared:
    """Rows of an ``/invocations`` body.

    Raises
    ------
    BadRequestError
        Malformed JSON or CSV, no known format key, a wrong shape, or invalid rows.
    UnsupportedMediaError
        A content type other than JSON or CSV.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _csv(body, compiled)
    if kind not in ("application/json", "", "*/*"):
        raise UnsupportedMediaError(
            f"content type {content_type!r} is not supported; send application/json "
            f"(with one of {', '.join(MLFLOW_FORMATS)}) or text/csv"
        )
    doc = loads(body)
    if not isinstance(doc, dict):
        raise BadRequestError(f"expected a JSON object with one of the keys {', '.join(MLFLOW_FORMATS)}")
    keys = [k for k in MLFLOW_FORMATS if k in doc]
    if len(keys) != 1:
        found = ", ".join(map(str, doc)) or "none"
        raise BadRequestError(
            f"expected exactly one of the keys {', '.join(MLFLOW_FORMATS)} in the JSON object; got keys: {found}"
        )
    key = keys[0]
    data = doc[key]
    if key == "dataframe_split":
        return _split(data, compiled)
    if key == "dataframe_records":
        return compiled.from_records(data)
    return _tensor_like(data, key, compiled)


def _csv(body: bytes, compiled: CompiledSignature) -> Prepared:
    if not body.strip():
        raise BadRequestError("empty batch: the CSV body has no rows; send a header line and at least one row")
    try:
        # string columns stay the text sent ("007", "True"), not what pandas would make of it
        text = {c.name: str for c in compiled.signature.inputs if c.dtype == "string"}
        if compiled.id_column is not None:  # ids as sent ("007"), as a JSON string keeps them
            text[compiled.id_column] = str
        frame = pd.read_csv(io.BytesIO(body), dtype=text)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"malformed CSV: {exc}") from None
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise BadRequestError(f"column {dup[0]!r} appears more than once in the CSV header; send each column once")
    if len(frame) == 0:
        raise BadRequestError("empty batch: the CSV body has no rows; send at least one row under the header")
    return compiled.from_frame(frame)


def _split(data: Any, compiled: CompiledSignature) -> Prepared:
    if not isinstance(data, dict):
        raise BadRequestError("dataframe_split must be an object with 'columns' and 'data'")
    rows = data.get("data")
    columns = data.get("columns")
    if not isinstance(rows, list):
        raise BadRequestError("dataframe_split.data must be a list of rows (lists of values)")
    if columns is None:
        columns = compiled.names
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequestError("dataframe_split.columns must be a list of column names (strings)")
    if len(set(columns)) != len(columns):
        raise BadRequestError("dataframe_split.columns names a column more than once; send each column once")
    return compiled.from_columns(_rows_to_columns(rows, columns, "dataframe_split.data"))


def _rows_to_columns(rows: list[Any], columns: Sequence[str], where: str) -> dict[str, list[Any]]:
    width = len(columns)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
            raise BadRequestError(
                f"{where} row {i} has {got}; expected a list of {width} values for the columns {list(columns)}",
                [{"row": i, "column": None, "problem": f"expected {width} values", "severity": "error"}],
            )
    return {c: [row[j] for row in rows] for j, c in enumerate(columns)}


def _tensor_like(data: Any, key: str, compiled: CompiledSignature) -> Prepared:
    if isinstance(data, dict):
        if data and not any(isinstance(v, list) for v in data.values()):
            data = {k: [v] for k, v in data.items()}  # one row given as scalars
        return compiled.from_columns(data)
    if isinstance(data, list):
        if data and all(isinstance(r, list) for r in data):
            return compiled.from_columns(_rows_to_columns(data, compiled.names, key))
        return compiled.from_records(data)
    raise BadRequestError(f"{key} must be a list of row objects, a list of rows, or an object of columns")


# -- KServe V2 ------------------------------------------------------------------------------


def parse_v2(body: bytes, header_length: str | None, compiled: CompiledSignature) -> tuple[Prepared, dict[str, Any]]:
    """Rows of a V2 inference request, and the request object (for ``id`` and ``outputs``).

    Raises
    ------
    BadRequestError
        Naming the tensor (``column``) and, for invalid values, the row.
    """
    binary = b""
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            raise BadRequestError(f"Inference-Header-Content-Length {header_length!r} is not a number") from None
        if not 0 < n <= len(body):
            raise BadRequestError(f"Inference-Header-Content-Length {n} does not fit the body of {len(body)} bytes")
        body, binary = body[:n], body[n:]
    doc = loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise BadRequestError("expected a JSON object with a non-empty list 'inputs' of tensors")
    offset = 0
    tensors: list[tuple[str, str, list[int], list[Any]]] = []
    for k, tensor in enumerate(doc["inputs"]):
        name, datatype, shape, values, offset = _tensor(tensor, k, binary, offset)
        tensors.append((name, datatype, shape, values))
    if offset != len(binary):
        raise BadRequestError(f"{len(binary) - offset} bytes of binary data follow the tensors; none should")
    _check_request(doc)
    if len(tensors) == 1 and tensors[0][1] == "BYTES" and tensors[0][0] not in compiled.names:
        return compiled.from_records(_json_rows(tensors[0])), doc
    columns: dict[str, list[Any]] = {}
    for name, datatype, shape, values in tensors:
        _check_datatype(name, datatype, values)
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1) or not shape:
            raise BadRequestError(
                f"input {brief(name)} has shape {shape}; a column is a tensor of shape [n] or [n, 1]",
                [{"row": None, "column": name, "problem": f"shape {shape}", "severity": "error"}],
            )
        if name in columns:
            raise BadRequestError(f"input {brief(name)} is given twice; send each column once")
        columns[name] = values
    return compiled.from_columns(columns), doc


def _tensor(tensor: Any, k: int, binary: bytes, offset: int) -> tuple[str, str, list[int], list[Any], int]:
    if not isinstance(tensor, dict):
        raise BadRequestError(f"inputs[{k}] must be an object with name, shape, datatype and data")
    name = tensor.get("name")
    datatype = tensor.get("datatype")
    shape = tensor.get("shape")
    if not isinstance(name, str):
        raise BadRequestError(f"inputs[{k}].name must be a string")
    if not isinstance(datatype, str) or datatype not in V2_DATATYPES:
        raise BadRequestError(
            f"input {brief(name)} has datatype {brief(datatype)}; expected one of {', '.join(V2_DATATYPES)}",
            [{"row": None, "column": name, "problem": f"unknown datatype {brief(datatype)}", "severity": "error"}],
        )
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BadRequestError(f"input {brief(name)}: shape must be a list of non-negative integers; got {brief(shape)}")
    count = math.prod(shape)
    params = tensor.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise BadRequestError(f"input {brief(name)}: binary_data_size {brief(size)} does not fit the binary data")
        values = _from_binary(binary[offset : offset + size], datatype, count, name)
        offset += size
    else:
        if "data" not in tensor:
            raise BadRequestError(f"input {brief(name)} has no 'data' (and no binary_data_size)")
        values = _flatten(tensor["data"], name)
    if len(values) != count:
        raise BadRequestError(
            f"input {brief(name)} has {len(values)} values for shape {shape} ({count} expected)",
            [{"row": None, "column": name, "problem": "data does not match shape", "severity": "error"}],
        )
    return name, datatype, shape, values, offset


def _check_request(doc: dict[str, Any]) -> None:
    """The request's ``id`` and ``outputs`` are read after scoring: check them before."""
    rid = doc.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise BadRequestError(f"the request id must be a string; got {_kind(rid)}")
    requested = doc.get("outputs")
    if requested is None:
        return
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise BadRequestError("outputs must be a list of objects with a 'name' (a string)")


# the values a JSON tensor element of each V2 datatype may take (null is a missing value in any)
_INT_RANGES = {
    f"{kind}{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if kind == "INT" else (0, 2**bits - 1)
    for kind in ("INT", "UINT")
    for bits in (8, 16, 32, 64)
}
_FP_MAX = {"FP16": float(np.finfo(np.float16).max), "FP32": float(np.finfo(np.float32).max), "FP64": math.inf}


def _element_problem(datatype: str, v: Any) -> str | None:
    """Why ``v`` is not an element of a ``datatype`` tensor, or ``None`` when it is one."""
    if v is None:
        return None
    t = type(v)
    if datatype == "BYTES":
        return None if t is str else f"{_kind(v)}, not a string"
    if datatype == "BOOL":
        return None if t is bool else f"{_kind(v)}, not a boolean"
    if t is not int and t is not float:
        return f"{_kind(v)}, not a number"
    if datatype in _FP_MAX:
        return None if not math.isfinite(v) or abs(v) <= _FP_MAX[datatype] else f"{v!r}, too large for {datatype}"
    lo, hi = _INT_RANGES[datatype]
    if t is float and not v.is_integer():
        return f"{v!r}, not an integer"
    return None if lo <= v <= hi else f"{v!r}, outside [{lo}, {hi}]"


def _check_datatype(name: str, datatype: str, values: list[Any]) -> None:
    """A 400 when a tensor's JSON data does not fit its declared datatype (binary data always fits)."""
    issues: list[dict[str, Any]] = []
    for i, v in enumerate(values):
        problem = _element_problem(datatype, v)
        if problem is not None:
            issues.append(
                {"row": i, "column": name, "problem": f"{datatype} element is {problem}", "severity": "error"}
            )
            if len(issues) == 20:
                break
    if issues:
        first = issues[0]
        raise BadRequestError(
            f"input {brief(name)} is declared {datatype} but element {first['row']} is "
            f"{first['problem'].split(' is ', 1)[1]}; send data that fits the datatype, or declare the right one",
            issues,
        )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string" if len(value) > 40 else f"the string {value!r}"
    return repr(value) if isinstance(value, bool | int | float) else f"a {type(value).__name__}"


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                if len(stack) > 32:
                    raise BadRequestError(f"input {brief(name)}: data is nested too deeply")
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def _from_binary(raw: bytes, datatype: str, count: int, name: str) -> list[Any]:
    if datatype == "BYTES":
        out: list[Any] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise BadRequestError(f"input {brief(name)}: truncated BYTES element in the binary data")
            (length,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + length > len(raw):
                raise BadRequestError(f"input {brief(name)}: truncated BYTES element in the binary data")
            try:
                out.append(raw[pos : pos + length].decode())
            except UnicodeDecodeError:
                raise BadRequestError(f"input {brief(name)}: element {len(out)} is not UTF-8 text") from None
            pos += length
        return out
    code = V2_DATATYPES[datatype]
    width = np.dtype(code).itemsize
    if len(raw) != count * width:
        raise BadRequestError(f"input {brief(name)}: {len(raw)} bytes of {datatype} data for {count} values")
    values: list[Any] = np.frombuffer(raw, dtype=code).tolist()
    return values


def _json_rows(tensor: tuple[str, str, list[int], list[Any]]) -> list[Any]:
    name, _, shape, values = tensor
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise BadRequestError(f"input {brief(name)}: a tensor of JSON rows has shape [n] or [n, 1]; got {shape}")
    rows = []
    for i, value in enumerate(values):
        if isinstance(value, dict):
            rows.append(value)
            continue
        if not isinstance(value, str):
            raise BadRequestError(
                f"input {brief(name)} element {i} is not a JSON row object",
                [{"row": i, "column": name, "problem": "not a JSON object", "severity": "error"}],
            )
        try:
            row = loads(value.encode())
        except BadRequestError as exc:
            raise BadRequestError(
                f"input {brief(name)} element {i}: {exc.message}",
                [{"row": i, "column": name, "problem": exc.message, "severity": "error"}],
            ) from None
        rows.append(row)
    return rows


def encodable(values: np.ndarray) -> np.ndarray | list[Any]:
    """Predictions in a form the JSON encoder writes: numeric and boolean arrays as they
    are (orjson writes them natively), anything else (class names as numpy strings or
    objects) as a list of plain Python values.

    Examples
    --------
    >>> encodable(np.array(["stay", "leave"]))
    ['stay', 'leave']
    >>> encodable(np.array([0.0, 1.0])).dtype
    dtype('float64')
    """
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


def v2_outputs(
    predictions: np.ndarray, probabilities: np.ndarray | None, output_dtype: str, requested: Any
) -> list[dict[str, Any]]:
    """The ``outputs`` of a V2 answer, filtered to the names asked for (if any).

    Raises
    ------
    BadRequestError
        An output name that the model does not have.
    """
    n = len(predictions)
    datatype = v2_datatype(output_dtype)
    if np.asarray(predictions).dtype.kind not in "biuf":
        datatype = "BYTES"  # class names travel as text, whatever the signature says
    data = encodable(predictions)
    outputs = [
        {
            "name": "predictions",
            "datatype": datatype,
            "shape": [n],
            "data": [str(v) for v in data] if datatype == "BYTES" else data,
        }
    ]
    if probabilities is not None:
        outputs.append(
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": list(probabilities.shape),
                "data": probabilities.ravel(),
            }
        )
    if requested:
        if not isinstance(requested, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
        ):
            raise BadRequestError("outputs must be a list of objects with a 'name' (a string)")
        names = [o["name"] for o in requested]
        known = {o["name"] for o in outputs}
        for asked in names:
            if asked not in known:
                raise BadRequestError(f"the model has no output {asked!r}; its outputs are {sorted(known)}")
        outputs = [o for o in outputs if o["name"] in names]
    return outputs
