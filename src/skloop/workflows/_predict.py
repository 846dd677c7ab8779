"""Batch scoring: a CSV or Parquet file in, a Parquet file of predictions out.

The input is read in chunks (:func:`skloop.data.iter_batches`), each chunk is typed and
checked against the model's signature (:func:`skloop.registry.coerce_frame`), scored,
and appended to the output with a streaming ``pyarrow.parquet.ParquetWriter``, so a
file larger than memory can be scored. The output's key-value metadata records which
model made the predictions (reference, version, artifact SHA-256), so a prediction
file can be traced back to its model version.

A row the signature refuses (a value that cannot be typed, a missing value the model
cannot fill in) does not stop the run: the good rows are scored, and the refused ones
are written as read, with their reasons, to a side file next to the output
(:func:`rejected_path`), so that a few bad rows in a large file cost those rows only.
``strict=True`` fails instead, before anything is written.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skloop.core import DataError, UsageError
from skloop.data import DEFAULT_BATCH_ROWS, class_names, iter_batches
from skloop.workflows._predict_output import OutputWriter, output_format, rejected_path
from skloop.workflows._predict_rows import (
    MAX_BAD_ROWS_KEPT,
    MAX_REPORTED_ERRORS,
    BadRow,
    RejectedWriter,
    as_signature,
    check_chunk,
)
from skloop.workflows._progress import NullProgress, Progress

if TYPE_CHECKING:
    from skloop.integrations import DaskCluster
    from skloop.store import ModelVersion, Store

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_BAD_ROWS_KEPT",
    "PREDICTION_METADATA_KEYS",
    "BadRow",
    "BatchPredictions",
    "PredictResult",
    "id_column_of",
    "predict_batch",
    "predict_table",
]

PREDICTION_METADATA_KEYS = ("skloop.model_ref", "skloop.model_version", "skloop.model_sha256", "skloop.source")
"""Keys of the Parquet key-value metadata that :func:`predict_batch` writes."""


@dataclass(frozen=True)
class PredictResult:
    """What :func:`predict_batch` wrote.

    Attributes
    ----------
    rows : int
        Rows scored (the rows of the input less the rejected ones).
    out_path : Path
        The Parquet file.
    issues_count : int
        Flags raised on the scored rows (unknown category, value out of the training
        range, missing value the pipeline fills in).
    flagged : int
        Scored rows with at least one flag.
    request_id : str or None
        With ``log_dir``: the request id of the run's rows in the prediction log.
    logged : int
        With ``log_dir``: rows appended (durably) to the prediction log.
    rejected : int
        Rows refused by the signature, not scored.
    bad_rows : tuple of BadRow
        Why they were refused, one entry per row and column at fault (the first
        :data:`MAX_BAD_ROWS_KEPT` rows).
    rejected_path : Path or None
        The CSV of the refused rows as read, with ``row`` and ``reason`` columns;
        ``None`` when every row was scored.
    flagged_columns : dict
        Column → scored rows flagged in it, most flagged first (what ``flagged`` is made of).
    """

    rows: int
    out_path: Path
    issues_count: int
    flagged: int
    request_id: str | None = None
    logged: int = 0
    rejected: int = 0
    bad_rows: tuple[BadRow, ...] = ()
    rejected_path: Path | None = None
    flagged_columns: dict[str, int] = field(default_factory=dict)


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
    rejected : int
        Rows refused by the signature, not scored.
    bad_rows : tuple of BadRow
        Why, as in :class:`PredictResult` (no side file is written).
    """

    predictions: pd.DataFrame = field(repr=False)
    model_ref: str
    model_version: int | None
    model_sha256: str | None = None
    issues_count: int = 0
    flagged: int = 0
    request_id: str | None = None
    logged: int = 0
    rejected: int = 0
    bad_rows: tuple[BadRow, ...] = ()
    flagged_columns: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows scored."""
        return len(self.predictions)


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
    good: np.ndarray,
    start: int,
    model: str,
    version: int | None,
    id_column: str | None,
) -> list[dict[str, Any]]:
    """One prediction log record per scored row (the shape the server logs).

    ``chunk`` holds the scored rows only; ``good`` gives their positions in the chunk read.
    """
    now = datetime.now(UTC).isoformat()
    inputs = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
    predictions = scored["prediction"].tolist()
    proba_columns = [c for c in scored.columns if c.startswith("proba_")]
    probas = scored[proba_columns].to_numpy().tolist() if proba_columns else None
    labels = [c[len("proba_") :] for c in proba_columns]
    ids = chunk[id_column].tolist() if id_column is not None and id_column in chunk.columns else None
    shared = flags.get(None, [])
    records = []
    for i, (row, at) in enumerate(zip(inputs, good.tolist(), strict=True)):
        outputs: dict[str, Any] = {"prediction": predictions[i]}
        if probas is not None:
            outputs["probabilities"] = dict(zip(labels, probas[i], strict=True))
        record = {
            "request_id": request_id, "row": start + at, "time": now, "model": model, "version": version,
            "inputs": {str(k): v for k, v in row.items()}, "outputs": outputs, "flags": flags.get(at, []) + shared,
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
    rejects: RejectedWriter
    strict: bool = False
    rows: int = 0
    seen: int = 0
    issues: int = 0
    flagged: int = 0
    flagged_columns: dict[str, int] = field(default_factory=dict)
    logged: int = 0
    request_id: str | None = None
    _log: Any = None

    def flagged_by_column(self) -> dict[str, int]:
        """Column → flagged rows, most flagged first."""
        return dict(sorted(self.flagged_columns.items(), key=lambda kv: (-kv[1], kv[0])))

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

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame | None:
        """The predictions of the good rows of ``chunk``, logged if asked; ``None`` when it has none.

        Rows are numbered from where the last chunk ended; refused rows go to ``rejects``.
        """
        missing = [c for c in self.keep_columns if c not in chunk.columns]
        if missing:
            raise DataError(f"{self.source}: --keep column(s) {missing} are not in the data")
        chunk_flags: dict[int | None, list[dict[str, Any]]] = {}
        start, self.seen = self.seen, self.seen + len(chunk)
        good = np.arange(len(chunk), dtype=np.int64)
        if self.signature is not None:
            checked = check_chunk(chunk, self.signature, start, self.source, chunk_flags, strict=self.strict)
            self.issues, self.flagged = self.issues + checked.issues, self.flagged + checked.flagged
            for column, n in checked.flagged_columns.items():
                self.flagged_columns[column] = self.flagged_columns.get(column, 0) + n
            self.rejects.write(chunk, checked, start)
            X, good = checked.X, checked.good
            if good.size < len(chunk):
                chunk = chunk.iloc[good].reset_index(drop=True)
        else:
            X = chunk
        if good.size == 0:
            return None
        with_id = self.keep_id and self.id_column is not None and self.id_column in chunk.columns
        kept = list(dict.fromkeys([*([self.id_column] if with_id else []), *self.keep_columns]))
        scored = _score(self.model, X, good + start, chunk[kept], self.request_id)
        if self._log is not None and self.request_id is not None:
            self._log.append_sync(
                _log_records(
                    chunk, scored, chunk_flags, request_id=self.request_id, good=good, start=start,
                    model=self.name, version=self.version, id_column=self.id_column,
                )
            )  # fmt: skip
            self.logged += len(chunk)
        self.rows += len(chunk)
        return scored

    def all_refused(self) -> DataError:
        """The error of a table none of whose rows can be scored (its side file, if any, written)."""
        first = "; ".join(
            f"row {b.row}, column {b.column!r}: {b.reason}" for b in self.rejects.kept[:MAX_REPORTED_ERRORS]
        )
        side = self.rejects.commit()
        where = f"; they are in {side}" if side is not None else ""
        return DataError(
            f"{self.source}: none of its {self.rejects.rows} rows can be scored ({first}){where}; "
            "fix the data or retrain on data like it"
        )


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
    strict: bool = False,
    dask: DaskCluster | None = None,
) -> PredictResult:
    """Score a table file in chunks and write the predictions to Parquet or CSV.

    Parameters
    ----------
    model : estimator
        The fitted model (a scikit-learn pipeline taking the raw columns).
    signature : Signature, mapping or None
        The model's signature (or its dict); each chunk is typed and checked against
        it. ``None`` scores the columns as read.
    data_path : str or os.PathLike
        The input file (any format :func:`skloop.data.read_table` reads).
    out_path : str or os.PathLike
        The file to write, Parquet (``.parquet``, ``.pq``) or CSV (``.csv``, ``.csv.gz``)
        by its name; replaced atomically when the run succeeds.
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
    strict : bool, default=False
        Fail on the first chunk with a row the signature refuses, instead of scoring
        the other rows and writing the refused ones to :func:`rejected_path`.
    dask : DaskCluster, optional
        Score on this ``dask.distributed`` cluster (:func:`skloop.integrations.connect`),
        one partition (row group) of the Parquet ``data_path`` at a time, which may then
        be an fsspec URL the workers read; the output is the same as a local run's.
        Not with ``log_dir``.

    Returns
    -------
    PredictResult
        Rows scored, the output path, issue and flagged-row counts, and the rows
        refused (with their reasons and the side file holding them).

    Raises
    ------
    DataError
        The input cannot be read, has no rows, lacks a ``keep_columns`` column, has
        only rows the signature refuses, or (with ``strict``) has one such row (the
        message names rows and columns); no output is written then.

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
        "skloop.source": os.fspath(data_path) if dask is not None else str(source),
    }
    if dask is not None:
        if log_dir is not None:
            raise UsageError("logging the predictions (--log) is not done on dask; score locally to log them")
        from skloop.workflows._predict_dask import predict_partitions

        return predict_partitions(
            dask, model, signature, data_path, out_path, metadata=metadata, keep_columns=keep_columns,
            progress=progress, id_column=id_column, keep_id=keep_id, strict=strict,
        )  # fmt: skip
    out_format = output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = OutputWriter(out, out_format, metadata)
    scoring = _Scoring(
        model, as_signature(signature), str(source), keep_columns, id_column, keep_id,
        model_name or _name_of(model_ref), model_version, log_dir, RejectedWriter(rejected_path(out)), strict,
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
                scored = scoring.score(chunk)
                advance(len(chunk))
                if scored is None:
                    continue  # every row of the chunk refused
                writer.write(scored)
        if not writer.started and scoring.rejects.rows:
            raise scoring.all_refused()
        if not writer.started:
            raise DataError(f"{source} has no rows to score (only a header?); give a file with data rows")
        writer.commit()
        side = scoring.rejects.commit()
    finally:
        writer.discard()
        scoring.rejects.discard()
    logger.info(
        "scored %d rows of %s with %s into %s (%d rejected)", scoring.rows, source, model_ref, out, scoring.rejects.rows
    )
    return PredictResult(
        rows=scoring.rows, out_path=out, issues_count=scoring.issues, flagged=scoring.flagged,
        request_id=scoring.request_id, logged=scoring.logged, rejected=scoring.rejects.rows,
        bad_rows=tuple(scoring.rejects.kept), rejected_path=side, flagged_columns=scoring.flagged_by_column(),
    )  # fmt: skip


def _name_of(model_ref: str) -> str:
    return model_ref.split("@")[0].split("/")[0]


def _slices(frame: pd.DataFrame, batch_rows: int) -> Generator[pd.DataFrame, None, None]:
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
    strict: bool = False,
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
progress, log_dir, model_name, id_column, keep_id, strict
        As for :func:`predict_batch` (refused rows are counted and explained in the
        result; no side file is written).

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
        model, as_signature(signature), source, keep_columns, id_column, keep_id,
        model_name or _name_of(model_ref), model_version, log_dir, RejectedWriter(None), strict,
    )  # fmt: skip
    parts: list[pd.DataFrame] = []
    total = len(data) if isinstance(data, pd.DataFrame) else _total_rows(Path(data))
    with scoring, progress.task(f"scoring {Path(source).name}", total) as advance:
        chunks = _slices(data, batch_rows) if isinstance(data, pd.DataFrame) else iter_batches(data, batch_rows)
        with closing(chunks):
            for chunk in chunks:
                if not chunk.empty:
                    scored = scoring.score(chunk)
                    if scored is not None:
                        parts.append(scored)
                    advance(len(chunk))
    if not parts and scoring.rejects.rows:
        raise scoring.all_refused()
    if not parts:
        raise DataError(f"{source} has no rows to score; give rows with the model's input columns")
    return BatchPredictions(
        predictions=pd.concat(parts, ignore_index=True), model_ref=model_ref, model_version=model_version,
        model_sha256=model_sha256, issues_count=scoring.issues, flagged=scoring.flagged,
        request_id=scoring.request_id, logged=scoring.logged, rejected=scoring.rejects.rows,
        bad_rows=tuple(scoring.rejects.kept), flagged_columns=scoring.flagged_by_column(),
    )  # fmt: skip


def id_column_of(store: Store, version: ModelVersion) -> str | None:
    """The entity id column (``data.id``) of the spec that trained ``version``, if it declared one.

    What batch scoring copies to its output and logs as ``entity_id``, so that labels
    arriving later join by it.
    """
    column = ((store.runs.get_run(version.run_id).spec or {}).get("data") or {}).get("id")
    return column if isinstance(column, str) else None
