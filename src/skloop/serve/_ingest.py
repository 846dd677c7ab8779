"""Ingestion: move complete records from the prediction log into the store.

:func:`ingest_once` reads each segment from its checkpointed byte offset, stores the
complete records in batches (:meth:`~skloop.store.PredictionStore.insert_predictions` skips
those already stored), and moves the checkpoint past them. The checkpoint is a small
JSON file (``checkpoint.json``: an offset per segment, written to a temporary file,
``fsync``-ed and renamed), so a crash anywhere replays at most one batch, which the
store then ignores: nothing is lost and nothing is stored twice.

A segment is deleted once it is fully ingested *and* no writer holds its lock (see
:mod:`skloop.serve._wal`): the lock is checked before the last read, so no record can
arrive after it. The checkpoint keeps one offset per segment rather than a single
position because several writers (the server and ``skloop predict --log``) may append
to different segments of the same folder at once.

Records that cannot be stored (no ``model``, a bad ``time``, ...) are skipped with a
warning and kept in ``rejected.jsonl`` next to the segments, so that one bad line never
stops ingestion. :class:`Ingestor` runs :func:`ingest_once` every ``interval`` seconds
in a background thread; only one ingestion runs at a time per folder (a ``flock`` on
``.ingest.lock``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from skloop.core import SkloopError, StoreError
from skloop.serve._wal import encode_records, is_locked, scan_segment, segments
from skloop.store import is_block

if TYPE_CHECKING:
    from skloop.store import Store

logger = logging.getLogger(__name__)

__all__ = ["CHECKPOINT_FILE", "REJECTED_FILE", "Ingestor", "ingest_once", "read_checkpoint"]

CHECKPOINT_FILE = "checkpoint.json"
"""The ingestion checkpoint, in the log folder."""
REJECTED_FILE = "rejected.jsonl"
"""Records that could not be stored, in the log folder."""
LOCK_FILE = ".ingest.lock"
DEFAULT_BATCH = 2_000
DEFAULT_LOCK_TIMEOUT = 60.0


def read_checkpoint(log_dir: str | os.PathLike[str]) -> dict[str, int]:
    """The byte offset ingested so far of each segment (segments not listed: 0)."""
    path = Path(log_dir) / CHECKPOINT_FILE
    try:
        data = orjson.loads(path.read_bytes())
        offsets = data["segments"]
        return {str(k): int(v) for k, v in offsets.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # re-reading from the start is safe (the store skips what it has), losing data is not
        logger.warning("ignoring the unreadable checkpoint %s (%s); ingesting every segment again", path, exc)
        return {}


def _write_checkpoint(log_dir: Path, offsets: Mapping[str, int]) -> None:
    path = log_dir / CHECKPOINT_FILE
    tmp = log_dir / f".{CHECKPOINT_FILE}.tmp"
    data = orjson.dumps({"version": 1, "segments": dict(sorted(offsets.items()))})
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(log_dir)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _ingest_lock(log_dir: Path, timeout: float | None) -> Iterator[bool]:
    """Hold the folder's ingestion lock; yields ``False`` if busy and ``timeout`` is 0."""
    fd = os.open(log_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    if timeout == 0:
                        yield False
                        return
                    raise StoreError(
                        f"another ingestion of {log_dir} has held its lock for {timeout:g} s; "
                        "try again later or check for a stuck 'skloop logs ingest'"
                    ) from None
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


class _EntityIds:
    """Finds a record's entity id: its ``entity_id``, else the model's id column in its inputs.

    The id column is ``id_columns[model]`` when given, else the ``data.id`` of the spec
    that trained the record's model version (looked up once per version).
    """

    def __init__(self, store: Store, id_columns: Mapping[str, str] | None) -> None:
        self.store = store
        self.fixed = dict(id_columns or {})
        self.cache: dict[tuple[str, Any], str | None] = {}

    def column(self, model: str, version: Any) -> str | None:
        if model in self.fixed:
            return self.fixed[model]
        key = (model, version)
        if key not in self.cache:
            column = None
            if isinstance(version, int) and not isinstance(version, bool):
                try:
                    run = self.store.runs.get_run(self.store.models.get_model_version(model, version).run_id)
                    column = ((run.spec or {}).get("data") or {}).get("id")
                except (SkloopError, AttributeError):  # an unknown model or run: no id column
                    column = None
            self.cache[key] = column if isinstance(column, str) else None
        return self.cache[key]

    def fill(self, record: dict[str, Any]) -> dict[str, Any]:
        if record.get("entity_id") is not None or not isinstance(record.get("inputs"), dict):
            return record
        model = record.get("model")
        column = self.column(model, record.get("version")) if isinstance(model, str) else None
        if column is None:
            return record
        value = record["inputs"].get(column)
        if is_block(record):  # the column of the block's rows
            return {**record, "entity_id": value} if isinstance(value, list) else record
        if value is not None:
            return {**record, "entity_id": value}
        return record


def ingest_once(
    log_dir: str | os.PathLike[str],
    store: Store,
    *,
    batch_size: int = DEFAULT_BATCH,
    id_columns: Mapping[str, str] | None = None,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    _entities: _EntityIds | None = None,
) -> int:
    """Store every complete record of the log not ingested yet; return how many were new.

    Parameters
    ----------
    log_dir : path-like
        The prediction log folder (nothing happens if it does not exist).
    store : Store
        Where the predictions go.
    batch_size : int, default=2000
        Records per insert (and per checkpoint move).
    id_columns : mapping, optional
        ``{model: column}``: the input column holding the entity id, for records
        without ``entity_id`` (default: the ``data.id`` of the version's spec).
    lock_timeout : float or None, default=60
        Seconds to wait for another ingestion of the same folder (``0``: return 0 at
        once if one is running).

    Raises
    ------
    StoreError
        When the store cannot be written (the checkpoint stays; run again later).

    Examples
    --------
    >>> ingest_once(".skloop/predictions", store)  # doctest: +SKIP
    1200
    """
    root = Path(log_dir)
    if not root.is_dir():
        return 0
    entities = _entities or _EntityIds(store, id_columns)
    with _ingest_lock(root, lock_timeout) as acquired:
        if not acquired:
            return 0
        return _ingest(root, store, batch_size, entities)


def _ingest(root: Path, store: Store, batch_size: int, entities: _EntityIds) -> int:
    offsets = read_checkpoint(root)
    present = {p.name for p in segments(root)}
    changed = any(name not in present for name in offsets)  # deleted before the checkpoint said so
    offsets = {k: v for k, v in offsets.items() if k in present}
    new = 0
    rejected: list[dict[str, Any]] = []

    def reject(index: int, record: Mapping[str, Any], message: str) -> None:
        logger.warning("skipping a prediction record that cannot be stored: %s", message)
        rejected.append({"error": message, "record": dict(record)})

    for path in segments(root):
        name = path.name
        sealed = not is_locked(path)  # checked before the last read: no record can come after it
        offset = offsets.get(name, 0)
        while True:
            batch: list[dict[str, Any]] = []
            end, lines, rows, full = offset, 0, 0, False
            try:
                for pos, record in scan_segment(path, offset):
                    end, lines = pos, lines + 1
                    if record is not None:
                        batch.append(entities.fill(record))
                        # a block (a request's rows as columns) counts its rows
                        size = record.get("rows") if is_block(record) else 1
                        rows += size if type(size) is int and size > 0 else 1
                    if rows >= batch_size or lines >= batch_size:
                        full = True
                        break
            except FileNotFoundError:  # gone: deleted by another ingestion before a crash
                sealed = False
                break
            if lines == 0:
                break
            new += store.predictions.insert_predictions(batch, on_invalid=reject)
            if rejected:
                _append_rejected(root, rejected)
                rejected.clear()
            offsets[name] = offset = end
            _write_checkpoint(root, offsets)
            changed = False
            if not full:
                break
        if sealed:  # fully ingested; what is left (if anything) is a torn tail
            size = path.stat().st_size
            if size > offset:
                logger.warning("dropping a torn tail of %d bytes at the end of %s", size - offset, path)
            offsets[name] = offset
            _write_checkpoint(root, offsets)  # the offset first: a crash before the unlink just retries
            path.unlink(missing_ok=True)
            offsets.pop(name, None)
            changed = True
    if changed:
        _write_checkpoint(root, offsets)
    _remove_stale_temporaries(root)
    return new


def _append_rejected(root: Path, rejected: list[dict[str, Any]]) -> None:
    with (root / REJECTED_FILE).open("ab") as fh:
        fh.write(encode_records(rejected))
        fh.flush()
        os.fsync(fh.fileno())


def _remove_stale_temporaries(root: Path, min_age: float = 300.0) -> None:
    """Segments a crashed writer created but never named (they hold no records).

    Only old ones: a young one may belong to a writer about to lock and name it.
    """
    now = time.time()
    for tmp in root.glob(".wal-*.tmp"):
        try:
            old = now - tmp.stat().st_mtime > min_age
        except FileNotFoundError:
            continue
        if old and not is_locked(tmp):
            tmp.unlink(missing_ok=True)


class Ingestor:
    """Ingest the prediction log into the store every ``interval`` seconds, in a thread.

    Parameters
    ----------
    log_dir : path-like
        The prediction log folder.
    store : Store
        Where the predictions go; used from the ingestor's thread.
    interval : float, default=1.0
        Seconds between passes.
    batch_size : int, default=2000
        Records per insert.
    id_columns : mapping, optional
        See :func:`ingest_once`.

    Attributes
    ----------
    ingested : int
        Predictions stored so far.
    passes : int
        Completed passes.
    last_error : BaseException or None
        The error of the last failed pass (cleared by a successful one).

    Examples
    --------
    >>> log = PredictionLog(log_dir).start()  # doctest: +SKIP
    >>> ingestor = Ingestor(log_dir, store).start()  # doctest: +SKIP
    >>> ...  # serve  # doctest: +SKIP
    >>> log.close(); ingestor.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        store: Store,
        *,
        interval: float = 1.0,
        batch_size: int = DEFAULT_BATCH,
        id_columns: Mapping[str, str] | None = None,
    ) -> None:
        if not interval > 0:
            raise StoreError(f"the ingestion interval must be positive, given {interval!r}")
        self.log_dir = Path(log_dir)
        self.store = store
        self.interval = interval
        self.batch_size = batch_size
        self._entities = _EntityIds(store, id_columns)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.ingested = 0
        self.passes = 0
        self.last_error: BaseException | None = None

    def __repr__(self) -> str:
        return f"Ingestor({str(self.log_dir)!r}, interval={self.interval})"

    def start(self) -> Ingestor:
        """Start the background thread; returns ``self``."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="skloop-ingest", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Run a pass now instead of at the end of the interval."""
        self._wake.set()

    def run_once(self, *, wait: bool = True) -> int:
        """One pass now, in the calling thread; returns the predictions stored."""
        n = ingest_once(
            self.log_dir,
            self.store,
            batch_size=self.batch_size,
            lock_timeout=DEFAULT_LOCK_TIMEOUT if wait else 0,
            _entities=self._entities,
        )
        self.ingested += n
        self.passes += 1
        self.last_error = None
        return n

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once(wait=False)
            except Exception as exc:  # the store may be down for a while: retry next time
                if self.last_error is None or str(exc) != str(self.last_error):
                    logger.error("prediction log ingestion failed (will retry): %s", exc)
                self.last_error = exc

    def close(self, *, final: bool = True) -> None:
        """Stop the thread; with ``final``, run one last pass (close the log first)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join()
        if final:
            try:
                self.run_once()
            except Exception as exc:
                logger.error("the last prediction log ingestion failed; run 'skloop logs ingest': %s", exc)
                self.last_error = exc

    def __enter__(self) -> Ingestor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
