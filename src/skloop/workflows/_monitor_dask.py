"""Monitor a Parquet table on a dask.distributed cluster, partition by partition.

Each worker types its partition (one row group) as the local reader types a batch and
scores it with the version's model (:func:`~skloop.workflows.score_frame`); the caller
receives the scored partitions in the file's order, a few ahead, and feeds them into the
streaming accumulators of :func:`~skloop.monitor.monitor_pages`, the ones the log-paged
monitor uses: each numeric column keeps its values up to ``EXACT_ROWS`` (exact tests,
the same report as a local ``monitor_frame`` for a table that size), then counts between
the reference's sketch points, so the caller's memory does not grow with the table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from skloop.core import UsageError
from skloop.data import type_batch
from skloop.monitor import MonitorReport, monitor_pages

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from skloop.integrations import DaskCluster
    from skloop.workflows._monitor import MonitorInputs

__all__ = ["FROM_LOG_ON_DASK", "WINDOW_ON_DASK", "monitor_partitions"]

#: Why ``--from-log`` is not run on dask, and what to do instead.
FROM_LOG_ON_DASK = (
    "--dask and --scheduler apply to --current (a Parquet table), not to --from-log: the prediction log "
    "is in the SQL store, so dask workers could only read the same database this process reads, and "
    "--from-log already streams it in keyset pages with bounded memory (about 400 MB peak over 10 million "
    "predictions); drop --dask/--scheduler (narrow the rows with --since), or score an exported Parquet "
    "table with --current FILE --dask"
)
#: Why ``--window`` is not computed on dask, and what to do instead.
WINDOW_ON_DASK = (
    "--window is not computed with --dask/--scheduler: windows are cut in time order, and a Parquet table's "
    "row groups are not sorted by time across partitions, so the cluster would have to shuffle the whole "
    "table first; monitor the whole table on dask (drop --window), run --window without --dask (the "
    "local monitor sorts the table), or monitor each period's file on dask"
)


@dataclass(frozen=True)
class _Scorer:
    inputs: MonitorInputs  # without its reference rows and estimator: the workers only score
    datetimes: Mapping[str, bool]
    source: str


def _score_partition(chunk: pd.DataFrame, scorer: _Scorer) -> pd.DataFrame:
    from skloop.workflows._monitor import score_frame

    if chunk.empty:
        return chunk
    return score_frame(scorer.inputs, type_batch(chunk.reset_index(drop=True), scorer.datetimes, scorer.source))


def _numbered(pages: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The pages indexed by their rows' positions in the table (what orders monitor_pages' sample)."""
    seen = 0
    for page in pages:
        page.index = pd.RangeIndex(seen, seen + len(page))
        seen += len(page)
        yield page


def monitor_partitions(
    cluster: DaskCluster,
    inputs: MonitorInputs,
    source: str | os.PathLike[str],
    report_args: dict[str, Any],
    *,
    window: str | int | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> MonitorReport:
    """The report of ``inputs``' version on the Parquet ``source`` (a path or fsspec URL), scored on ``cluster``."""
    from skloop.integrations import ordered_partitions
    from skloop.workflows._predict_dask import is_parquet_source, source_datetimes

    text = os.fspath(source)
    if not is_parquet_source(text):
        raise UsageError(f"{text}: monitoring on dask reads Parquet (a .parquet file or a folder of them)")
    if window is not None:
        raise UsageError(WINDOW_ON_DASK)
    light = replace(inputs, reference=pd.DataFrame(), estimator=None)
    scorer = _Scorer(light, source_datetimes(text), text)
    pages = _numbered(ordered_partitions(cluster, text, _score_partition, scorer))
    return monitor_pages(
        pages, inputs.reference, **report_args, n_boot=n_boot, seed=seed, current_name=text,
    )  # fmt: skip
