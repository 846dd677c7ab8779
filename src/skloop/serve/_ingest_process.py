"""Ingest the prediction log from a child process, away from the server's event loop.

Ingestion parses JSON and writes to the database: in the server's own process it would
hold the GIL for tens of milliseconds at a time and show up in the latency tail. A
spawned child does the same work (:class:`~skloop.serve.Ingestor`) on the other core; it
stops when asked, or by itself when the server dies (the log then waits, durable, for the
next start or ``skloop logs ingest``).

The child ignores SIGINT and SIGTERM: a terminal's Ctrl-C, ``timeout`` or systemd signal
the whole process group, and the last pass must come after the server has answered
(and logged) its requests in flight, when the server asks for it. It is asked over a
pipe rather than a ``multiprocessing.Event``, whose ``set`` waits forever for a waiter
that was killed while it waited.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["IngestProcess"]

_PARENT_CHECK_SECONDS = 0.5


def _main(log_dir: str, store_url: str, artifact_root: str, interval: float, parent: int, stop: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server says when: see the module's docstring
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from skloop.serve._ingest import Ingestor
    from skloop.store import Store

    store = Store.open(store_url, artifact_root)
    ingestor = Ingestor(log_dir, store, interval=interval).start()
    orphaned = False
    try:
        while True:
            asked = _asked(stop, _PARENT_CHECK_SECONDS)
            if asked:
                break
            if asked is None or os.getppid() != parent:  # the server is gone (killed): leave the rest to its successor
                orphaned = True
                break
    finally:
        ingestor.close(final=not orphaned)
        store.close()


def _asked(stop: Connection, timeout: float) -> bool | None:
    """``True`` once the server asked for the last pass; ``None`` when its end of the pipe is gone."""
    try:
        if not stop.poll(timeout):
            return False
        stop.recv_bytes()
    except (EOFError, OSError):
        return None
    return True


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
        self._stop: Connection | None = None
        self._process: Any = None

    def start(self) -> IngestProcess:
        """Start the child; returns ``self``."""
        reader, self._stop = self._context.Pipe(duplex=False)
        args = (self.log_dir, self.store_url, self.artifact_root, self.interval, os.getpid(), reader)
        self._process = self._context.Process(target=_main, args=args, name="skloop-ingest", daemon=True)
        self._process.start()
        reader.close()
        return self

    def close(self, timeout: float = 60.0) -> None:
        """Ask the child for a last pass and wait for it (close the log first)."""
        process, self._process = self._process, None
        if process is None:
            return
        stop, self._stop = self._stop, None
        if stop is not None:
            try:
                stop.send(b"stop")
            except OSError:  # the child is gone already
                pass
            finally:
                stop.close()
        process.join(timeout)
        if process.is_alive():
            logger.error("prediction log ingestion did not stop in %g s; run 'skloop logs ingest'", timeout)
            process.terminate()
            process.join(5)
