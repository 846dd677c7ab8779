"""Refuse a SQLite database whose write-ahead log was deleted before it was checkpointed.

In WAL mode a commit lands in ``<db>-wal``; it reaches the database file only at the
next checkpoint (when the last connection closes, or every ~1000 pages). A process
killed with SIGKILL leaves its committed transactions in ``-wal``, next to the
``-shm`` index that counts them. If ``-wal`` is then deleted (a clean-up of "temporary
files", a copy of the ``.db`` alone), SQLite opens the older database without a word:
the latest runs, versions and aliases are silently gone. This module reads the
``-shm`` header first and stops with an error naming the file instead.

The wal-index header (https://www.sqlite.org/walformat.html#the_wal_index_file_format)
holds two copies of a 48-byte ``WalIndexHdr`` (``isInit`` at byte 12, ``mxFrame``, the
last committed frame, at byte 16) and then ``nBackfill``, the frames already copied
into the database, at byte 96; all in the host's byte order.
"""

from __future__ import annotations

import sys
from pathlib import Path

from skloop.core import StoreError

__all__ = ["check_wal_present", "wal_state"]

_HEADER = 48
_MX_FRAME = 16
_IS_INIT = 12
_N_BACKFILL = 96


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], sys.byteorder)


def check_wal_present(database: str | Path) -> None:
    """Raise when ``database``'s ``-wal`` is missing but ``-shm`` records commits not in the file.

    Raises
    ------
    StoreError
        Naming the database and the missing file, and the two ways on.

    Examples
    --------
    >>> check_wal_present("/nonexistent/skloop.db")  # nothing to check: no error
    """
    path = Path(database)
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if wal.exists() or not shm.exists() or not path.exists():
        return
    try:
        with shm.open("rb") as fh:
            header = fh.read(_N_BACKFILL + 4)
    except OSError:
        return  # unreadable: SQLite will say what is wrong
    if len(header) < _N_BACKFILL + 4 or header[:_HEADER] != header[_HEADER : 2 * _HEADER] or not header[_IS_INIT]:
        return  # no settled header: nothing we can tell
    pending = _u32(header, _MX_FRAME) - _u32(header, _N_BACKFILL)
    if pending > 0:
        raise StoreError(
            f"the database file {path} has lost its write-ahead log: {wal} is missing, yet {shm.name} "
            f"records {pending} committed page(s) that never reached {path.name}; opening it would "
            f"silently drop the latest transactions. Put {wal.name} back (from wherever it went, or a "
            f"backup) and run again; or, to accept losing them, delete {shm} and run again"
        )


def wal_state(database: str | Path) -> dict[str, int | None]:
    """The write-ahead log of ``database``: its size, and the committed frames not yet in the file.

    ``wal_bytes`` is ``None`` without a ``-wal`` file; ``wal_frames_pending`` is ``None``
    when ``-shm`` holds no settled header (no connection open, or none yet).
    """
    path = Path(database)
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    size = wal.stat().st_size if wal.exists() else None
    pending = None
    try:
        with shm.open("rb") as fh:
            header = fh.read(_N_BACKFILL + 4)
    except OSError:
        header = b""
    if len(header) >= _N_BACKFILL + 4 and header[:_HEADER] == header[_HEADER : 2 * _HEADER] and header[_IS_INIT]:
        pending = _u32(header, _MX_FRAME) - _u32(header, _N_BACKFILL)
    return {"wal_bytes": size, "wal_frames_pending": pending}
