"""The prediction log: an append-only, fsynced write-ahead log with group commit.

The server appends the rows of a request and answers only once they are on disk.
One writer thread takes everything queued since its last write, writes it as JSON
lines, calls ``fsync`` once, and then releases every waiter: under load, many requests
share one fsync (group commit), so durability costs little per request.

Files are segments ``wal-00000001.jsonl``, ``wal-00000002.jsonl``, ... in one folder.
The rules that keep acknowledged records safe:

* **A segment has one writer, for one stretch of time.** Every :meth:`PredictionLog.start`
  creates a new segment (so nothing is ever appended after a line a crash may have torn),
  and so does a failed write or ``fsync`` (after which the file's tail is unknown).
* **A segment being written is locked.** The writer holds an exclusive ``flock`` on it
  from before its name appears (it is created under a temporary name, locked, then
  linked into place) until it rotates or closes. The lock dies with the process, even
  under ``kill -9``. Ingestion (:mod:`skloop.serve._ingest`) deletes a segment only once
  it can take that lock itself, so several writers (a server and ``skloop predict --log``)
  can share a folder.
* **A torn tail is skipped.** A crash can leave the last line of a segment without its
  newline (or with garbage after it); it was never acknowledged (its ``fsync`` had not
  returned), and :func:`read_segment` stops before it.
* **A refused append leaves nothing.** When a write or ``fsync`` fails (disk full, I/O
  error), every waiter of that commit is refused, and the segment is truncated back to
  where the commit started, so that not one complete line of a refused request is left
  to be ingested. The writer thread survives any error of a commit: its waiters are
  failed with it, and the next commit starts afresh.

Records are encoded as strict JSON (NaN and infinities become ``null``, which
PostgreSQL's JSON type also requires) and parsed back with :mod:`orjson`, a core
dependency: about 8 times faster than the standard library to write, with the same
output for the types a server logs, and about 5 times faster to read
(``benchmarks/bench_ingest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from skloop.core import StoreError, UsageError
from skloop.serve._sink import Done, LineSink
from skloop.serve._wal_encode import encode_records
from skloop.store import block_records, is_block

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "PredictionLog",
    "encode_records",
    "is_locked",
    "read_segment",
    "scan_segment",
    "segment_name",
    "segments",
]

DEFAULT_SEGMENT_BYTES = 64 << 20
"""A segment is closed and a new one started once it holds this many bytes."""

_PREFIX, _SUFFIX = "wal-", ".jsonl"


# -- reading -----------------------------------------------------------------------------


def segment_name(seq: int) -> str:
    """The file name of segment number ``seq``."""
    return f"{_PREFIX}{seq:08d}{_SUFFIX}"


def segments(directory: str | os.PathLike[str]) -> list[Path]:
    """The log's segment files, oldest first (an absent folder has none)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        name = p.name
        if name.startswith(_PREFIX) and name.endswith(_SUFFIX) and name[len(_PREFIX) : -len(_SUFFIX)].isdigit():
            found.append(p)
    return sorted(found, key=_seq)


def _seq(path: Path) -> int:
    return int(path.name[len(_PREFIX) : -len(_SUFFIX)])


def scan_segment(
    path: str | os.PathLike[str], offset: int = 0, *, limit: int | None = None
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Yield ``(end_offset, record)`` for each complete line from byte ``offset`` on.

    ``record`` is ``None`` for a complete line that is not a JSON object (logged; its
    end offset is still given, so a reader can move past it). A line without its
    newline ends the iteration: it is a torn tail (never acknowledged) or a write
    still in progress.

    Parameters
    ----------
    path : path-like
        The segment.
    offset : int
        Where to start: 0, or an end offset given before.
    limit : int, optional
        Stop after this many lines.
    """
    n = 0
    with Path(path).open("rb") as fh:
        fh.seek(offset)
        pos = offset
        for line in fh:
            if not line.endswith(b"\n"):
                return
            start, pos = pos, pos + len(line)
            try:
                # orjson also refuses, as a ValueError, what would make json.loads raise
                # RecursionError (deep nesting): a bad line is skipped, never fatal
                record = orjson.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                logger.warning("skipping a line that is not a JSON object at byte %d of %s", start, path)
                record = None
            yield pos, record
            n += 1
            if limit is not None and n >= limit:
                return


def read_segment(path: str | os.PathLike[str], offset: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(end_offset, record)`` for each complete record from byte ``offset`` on.

    Like :func:`scan_segment`, without the lines that are not JSON objects, and with
    each block (a request's rows as columns, see :mod:`skloop.store._prediction_block`)
    read as its rows' records, each with the block's end offset.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "wal-00000001.jsonl"
    >>> _ = p.write_bytes(b'{"a":1}\\n{"a":2}\\n{"a":')
    >>> [r for _, r in read_segment(p)]
    [{'a': 1}, {'a': 2}]
    """
    for end, record in scan_segment(path, offset):
        if record is None:
            continue
        if not is_block(record):
            yield end, record
            continue
        try:
            rows = block_records(record)
        except StoreError as exc:
            logger.warning(
                "skipping a prediction block that cannot be read, ending at byte %d of %s: %s", end, path, exc
            )
            continue
        for row in rows:
            yield end, row


def is_locked(path: str | os.PathLike[str]) -> bool:
    """Whether a writer holds segment ``path`` (``False`` once it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock we may have taken
    return False


# -- writing -----------------------------------------------------------------------------


class _Waiter:
    """Lines to write and who to tell: an asyncio future, or a callback."""

    __slots__ = ("done", "future", "lines", "loop")

    def __init__(
        self,
        lines: bytes,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
        done: Done | None = None,
    ) -> None:
        self.lines, self.loop, self.future, self.done = lines, loop, future, done


class PredictionLog(LineSink):
    """Append JSON records durably; concurrent appends share one ``fsync``.

    The server's :class:`~skloop.serve.PredictionSink` (a :class:`LineSink`: the app
    hands it lines it encoded itself).

    Parameters
    ----------
    directory : path-like
        Where the segments live (created by :meth:`start`, not by the constructor).
    segment_bytes : int, default=DEFAULT_SEGMENT_BYTES
        Start a new segment once the current one is this large.
    fsync : bool, default=True
        ``False`` skips ``fsync`` (tests and benchmarks only: appends are then safe
        from a process crash but not from a power cut).

    Attributes
    ----------
    fsyncs, appends, records, bytes_written : int
        Counters since :meth:`start`.

    Examples
    --------
    >>> import tempfile
    >>> log = PredictionLog(tempfile.mkdtemp()).start()
    >>> log.append_sync([{"request_id": "r1", "row": 0}])
    >>> log.records, log.fsyncs
    (1, 1)
    >>> log.close()
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: bool = True,
    ) -> None:
        if not isinstance(segment_bytes, int) or segment_bytes < 1:
            raise UsageError(f"segment_bytes must be a positive integer, given {segment_bytes!r}")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._next_seq = 1
        self._stopped: BaseException | None = None
        self.fsyncs = self.appends = self.records = self.bytes_written = 0

    def __repr__(self) -> str:
        return f"PredictionLog({str(self.directory)!r})"

    # -- lifecycle ---------------------------------------------------------------

    @property
    def segment(self) -> Path | None:
        """The segment being written (``None`` when not started)."""
        return self._path

    @property
    def running(self) -> bool:
        """Whether :meth:`start` has been called and :meth:`close` has not."""
        return self._thread is not None

    def start(self) -> PredictionLog:
        """Create a new segment and start the writer thread; returns ``self``.

        Raises
        ------
        StoreError
            When the folder or the segment cannot be created.
        """
        if self._thread is not None:
            raise UsageError(f"the prediction log in {self.directory} is already started")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open_segment()
        except OSError as exc:
            raise StoreError(
                f"cannot open the prediction log in {self.directory}: {exc}; check that the folder is writable"
            ) from exc
        self.fsyncs = self.appends = self.records = self.bytes_written = 0
        self._thread = threading.Thread(target=self._run, name="skloop-wal", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Write and ``fsync`` what is queued, stop the writer, release the segment."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        thread.join()
        self._close_segment()

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending ---------------------------------------------------------------

    @staticmethod
    def encode(records: Sequence[Mapping[str, Any]]) -> bytes:
        """The bytes appended for ``records`` (see :func:`encode_records`)."""
        return encode_records(records)

    def _put(self, waiter: _Waiter) -> None:
        if self._thread is None:
            raise UsageError(f"the prediction log in {self.directory} is not started; call start() first")
        if self._stopped is not None:
            raise StoreError(
                f"the prediction log writer of {self.directory} stopped ({self._stopped!r}); "
                "nothing can be acknowledged: restart the server"
            ) from self._stopped
        self._queue.put(waiter)

    def append_bytes(self, lines: bytes, done: Done) -> None:
        """Queue encoded lines; ``done(error)`` is called from the writer once durable.

        ``lines`` must be whole lines, each ending with ``\\n``.
        """
        if lines and not lines.endswith(b"\n"):
            raise UsageError("append_bytes takes whole lines, each ending with a newline")
        self._put(_Waiter(lines, done=done))

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append ``records`` and return once they are ``fsync``-ed to disk.

        Raises
        ------
        StoreError
            When the write or the ``fsync`` failed (the records may or may not be in
            the log; they must not be acknowledged).
        UsageError
            When the log is not started or a record cannot be encoded.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._put(_Waiter(encode_records(records), loop=loop, future=future))
        await future

    def append_sync(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append ``records`` from ordinary (non-async) code; returns once durable."""
        event = threading.Event()
        errors: list[BaseException] = []

        def done(error: BaseException | None) -> None:
            if error is not None:
                errors.append(error)
            event.set()

        self.append_bytes(encode_records(records), done)
        event.wait()
        if errors:
            raise errors[0]

    # -- the writer thread -------------------------------------------------------

    def _open_segment(self) -> None:
        """Create the next segment, locked before its name appears."""
        tmp = self.directory / f".{_PREFIX}{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            existing = segments(self.directory)
            seq = max(self._next_seq, _seq(existing[-1]) + 1 if existing else 1)
            while True:  # link fails if another writer took the name: take the next
                path = self.directory / segment_name(seq)
                try:
                    os.link(tmp, path)
                    break
                except FileExistsError:
                    seq += 1
            os.unlink(tmp)
            _fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        self._fd, self._path, self._size, self._next_seq = fd, path, 0, seq + 1

    def _close_segment(self) -> None:
        fd, path, self._fd, self._path = self._fd, self._path, None, None
        if fd is None or path is None:
            return
        if self._size == 0:  # nothing written: leave no empty file behind
            path.unlink(missing_ok=True)
        os.close(fd)

    def _run(self) -> None:
        stopping = False
        get, get_nowait = self._queue.get, self._queue.get_nowait
        batch: list[_Waiter] = []
        try:
            while not stopping:
                first = get()
                batch = [] if first is None else [first]
                stopping = first is None
                while True:  # take everything queued meanwhile: one write, one fsync
                    try:
                        item = get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                if batch:
                    self._commit(batch)
                    batch = []
        except BaseException as exc:  # never die silently: refuse every waiter, say why, refuse new ones
            logger.critical("the prediction log writer of %s stopped", self.directory, exc_info=True)
            self._stopped = exc
            error = StoreError(f"the prediction log writer of {self.directory} stopped: {exc!r}")
            error.__cause__ = exc
            while True:
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
            _notify(batch, error)

    def _commit(self, batch: list[_Waiter]) -> None:
        error: BaseException | None = None
        data = b"".join([w.lines for w in batch])
        start: int | None = None  # where this commit's bytes begin in the segment
        try:
            if self._fd is None:  # a previous failure closed the segment
                self._open_segment()
            assert self._fd is not None
            start = self._size
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(self._fd, view) :]
            if self.fsync:
                os.fsync(self._fd)
            self.fsyncs += 1
        except Exception as exc:  # disk full, I/O error (or a bug): every waiter learns it
            if isinstance(exc, OSError):
                logger.error("prediction log write to %s failed: %s", self._path, exc)
            else:
                logger.exception("prediction log write to %s failed", self._path)
            error = StoreError(
                f"the prediction log could not write to {self._path or self.directory}: {exc}; "
                "the predictions were not acknowledged"
            )
            error.__cause__ = exc
            self._discard(start)
            self._safe_close()  # the tail of this segment is now unknown: never append after it
        else:
            self._size += len(data)
            self.appends += len(batch)
            self.records += data.count(b"\n")
            self.bytes_written += len(data)
        _notify(batch, error)
        if error is None and self._size >= self.segment_bytes:
            self._rotate()

    def _discard(self, start: int | None) -> None:
        """Cut a failed commit's bytes off the segment: its waiters are refused, so none may be ingested."""
        fd = self._fd
        if fd is None or start is None:
            return
        try:
            os.ftruncate(fd, start)
        except OSError as exc:
            logger.critical(
                "cannot remove the refused records after byte %d of %s (%s): they may be ingested although "
                "their requests were refused",
                start,
                self._path,
                exc,
            )
            return
        if self.fsync:
            try:
                os.fsync(fd)
            except OSError as exc:  # the refused bytes were never fsynced either
                logger.warning("the truncation of %s to %d bytes is not fsynced: %s", self._path, start, exc)

    def _rotate(self) -> None:
        old_fd, self._fd = self._fd, None
        try:
            self._open_segment()
        except OSError as exc:  # retried at the next commit
            logger.error("cannot start a new prediction log segment in %s: %s", self.directory, exc)
        if old_fd is not None:
            os.close(old_fd)

    def _safe_close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _notify(batch: list[_Waiter], error: BaseException | None) -> None:
    """Tell every waiter; one wake-up per event loop, not one per waiter."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for w in batch:
        if w.loop is not None and w.future is not None:
            by_loop.setdefault(w.loop, []).append(w.future)
        elif w.done is not None:
            try:
                w.done(error)
            except Exception:  # a waiter that went away must not stop the writer
                logger.exception("prediction log callback failed")
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # cancelled: the client went away
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
