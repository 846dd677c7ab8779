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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skloop.core import DataError
from skloop.data import DEFAULT_BATCH_ROWS, class_names, iter_batches
from skloop.workflows._progress import NullProgress, Progress

if TYPE_CHECKING:
    from skloop.store import ModelVersion, Store

logger = logging.getLogger(__name__)

__all__ = [
    "PREDICTION_METADATA_KEYS",
    "BatchPredictions",
    "PredictResult",
    "id_column_of",
    "predict_batch",
    "predict_table",
    "read_prediction_metadata",
]

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


@dataclass(frozen=True)
class BatchPredictions:
    """Predictions of one model version on a table, in memory (:func:`predict_table`).

    Attributes
    ----------
    predictions : DataFrame
        One row per input row: ``row`` (its position), the id column and kept
        columns, ``prediction`` and, for a classifier, ``proba_<class>`` per class;
        the columns :func:`predict_batch` writes to Parquet.
    model_ref : str
        The reference scored with (``"churn@champion"``).
    model_version : int or None
        The version it resolved to.
    model_sha256 : str or None
        The SHA-256 of the version's artifact.
    issues_count, flagged : int
        As in :class:`PredictResult`.
    request_id : str or None
        With a prediction log: the request id of the rows in the log.
    logged : int
        With a prediction log: rows appended (durably) to it.
    """

    predictions: pd.DataFrame = field(repr=False)
    model_ref: str
    model_version: int | None
    model_sha256: str | None = None
    issues_count: int = 0
    flagged: int = 0
    request_id: str | None = None
    logged: int = 0

    @property
    def rows(self) -> int:
        """Rows scored."""
        return len(self.predictions)


def _signature(signature: Any) -> Any:
    if signature is None:
        return None
    from skloop.registry import Signature

    return signature if isinstance(signature, Signature) else Signature.from_dict(signature)


def _check(
    chunk: pd.DataFrame, signature: Any, start: int, source: str, flags: dict[int | None, list[dict[str, Any]]]
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


def _score(model: Any, X: pd.DataFrame, rows: np.ndarray, keep: pd.DataFrame) -> pd.DataFrame:
    out = {"row": rows}
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


@dataclass
class _Scoring:
    """One scoring pass: checks, scores and logs chunk after chunk, and counts what it did.

    Shared by :func:`predict_batch` (chunks to a Parquet file) and :func:`predict_table`
    (chunks to a DataFrame), so both check, flag and log a row the same way.
    """

    model: Any
    signature: Any
    source: str
    keep_columns: Sequence[str]
    id_column: str | None
    keep_id: bool
    name: str
    version: int | None
    log_dir: str | os.PathLike[str] | None
    rows: int = 0
    issues: int = 0
    flagged: int = 0
    logged: int = 0
    request_id: str | None = None
    _log: Any = None

    def __enter__(self) -> _Scoring:
        if self.log_dir is not None:
            # the log module alone: the server's dependencies are not needed to write the log
            from skloop.serve import PredictionLog

            self._log = PredictionLog(self.log_dir).start()
            self.request_id = uuid.uuid4().hex
        return self

    def __exit__(self, *exc: object) -> None:
        if self._log is not None:
            self._log.close()

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The predictions of ``chunk`` (rows numbered from where the last chunk ended), logged if asked."""
        missing = [c for c in self.keep_columns if c not in chunk.columns]
        if missing:
            raise DataError(f"{self.source}: --keep column(s) {missing} are not in the data")
        chunk_flags: dict[int | None, list[dict[str, Any]]] = {}
        if self.signature is not None:
            X, n_issues, n_flagged = _check(chunk, self.signature, self.rows, self.source, chunk_flags)
            self.issues, self.flagged = self.issues + n_issues, self.flagged + n_flagged
        else:
            X = chunk
        positions = np.arange(self.rows, self.rows + len(chunk), dtype=np.int64)
        with_id = self.keep_id and self.id_column is not None and self.id_column in chunk.columns
        kept = list(dict.fromkeys([*([self.id_column] if with_id else []), *self.keep_columns]))
        scored = _score(self.model, X, positions, chunk[kept])
        if self._log is not None and self.request_id is not None:
            self._log.append_sync(
                _log_records(
                    chunk, scored, chunk_flags, request_id=self.request_id, start=self.rows, model=self.name,
                    version=self.version, id_column=self.id_column,
                )
            )  # fmt: skip
            self.logged += len(chunk)
        self.rows += len(chunk)
        return scored


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
        serving. Each chunk is durable before the next is read; rows scored before a
        failure stay logged.
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

    See Also
    --------
    predict_table : the same scoring into a DataFrame in memory.

    Examples
    --------
    >>> predict_batch(model, sig, "new.csv", "scores.parquet", model_ref="churn@champion")  # doctest: +SKIP
    PredictResult(rows=5000, out_path=PosixPath('scores.parquet'), issues_count=0, flagged=0)
    """
    progress = progress or NullProgress()
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
    scoring = _Scoring(
        model, _signature(signature), str(source), keep_columns, id_column, keep_id,
        model_name or _name_of(model_ref), model_version, log_dir,
    )  # fmt: skip
    try:
        with (
            scoring,
            progress.task(f"scoring {source.name}", _total_rows(source)) as advance,
            closing(iter_batches(source, batch_rows)) as chunks,
        ):
            for chunk in chunks:
                if chunk.empty:
                    continue  # a CSV of only its header: "no rows to score" below
                table = pa.Table.from_pandas(scoring.score(chunk), preserve_index=False)
                if writer is None:
                    schema = table.schema.with_metadata({**(table.schema.metadata or {}), **metadata})
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(table.cast(writer.schema))
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
    logger.info("scored %d rows of %s with %s into %s", scoring.rows, source, model_ref, out)
    return PredictResult(
        rows=scoring.rows, out_path=out, issues_count=scoring.issues, flagged=scoring.flagged,
        request_id=scoring.request_id, logged=scoring.logged,
    )  # fmt: skip


def _name_of(model_ref: str) -> str:
    return model_ref.split("@")[0].split("/")[0]


def _slices(frame: pd.DataFrame, batch_rows: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), batch_rows):
        yield frame.iloc[start : start + batch_rows]


def predict_table(
    model: Any,
    signature: Any,
    data: str | os.PathLike[str] | pd.DataFrame,
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
) -> BatchPredictions:
    """Score a DataFrame (or a CSV or Parquet file) and keep the predictions in memory.

    The rows are checked, flagged, scored and (with ``log_dir``) logged exactly as
    :func:`predict_batch` does, chunk by chunk; only the output differs: a DataFrame
    with the same columns as the Parquet file. Use :func:`predict_batch` for tables
    larger than memory.

    Parameters
    ----------
    data : str, os.PathLike or DataFrame
        The rows to score.
    model, signature, model_ref, model_version, model_sha256, batch_rows, keep_columns, \
progress, log_dir, model_name, id_column, keep_id
        As for :func:`predict_batch`.

    Returns
    -------
    BatchPredictions

    Raises
    ------
    DataError
        As for :func:`predict_batch`.
    """
    progress = progress or NullProgress()
    in_memory = isinstance(data, pd.DataFrame)
    source = "the data" if in_memory else os.fspath(data)  # type: ignore[arg-type]
    scoring = _Scoring(
        model, _signature(signature), source, keep_columns, id_column, keep_id,
        model_name or _name_of(model_ref), model_version, log_dir,
    )  # fmt: skip
    parts: list[pd.DataFrame] = []
    total = len(data) if isinstance(data, pd.DataFrame) else _total_rows(Path(data))
    with scoring, progress.task(f"scoring {Path(source).name}", total) as advance:
        chunks = _slices(data, batch_rows) if isinstance(data, pd.DataFrame) else iter_batches(data, batch_rows)
        with closing(chunks):
            for chunk in chunks:
                if not chunk.empty:
                    parts.append(scoring.score(chunk))
                    advance(len(chunk))
    if not parts:
        raise DataError(f"{source} has no rows to score; give rows with the model's input columns")
    return BatchPredictions(
        predictions=pd.concat(parts, ignore_index=True), model_ref=model_ref, model_version=model_version,
        model_sha256=model_sha256, issues_count=scoring.issues, flagged=scoring.flagged,
        request_id=scoring.request_id, logged=scoring.logged,
    )  # fmt: skip


def id_column_of(store: Store, version: ModelVersion) -> str | None:
    """The entity id column (``data.id``) of the spec that trained ``version``, if it declared one.

    What batch scoring copies to its output and logs as ``entity_id``, so that labels
    arriving later join by it.
    """
    column = ((store.runs.get_run(version.run_id).spec or {}).get("data") or {}).get("id")
    return column if isinstance(column, str) else None


def read_prediction_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The skloop key-value metadata of a predictions file written by :func:`predict_batch`."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k.decode().startswith("skloop.")}
