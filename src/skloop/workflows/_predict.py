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

__all__ = [
    "MAX_BAD_ROWS_KEPT",
    "PREDICTION_METADATA_KEYS",
    "BadRow",
    "PredictResult",
    "predict_batch",
    "read_prediction_metadata",
    "rejected_path",
]

PREDICTION_METADATA_KEYS = ("skloop.model_ref", "skloop.model_version", "skloop.model_sha256", "skloop.source")
"""Keys of the Parquet key-value metadata that :func:`predict_batch` writes."""

_MAX_REPORTED_ERRORS = 5

MAX_BAD_ROWS_KEPT = 1000
"""Refused rows listed in :attr:`PredictResult.bad_rows` (the side file holds them all)."""


@dataclass(frozen=True)
class BadRow:
    """One reason a row of the input was not scored.

    Attributes
    ----------
    row : int
        The row's 0-based position in the input (the ``row`` of the output).
    column : str
        The column at fault.
    reason : str
        What is wrong with its value (or that the column is absent).
    """

    row: int
    column: str
    reason: str


def rejected_path(out_path: str | os.PathLike[str]) -> Path:
    """The side file of the rows :func:`predict_batch` refused: ``scores.parquet`` → ``scores.rejected.csv``."""
    out = Path(out_path)
    return out.with_name(f"{out.stem}.rejected.csv")


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


def _signature(signature: Any) -> Any:
    if signature is None:
        return None
    from skloop.registry import Signature

    return signature if isinstance(signature, Signature) else Signature.from_dict(signature)


@dataclass
class _Checked:
    """A chunk typed like the signature: the rows to score, and those refused."""

    X: pd.DataFrame
    good: np.ndarray  # positions in the chunk of the rows to score
    bad: np.ndarray  # positions in the chunk of the refused rows
    reasons: dict[int, list[tuple[str, str]]]  # chunk position -> [(column, problem)]
    issues: int
    flagged: int


def _check(
    chunk: pd.DataFrame,
    signature: Any,
    start: int,
    source: Path,
    flags: dict[int | None, list[dict[str, Any]]],
    *,
    strict: bool,
) -> _Checked:
    """The chunk typed like the signature, split into rows to score and rows refused.

    The flags of the scored rows are put in ``flags`` by row of the chunk (``None``:
    every row).

    Raises
    ------
    DataError
        With ``strict``, when a row is refused (naming the first ones).
    """
    from skloop.registry import coerce_frame

    result = coerce_frame(chunk, signature, max_issues=None if not strict else _MAX_REPORTED_ERRORS)
    if result.errors and strict:
        shown = "; ".join(
            f"row {start + i.row if i.row is not None else '-'}, column {i.column!r}: {i.problem}"
            for i in result.errors[:_MAX_REPORTED_ERRORS]
        )
        more = len(result.error_rows) - min(len(result.error_rows), _MAX_REPORTED_ERRORS)
        raise DataError(
            f"{source}: {len(result.error_rows)} row(s) from row {start} cannot be scored: {shown}"
            + (f" (and {more} more rows)" if more > 0 else "")
            + "; fix the data or retrain on data like it (without --strict, the other rows are scored)"
        )
    bad = np.asarray(result.error_rows, dtype=np.int64)
    reasons: dict[int, list[tuple[str, str]]] = {int(r): [] for r in bad}
    whole = [(i.column, i.problem) for i in result.errors if i.row is None]  # a missing column: every row
    for i in result.errors:
        if i.row is not None:
            reasons[i.row].append((i.column, i.problem))
    for r in reasons:
        reasons[r] = whole + reasons[r]
    is_bad = np.zeros(len(chunk), dtype=bool)
    is_bad[bad] = True
    good = np.flatnonzero(~is_bad)
    flagged_rows = {i.row for i in result.flags if i.row is not None and not is_bad[i.row]}
    for i in result.flags:
        if i.row is not None and is_bad[i.row]:
            continue
        row = None if i.row is None else start + i.row
        flags.setdefault(i.row, []).append({"row": row, "column": i.column, "problem": i.problem, "severity": "flag"})
    issues = sum(1 for i in result.flags if i.row is None or not is_bad[i.row])
    X = result.frame.iloc[good].reset_index(drop=True) if bad.size else result.frame
    return _Checked(X, good, bad, reasons, issues, len(flagged_rows))


class _RejectedWriter:
    """The refused rows as read, with their position and reasons, in a CSV written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.rows = 0
        self.kept: list[BadRow] = []
        self._header = True

    def write(self, chunk: pd.DataFrame, checked: _Checked, start: int) -> None:
        if checked.bad.size == 0:
            return
        part = chunk.iloc[checked.bad].reset_index(drop=True)
        texts = []
        for r in checked.bad.tolist():
            texts.append("; ".join(f"column {c!r}: {p}" for c, p in checked.reasons[r]))
            if self.rows + len(texts) <= MAX_BAD_ROWS_KEPT:
                self.kept += [BadRow(start + r, c, p) for c, p in checked.reasons[r]]
        part.insert(0, "reason", texts)
        part.insert(0, "row", checked.bad + start)
        part.to_csv(self.tmp, mode="w" if self._header else "a", header=self._header, index=False)
        self._header = False
        self.rows += len(part)

    def commit(self) -> Path | None:
        """Move the file in place (or remove an earlier run's when none was refused)."""
        if self.rows == 0:
            self.path.unlink(missing_ok=True)
            return None
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


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
    strict : bool, default=False
        Fail on the first chunk with a row the signature refuses, instead of scoring
        the other rows and writing the refused ones to :func:`rejected_path`.

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
    rows = issues = flagged = logged = seen = 0
    rejects = _RejectedWriter(rejected_path(out))
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
                good = np.arange(len(chunk), dtype=np.int64)
                start, seen = seen, seen + len(chunk)
                if sig is not None:
                    checked = _check(chunk, sig, start, source, chunk_flags, strict=strict)
                    issues, flagged = issues + checked.issues, flagged + checked.flagged
                    rejects.write(chunk, checked, start)
                    X, good = checked.X, checked.good
                    if good.size < len(chunk):
                        chunk = chunk.iloc[good].reset_index(drop=True)
                else:
                    X = chunk
                advance(seen - start)
                if good.size == 0:
                    continue
                positions = good + start
                with_id = keep_id and id_column is not None and id_column in chunk.columns
                kept = list(dict.fromkeys([*([id_column] if with_id else []), *keep_columns]))
                scored = _score(model, X, positions, chunk[kept])
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
                            good=good,
                            start=start,
                            model=name,
                            version=model_version,
                            id_column=id_column,
                        )
                    )
                    logged += len(chunk)
                rows += len(chunk)
        if writer is None and rejects.rows:
            first = "; ".join(
                f"row {b.row}, column {b.column!r}: {b.reason}" for b in rejects.kept[:_MAX_REPORTED_ERRORS]
            )
            side = rejects.commit()  # the refused rows and why, to fix them
            raise DataError(
                f"{source}: none of its {rejects.rows} rows can be scored ({first}); they are in {side}; "
                "fix the data or retrain on data like it"
            )
        if writer is None:
            raise DataError(f"{source} has no rows to score (only a header?); give a file with data rows")
        writer.close()
        writer = None
        os.replace(tmp, out)
        side = rejects.commit()
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        rejects.discard()
        if log is not None:
            log.close()
    logger.info("scored %d rows of %s with %s into %s (%d rejected)", rows, source, model_ref, out, rejects.rows)
    return PredictResult(
        rows=rows,
        out_path=out,
        issues_count=issues,
        flagged=flagged,
        request_id=request_id,
        logged=logged,
        rejected=rejects.rows,
        bad_rows=tuple(rejects.kept),
        rejected_path=side,
    )


def read_prediction_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The skloop key-value metadata of a predictions file written by :func:`predict_batch`."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k.decode().startswith("skloop.")}
