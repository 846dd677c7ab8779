"""The in-memory metric buffer, and the exit hook that flushes every open store.

Logging a metric appends a tuple to a list; the store writes the list in one
transaction when it reaches ``max_size`` entries, when ``max_age`` seconds have passed
since the last write, on :meth:`Store.flush`, when a run finishes, before any read,
and when the interpreter exits. A process killed with SIGKILL loses at most the
unflushed tail (``max_age`` seconds of metrics); the database itself stays consistent.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from skloop.store._writes import MetricRow

__all__ = ["DEFAULT_MAX_AGE", "DEFAULT_MAX_SIZE", "MetricBuffer", "register_for_exit"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 2_000
DEFAULT_MAX_AGE = 2.0
_AT_EXIT: weakref.WeakSet[Any] = weakref.WeakSet()


class MetricBuffer:
    """A thread-safe list of metric rows that calls ``write`` when it is due.

    Parameters
    ----------
    write : callable
        Writes a list of rows in one transaction.
    max_size : int
        Write as soon as this many rows are waiting.
    max_age : float
        Write on the next append once this many seconds passed since the last write.
    """

    def __init__(
        self,
        write: Callable[[list[MetricRow]], None],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self._write = write
        self.max_size = max_size
        self.max_age = max_age
        self._rows: list[MetricRow] = []
        self._lock = threading.RLock()
        self._last = time.monotonic()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: MetricRow) -> None:
        """Append one row; write the buffer if it is full or old."""
        with self._lock:
            self._rows.append(row)
            if len(self._rows) >= self.max_size or time.monotonic() - self._last > self.max_age:
                self.flush()

    def extend(self, rows: list[MetricRow]) -> None:
        """Append several rows; write the buffer if it is full or old."""
        with self._lock:
            self._rows.extend(rows)
            if len(self._rows) >= self.max_size or time.monotonic() - self._last > self.max_age:
                self.flush()

    def flush(self) -> None:
        """Write every waiting row now. On failure the rows stay buffered."""
        with self._lock:
            self._last = time.monotonic()
            if not self._rows:
                return
            rows = self._rows
            self._rows = []
            try:
                self._write(rows)
            except BaseException:
                self._rows = rows + self._rows
                raise


def register_for_exit(store: Any) -> None:
    """Flush ``store`` when the interpreter exits (held weakly)."""
    _AT_EXIT.add(store)


@atexit.register
def _flush_all() -> None:
    for store in list(_AT_EXIT):
        try:
            store.flush()
        except Exception:  # the interpreter is exiting; report and carry on
            logger.exception("skloop could not flush buffered metrics at exit")
