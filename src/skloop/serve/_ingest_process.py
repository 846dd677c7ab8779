"""Ingest the prediction log from a child process, away from the server's event loop.

Ingestion parses JSON and writes to the database: in the server's own process it would
hold the GIL for tens of milliseconds at a time and show up in the latency tail. A
spawned child does the same work (:class:`~skloop.serve.Ingestor`) on the other core; it
stops when asked, or by itself when the server dies (the log then waits, durable, for the
next start or ``skloop logs ingest``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["IngestProcess"]

_PARENT_CHECK_SECONDS = 0.5


def _main(log_dir: str, store_url: str, artifact_root: str, interval: float, parent: int, stop: Any) -> None:
    from skloop.serve._ingest import Ingestor
    from skloop.store import Store

    store = Store.open(store_url, artifact_root)
    ingestor = Ingestor(log_dir, store, interval=interval).start()
    orphaned = False
    try:
        while not stop.wait(_PARENT_CHECK_SECONDS):
            if os.getppid() != parent:  # the server is gone (killed): leave the rest to its successor
                orphaned = True
                break
    finally:
        ingestor.close(final=not orphaned)
        store.close()


class IngestProcess:
    """A child process running an :class:`~skloop.serve.Ingestor` on ``log_dir``.

    Parameters
    ----------
    log_dir : path
        The prediction log's folder.
    store_url, artifact_root : str
        The store to ingest into.
    interval : float
        Seconds between passes.

    Examples
    --------
    >>> ingest = IngestProcess(log_dir, settings.store_url, settings.artifact_root).start()  # doctest: +SKIP
    >>> ...  # serve; then close the log first, so the last pass sees everything  # doctest: +SKIP
    >>> ingest.close()  # doctest: +SKIP
    """

    def __init__(self, log_dir: str | os.PathLike[str], store_url: str, artifact_root: str, *, interval: float = 1.0):
        self.log_dir = os.fspath(log_dir)
        self.store_url = store_url
        self.artifact_root = artifact_root
        self.interval = interval
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._process: Any = None

    def start(self) -> IngestProcess:
        """Start the child; returns ``self``."""
        args = (self.log_dir, self.store_url, self.artifact_root, self.interval, os.getpid(), self._stop)
        self._process = self._context.Process(target=_main, args=args, name="skloop-ingest", daemon=True)
        self._process.start()
        return self

    def close(self, timeout: float = 60.0) -> None:
        """Ask the child for a last pass and wait for it (close the log first)."""
        process, self._process = self._process, None
        if process is None:
            return
        self._stop.set()
        process.join(timeout)
        if process.is_alive():
            logger.error("prediction log ingestion did not stop in %g s; run 'skloop logs ingest'", timeout)
            process.terminate()
            process.join(5)
