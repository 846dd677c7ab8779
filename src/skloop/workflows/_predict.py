"""Batch scoring: a CSV or Parquet file in, a Parquet file of predictions out.

The input is read in chunks (:func:`skloop.data.iter_batches`), each chunk is typed and
checked against the model's signature (:func:`skloop.registry.coerce_frame`), scored,
and appended to the output with a streaming ``pyarrow.parquet.ParquetWriter``, so a
file larger than memory can be scored. The output's key-value metadata records which
model made the predictions (reference, version, artifact SHA-256), so a prediction
file can be traced back to its model version.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skloop.core import DataError
from skloop.data import DEFAULT_BATCH_ROWS, class_names, iter_batches
from skloop.workflows._progress import NullProgress, Progress

logger = logging.getLogger(__name__)

__all__ = ["PREDICTION_METADATA_KEYS", "PredictResult", "predict_batch", "read_prediction_metadata"]

PREDICTION_METADATA_KEYS = ("skloop.model_ref", "skloop.model_version", "skloop.model_sha256", "skloop.source")
"""Keys of the Parquet key-value metadata that :func:`predict_batch` writes."""

_MAX_REPORTED_ERRORS = 5


@dataclass(frozen=True)
class PredictResult:
    """What :func:`predict_batch` wrote.

    Attributes
    ----------
    rows : int
        Rows scored (all rows of the input).
    out_path : Path
        The Parquet file.
    issues_count : int
        Validation issues found against the signature (all flags; errors stop the run).
    flagged : int
        Rows with at least one flag (unknown category, value out of the training range).
    request_id : str or None
        With ``log_dir``: the request id of the run's rows in the prediction log.
    logged : int
        With ``log_dir``: rows appended (durably) to the prediction log.
    """

    rows: int
    out_path: Path
    issues_count: int
    flagged: int
    request_id: str | None = None
    logged: int = 0


def _signature(signature: Any) -> Any:
    if signature is None:
        return None
    from skloop.registry import Signature

    return signature if isinstance(signature, Signature) else Signature.from_dict(signature)


def _check(
    chunk: pd.DataFrame, signature: Any, start: int, source: Path, flags: dict[int | None, list[dict[str, Any]]]
) -> tuple[pd.DataFrame, int, int]:
    """The chunk typed like the signature, its issue count and flagged-row count.

    The flags are also put in ``flags`` by row of the chunk (``None``: every row).
    """
    from skloop.registry import coerce_frame

    result = coerce_frame(chunk, signature)
    if result.errors:
        shown = "; ".join(
            f"row {start + i.row if i.row is not None else '-'}, column {i.column!r}: {i.problem}"
            for i in result.errors[:_MAX_REPORTED_ERRORS]
        )
        more = len(result.error_rows) - min(len(result.error_rows), _MAX_REPORTED_ERRORS)
        raise DataError(
            f"{source}: {len(result.error_rows)} row(s) from row {start} cannot be scored: {shown}"
            + (f" (and {more} more rows)" if more > 0 else "")
            + "; fix the data or retrain on data like it"
        )
    flagged_rows = {i.row for i in result.flags if i.row is not None}
    for i in result.flags:
        row = None if i.row is None else start + i.row
        flags.setdefault(i.row, []).append({"row": row, "column": i.column, "problem": i.problem, "severity": "flag"})
    return result.frame, len(result.issues), len(flagged_rows)


def _score(model: Any, X: pd.DataFrame, rows: np.ndarray, keep: pd.DataFrame, request_id: str | None) -> pd.DataFrame:
    out: dict[str, Any] = {} if request_id is None else {"request_id": np.full(len(rows), request_id, dtype=object)}
    out["row"] = rows
    for column in keep.columns:
        out[str(column)] = keep[column].to_numpy()
    out["prediction"] = np.asarray(model.predict(X))
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        for j, label in enumerate(class_names(model.classes_)):
            out[f"proba_{label}"] = proba[:, j]
    return pd.DataFrame(out)


def _log_records(
    chunk: pd.DataFrame,
    scored: pd.DataFrame,
    flags: dict[int | None, list[dict[str, Any]]],
    *,
    request_id: str,
    start: int,
    model: str,
    version: int | None,
    id_column: str | None,
) -> list[dict[str, Any]]:
    """One prediction log record per row (the shape the server logs)."""
    now = datetime.now(UTC).isoformat()
    inputs = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
    predictions = scored["prediction"].tolist()
    proba_columns = [c for c in scored.columns if c.startswith("proba_")]
    probas = scored[proba_columns].to_numpy().tolist() if proba_columns else None
    labels = [c[len("proba_") :] for c in proba_columns]
    ids = chunk[id_column].tolist() if id_column is not None and id_column in chunk.columns else None
    shared = flags.get(None, [])
    records = []
    for i, row in enumerate(inputs):
        outputs: dict[str, Any] = {"prediction": predictions[i]}
        if probas is not None:
            outputs["probabilities"] = dict(zip(labels, probas[i], strict=True))
        record = {
            "request_id": request_id, "row": start + i, "time": now, "model": model, "version": version,
            "inputs": {str(k): v for k, v in row.items()}, "outputs": outputs, "flags": flags.get(i, []) + shared,
        }  # fmt: skip
        if ids is not None and ids[i] is not None and ids[i] == ids[i]:
            record["entity_id"] = ids[i]
        records.append(record)
    return records


def _total_rows(path: Path) -> int | None:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, pa.ArrowException):
            return None
    return None


def predict_batch(
    model: Any,
    signature: Any,
    data_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    model_ref: str,
    model_version: int | None = None,
    model_sha256: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    keep_columns: Sequence[str] = (),
    progress: Progress | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    model_name: str | None = None,
    id_column: str | None = None,
    keep_id: bool = True,
) -> PredictResult:
    """Score a CSV or Parquet file in chunks and write the predictions to Parquet.

    Parameters
    ----------
    model : estimator
        The fitted model (a scikit-learn pipeline taking the raw columns).
    signature : Signature, mapping or None
        The model's signature (or its dict); each chunk is typed and checked against
        it. ``None`` scores the columns as read.
    data_path : str or os.PathLike
        The input file (``.csv`` or ``.parquet``).
    out_path : str or os.PathLike
        The Parquet file to write (replaced atomically when the run succeeds).
    model_ref : str
        The model reference (``"churn@champion"``, ``"churn/3"``), stored in the output.
    model_version : int, optional
        The resolved version, stored in the output.
    model_sha256 : str, optional
        The artifact's SHA-256, stored in the output.
    batch_rows : int, default=DEFAULT_BATCH_ROWS
        Rows per chunk.
    keep_columns : sequence of str, default=()
        Input columns copied to the output (an id column, say).
    progress : Progress, optional
        Told about each chunk (``task("scoring", total_rows)``).
    log_dir : str or os.PathLike, optional
        Also append every scored row to the prediction log in this folder (the one the
        server writes; see :mod:`skloop.serve`), as one request: a new request id for
        the run and the row's position as its row, so batch scoring is monitored like
        serving. The output then starts with a ``request_id`` column: with ``row``, the
        key that joins labels to these predictions when the data has no id column.
        Each chunk is durable before the next is read; rows scored before a failure
        stay logged.
    model_name : str, optional
        The model's name in the log (default: ``model_ref`` up to ``@`` or ``/``).
    id_column : str, optional
        The input column holding the entity id (the spec's ``data.id``): copied to the
        output, first after ``row``, when the input has it (unless ``keep_id`` is
        false), and logged as ``entity_id`` so that labels can be joined by it.
    keep_id : bool, default=True
        Whether to copy ``id_column`` to the output.

    Returns
    -------
    PredictResult
        Rows scored, the output path, issue and flagged-row counts.

    Raises
    ------
    DataError
        The input cannot be read, has no rows, lacks a ``keep_columns`` column, or
        has rows the signature rejects (the message names rows and columns); nothing
        is written then.

    Examples
    --------
    >>> predict_batch(model, sig, "new.csv", "scores.parquet", model_ref="churn@champion")  # doctest: +SKIP
    PredictResult(rows=5000, out_path=PosixPath('scores.parquet'), issues_count=0, flagged=0)
    """
    progress = progress or NullProgress()
    sig = _signature(signature)
    source, out = Path(data_path), Path(out_path)
    metadata: Mapping[str, str] = {
        "skloop.model_ref": model_ref,
        "skloop.model_version": "" if model_version is None else str(model_version),
        "skloop.model_sha256": model_sha256 or "",
        "skloop.source": str(source),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer: pq.ParquetWriter | None = None
    rows = issues = flagged = logged = 0
    log = request_id = None
    if log_dir is not None:
        # the log module alone: the server's dependencies are not needed to write the log
        from skloop.serve import PredictionLog

        log = PredictionLog(log_dir).start()
        request_id = uuid.uuid4().hex
    name = model_name or model_ref.split("@")[0].split("/")[0]
    try:
        with (
            progress.task(f"scoring {source.name}", _total_rows(source)) as advance,
            closing(iter_batches(source, batch_rows)) as chunks,
        ):
            for chunk in chunks:
                if chunk.empty:
                    continue  # a CSV of only its header: "no rows to score" below
                missing = [c for c in keep_columns if c not in chunk.columns]
                if missing:
                    raise DataError(f"{source}: --keep column(s) {missing} are not in the data")
                chunk_flags: dict[int | None, list[dict[str, Any]]] = {}
                if sig is not None:
                    X, n_issues, n_flagged = _check(chunk, sig, rows, source, chunk_flags)
                    issues, flagged = issues + n_issues, flagged + n_flagged
                else:
                    X = chunk
                positions = np.arange(rows, rows + len(chunk), dtype=np.int64)
                with_id = keep_id and id_column is not None and id_column in chunk.columns
                kept = list(dict.fromkeys([*([id_column] if with_id else []), *keep_columns]))
                scored = _score(model, X, positions, chunk[kept], request_id)
                table = pa.Table.from_pandas(scored, preserve_index=False)
                if writer is None:
                    schema = table.schema.with_metadata({**(table.schema.metadata or {}), **metadata})
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(table.cast(writer.schema))
                if log is not None and request_id is not None:
                    log.append_sync(
                        _log_records(
                            chunk,
                            scored,
                            chunk_flags,
                            request_id=request_id,
                            start=rows,
                            model=name,
                            version=model_version,
                            id_column=id_column,
                        )
                    )
                    logged += len(chunk)
                rows += len(chunk)
                advance(len(chunk))
        if writer is None:
            raise DataError(f"{source} has no rows to score (only a header?); give a file with data rows")
        writer.close()
        writer = None
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        if log is not None:
            log.close()
    logger.info("scored %d rows of %s with %s into %s", rows, source, model_ref, out)
    return PredictResult(
        rows=rows, out_path=out, issues_count=issues, flagged=flagged, request_id=request_id, logged=logged
    )


def read_prediction_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The skloop key-value metadata of a predictions file written by :func:`predict_batch`."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k.decode().startswith("skloop.")}
