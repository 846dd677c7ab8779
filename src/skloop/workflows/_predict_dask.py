"""Batch scoring of a Parquet table on a dask.distributed cluster, partition by partition.

The table (a local path or an fsspec URL the workers can read) is a dask dataframe of
one partition per row group. Each worker types its partition as the local reader types
a batch, checks it against the signature and scores it (the same ``check_chunk`` and
``_score`` as :func:`~skloop.workflows.predict_batch`); the caller receives the scored
partitions in the file's order, a few ahead, numbers their rows, and appends each to the
output (one row group per partition) and its refused rows to the side file. So the
output equals the local one, and the caller's memory is a few partitions whatever the
file's size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from skloop.core import DataError, UsageError
from skloop.data import batch_datetimes, type_batch
from skloop.integrations import DaskCluster, ordered_partitions
from skloop.workflows._predict import PredictResult, _score
from skloop.workflows._predict_output import OutputWriter, output_format, rejected_path
from skloop.workflows._predict_rows import MAX_REPORTED_ERRORS, RejectedWriter, as_signature, check_chunk
from skloop.workflows._progress import NullProgress, Progress

logger = logging.getLogger(__name__)

__all__ = ["is_parquet_source", "predict_partitions", "source_datetimes"]


def is_parquet_source(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names Parquet: a ``.parquet``/``.pq`` file or a folder of them (local or URL)."""
    text = os.fspath(source).rstrip("/")
    if text.lower().endswith((".parquet", ".pq")):
        return True
    return "://" not in text and Path(text).is_dir()


def source_datetimes(source: str | os.PathLike[str]) -> dict[str, bool]:
    """The ISO-8601 date columns of the first row group of the Parquet ``source`` (see ``batch_datetimes``)."""
    import fsspec

    text = os.fspath(source)
    try:
        fs, path = fsspec.core.url_to_fs(text)
        first = path if not fs.isdir(path) else sorted(p for p in fs.find(path) if p.endswith((".parquet", ".pq")))[0]
        with fs.open(first, "rb") as handle, pq.ParquetFile(handle) as pf:
            head = pf.read_row_group(0).to_pandas() if pf.metadata.num_row_groups else pd.DataFrame()
    except (OSError, IndexError, ValueError) as exc:
        raise DataError(f"cannot read Parquet {text}: {exc}; give a Parquet file or folder of them") from exc
    return batch_datetimes(head)


@dataclass(frozen=True)
class _Job:
    """What every worker needs to score a partition (sent once, scattered)."""

    model: Any
    signature: Any
    source: str
    kept: tuple[str, ...]
    id_column: str | None
    keep_id: bool
    datetimes: Mapping[str, bool]


@dataclass
class _Part:
    """One scored partition, rows numbered from 0 (the caller shifts them)."""

    n: int
    scored: pd.DataFrame | None
    issues: int = 0
    flagged: int = 0
    flagged_columns: dict[str, int] = field(default_factory=dict)
    bad: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    reasons: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    refused: pd.DataFrame | None = None  # the refused rows as read
    missing_kept: list[str] = field(default_factory=list)


def _score_partition(chunk: pd.DataFrame, job: _Job) -> _Part:
    """Type, check and score one partition on a worker."""
    missing = [c for c in job.kept if c not in chunk.columns]
    if missing or chunk.empty:
        return _Part(n=len(chunk), scored=None, missing_kept=missing)
    chunk = type_batch(chunk.reset_index(drop=True), job.datetimes, job.source)
    good = np.arange(len(chunk), dtype=np.int64)
    part = _Part(n=len(chunk), scored=None)
    if job.signature is not None:
        checked = check_chunk(chunk, job.signature, 0, job.source, {}, strict=False)
        part.issues, part.flagged, part.flagged_columns = checked.issues, checked.flagged, checked.flagged_columns
        part.bad, part.reasons = checked.bad, checked.reasons
        if checked.bad.size:
            part.refused = chunk.iloc[checked.bad].reset_index(drop=True)
        X, good = checked.X, checked.good
        if good.size < len(chunk):
            chunk = chunk.iloc[good].reset_index(drop=True)
    else:
        X = chunk
    if good.size:
        with_id = job.keep_id and job.id_column is not None and job.id_column in chunk.columns
        kept = list(dict.fromkeys([*([job.id_column] if with_id and job.id_column else []), *job.kept]))
        part.scored = _score(job.model, X, good, chunk[kept], None)
    return part


def _strict_error(source: str, part: _Part, start: int) -> DataError:
    shown = "; ".join(
        f"row {start + r}, column {c!r}: {p}"
        for r in part.bad[:MAX_REPORTED_ERRORS].tolist()
        for c, p in part.reasons[r][:1]
    )
    more = part.bad.size - min(part.bad.size, MAX_REPORTED_ERRORS)
    return DataError(
        f"{source}: {part.bad.size} row(s) from row {start} cannot be scored: {shown}"
        + (f" (and {more} more rows)" if more > 0 else "")
        + "; fix the data or retrain on data like it (without --strict, the other rows are scored)"
    )


def predict_partitions(
    cluster: DaskCluster,
    model: Any,
    signature: Any,
    data_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, str],
    keep_columns: Sequence[str] = (),
    progress: Progress | None = None,
    id_column: str | None = None,
    keep_id: bool = True,
    strict: bool = False,
) -> PredictResult:
    """:func:`~skloop.workflows.predict_batch` of a Parquet table on ``cluster`` (see the module docstring)."""
    progress = progress or NullProgress()
    source = os.fspath(data_path)
    if not is_parquet_source(source):
        raise UsageError(f"{source}: scoring on dask reads Parquet (a .parquet file or a folder of them)")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = OutputWriter(out, output_format(out), metadata)
    rejects = RejectedWriter(rejected_path(out))
    job = _Job(
        model, as_signature(signature), source, tuple(keep_columns), id_column, keep_id, source_datetimes(source)
    )
    rows = seen = issues = flagged = 0
    by_column: dict[str, int] = {}
    try:
        with progress.task(f"scoring {source.rstrip('/').rsplit('/', 1)[-1]} on dask", None) as advance:
            for part in ordered_partitions(cluster, source, _score_partition, job):
                if part.missing_kept:
                    raise DataError(f"{source}: --keep column(s) {part.missing_kept} are not in the data")
                start, seen = seen, seen + part.n
                advance(part.n)
                if strict and part.bad.size:
                    raise _strict_error(source, part, start)
                issues, flagged = issues + part.issues, flagged + part.flagged
                for column, n in part.flagged_columns.items():
                    by_column[column] = by_column.get(column, 0) + n
                if part.refused is not None:
                    rejects.write_rows(part.refused, part.bad, part.reasons, start)
                if part.scored is not None:
                    part.scored["row"] += start
                    rows += len(part.scored)
                    writer.write(part.scored)
        if not writer.started and rejects.rows:
            raise DataError(
                f"{source}: none of its {rejects.rows} rows can be scored; they are in {rejects.commit()}; "
                "fix the data or retrain on data like it"
            )
        if not writer.started:
            raise DataError(f"{source} has no rows to score; give a file with data rows")
        writer.commit()
        side = rejects.commit()
    finally:
        writer.discard()
        rejects.discard()
    logger.info("scored %d rows of %s on dask (%s) into %s", rows, source, cluster.label, out)
    return PredictResult(
        rows=rows, out_path=out, issues_count=issues, flagged=flagged, rejected=rejects.rows,
        bad_rows=tuple(rejects.kept), rejected_path=side,
        flagged_columns=dict(sorted(by_column.items(), key=lambda kv: (-kv[1], kv[0]))),
    )  # fmt: skip
