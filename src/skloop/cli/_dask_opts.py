"""The ``--dask/--local`` and ``--scheduler`` options of ``predict`` and ``monitor``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from skloop.core import Settings, UsageError

if TYPE_CHECKING:
    from skloop.integrations import DaskCluster

__all__ = ["DaskOpt", "SchedulerOpt", "dask_cluster"]

DaskOpt = Annotated[
    bool | None,
    typer.Option(
        "--dask/--local",
        help="Run on a dask.distributed cluster, partition by partition (Parquet in: a file, folder or fsspec URL), "
        "or locally. Default: dask when SKLOOP_DASK_SCHEDULER is set and the input is Parquet. Needs skloop[dask].",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="The dask scheduler (tcp://host:8786; implies --dask). Default: SKLOOP_DASK_SCHEDULER, "
        "else a local cluster of 2 worker processes.",
    ),
]


@contextmanager
def dask_cluster(
    use_dask: bool | None, scheduler: str | None, settings: Settings, source: str | None
) -> Iterator[DaskCluster | None]:
    """The cluster the command runs on, or ``None`` to run locally."""
    from skloop.workflows import is_parquet_source

    if use_dask is False and scheduler is not None:
        raise UsageError("give --scheduler (which runs on dask) or --local, not both")
    address = scheduler or settings.dask_scheduler
    if use_dask is None:
        use_dask = scheduler is not None or (
            settings.dask_scheduler is not None and source is not None and is_parquet_source(source)
        )
    if not use_dask:
        yield None
        return
    from skloop.integrations import connect

    with connect(address) as cluster:
        yield cluster
