"""dask.distributed: a search's fits through joblib's Dask backend, a Parquet table partition by partition.

Everything here needs the ``dask`` extra (``pip install 'skloop[dask]'``), imported only
when a function is called, so ``import skloop`` never needs dask. dask and distributed
are typed only in part: what this module takes from them is ``Any`` and is typed here,
at the boundary (:class:`DaskCluster`, :func:`ordered_partitions`).

- :func:`connect` opens a client on a scheduler address (``tcp://host:8786``) or, with
  none, on a :class:`distributed.LocalCluster` of worker processes on 127.0.0.1 that it
  closes afterwards.
- :meth:`DaskCluster.joblib` routes joblib (so scikit-learn's ``n_jobs`` searches) to
  the cluster: every (candidate, fold) fit is a task on a worker, with the same
  estimator, folds and seeds as a local run, so the scores are the same.
- :func:`ordered_partitions` reads a Parquet file or folder (a local path or any fsspec
  URL the workers can open) as a dask dataframe, one partition per row group, runs a
  function on each partition on the workers and hands the results back in the file's
  order, a few partitions ahead: the caller holds a bounded number of results however
  large the file is.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from skloop.core import DataError, UsageError, optional_import

logger = logging.getLogger(__name__)

__all__ = [
    "CONNECT_TIMEOUT",
    "DASK_EXTRA",
    "DEFAULT_LOOKAHEAD",
    "DaskCluster",
    "connect",
    "ordered_partitions",
]

DASK_EXTRA = "dask"
"""The skloop extra that installs dask and distributed."""

DEFAULT_LOOKAHEAD = 2
"""Partitions computed ahead of the one the caller reads (bounds the memory they hold)."""

CONNECT_TIMEOUT = "30s"
"""How long :func:`connect` tries to reach a scheduler."""

T = TypeVar("T")


@dataclass(frozen=True)
class DaskCluster:
    """A connected ``distributed.Client``, and where it points.

    Attributes
    ----------
    client : distributed.Client
        The client (``Any``: distributed is not fully typed).
    address : str
        The scheduler's address (a local cluster's own, ``tcp://127.0.0.1:...``).
    local : bool
        Whether the cluster was started for this client (no address given).
    """

    client: Any
    address: str
    local: bool

    @property
    def label(self) -> str:
        """What a run records as its scheduler: the address, or ``local`` for a cluster started for it."""
        return "local" if self.local else self.address

    def n_workers(self) -> int:
        """Workers connected to the scheduler now."""
        info = cast("dict[str, Any]", self.client.scheduler_info())
        return len(info.get("workers", {}))

    def joblib(self) -> AbstractContextManager[Any]:
        """Run joblib's parallel calls (scikit-learn's ``n_jobs``) on this cluster while the context is open."""
        import joblib

        optional_import("distributed", DASK_EXTRA)  # registers joblib's "dask" backend
        return cast("AbstractContextManager[Any]", joblib.parallel_config(backend="dask"))


@contextmanager
def connect(address: str | None = None, *, n_workers: int = 2, timeout: str = CONNECT_TIMEOUT) -> Iterator[DaskCluster]:
    """A client on the scheduler at ``address``, or on a local cluster of ``n_workers`` processes.

    Parameters
    ----------
    address : str, optional
        ``tcp://host:8786`` (what ``SKLOOP_DASK_SCHEDULER`` or ``search.scheduler`` say).
        ``None`` starts a :class:`distributed.LocalCluster` on 127.0.0.1, closed on exit.
    n_workers : int, default=2
        Worker processes of a local cluster.
    timeout : str, default=CONNECT_TIMEOUT
        How long to try to reach the scheduler (``"30s"``).

    Raises
    ------
    MissingExtraError
        dask or distributed is not installed (the message names ``skloop[dask]``).
    UsageError
        The scheduler cannot be reached.
    """
    distributed = optional_import("distributed", DASK_EXTRA)
    optional_import("dask.dataframe", DASK_EXTRA)
    cluster: Any = None
    try:
        if address is None:
            cluster = distributed.LocalCluster(
                # the HTTP server on a free port: two clusters on one host would both want 8787
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise UsageError(
            f"cannot reach the dask scheduler at {address}: {exc}; start it (dask scheduler) or fix "
            "SKLOOP_DASK_SCHEDULER / search.scheduler"
        ) from exc
    try:
        yield DaskCluster(client=client, address=str(client.scheduler.address), local=address is None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _quiet_workers() -> None:
    """On a worker: ignore the pandas 3.1 deprecation that dask's Parquet reader triggers on every partition.

    (``reset_index(inplace=True)`` in ``dask.dataframe.io.parquet.arrow``); third-party noise,
    which a worker started under ``-W error`` would otherwise raise.
    """
    import warnings

    warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.reset_index is deprecated")


def _read_parquet(source: str | os.PathLike[str], columns: list[str] | None) -> Any:
    dask = optional_import("dask", DASK_EXTRA)
    dd = optional_import("dask.dataframe", DASK_EXTRA)
    # the partitions get the dtypes pyarrow's to_pandas gives (what the local readers
    # give), not dask's own string conversion
    with dask.config.set({"dataframe.convert-string": False}):
        try:
            return dd.read_parquet(os.fspath(source), split_row_groups=True, columns=columns)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read Parquet {source} as a dask dataframe: {exc}") from exc


def ordered_partitions(
    cluster: DaskCluster,
    source: str | os.PathLike[str],
    func: Callable[..., T],
    *args: Any,
    columns: list[str] | None = None,
    lookahead: int = DEFAULT_LOOKAHEAD,
) -> Iterator[T]:
    """``func(partition, *args)`` on the workers for each partition of the Parquet ``source``, in order.

    Parameters
    ----------
    cluster : DaskCluster
    source : str or os.PathLike
        A Parquet file or folder, a local path or an fsspec URL (``s3://...``) the
        workers can read; one partition per row group.
    func : callable
        Takes a pandas DataFrame (and ``args``); must be importable by the workers
        (a module-level function).
    *args
        Sent to the workers once (scattered), then passed to every call: a model, say.
    columns : list of str, optional
        The columns to read (default: all).
    lookahead : int, default=DEFAULT_LOOKAHEAD
        Partitions computed ahead of the one being read.

    Yields
    ------
    The result of each partition, in the file's order; at most ``lookahead + 1`` are held.
    """
    if lookahead < 0:
        raise UsageError(f"lookahead must be 0 or more, given {lookahead}")
    dask = optional_import("dask", DASK_EXTRA)
    frame = _read_parquet(source, columns)
    parts = cast("list[Any]", frame.to_delayed())
    client = cluster.client
    client.run(_quiet_workers)
    shared = [client.scatter(a, broadcast=True) for a in args]
    call = dask.delayed(func, pure=True)
    pending: deque[Any] = deque()
    try:
        for part in parts:
            pending.append(client.compute(call(part, *shared)))
            if len(pending) > lookahead:
                yield cast("T", pending.popleft().result())
        while pending:
            yield cast("T", pending.popleft().result())
    finally:
        for future in pending:  # a caller that stops early (or an error) cancels the rest
            future.cancel()
