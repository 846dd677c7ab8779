"""The database object every part of the store shares: engines, one transaction scope,
and the few dialect helpers the parts need.

The parts (:mod:`~skloop.store._runs`, :mod:`~skloop.store._datasets`,
:mod:`~skloop.store._models`, :mod:`~skloop.store._predictions`,
:mod:`~skloop.store._loop`) each take a :class:`Database` and own their tables; they
talk to the database only through its public methods, and never to each other's
private names.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from skloop.store._engine import make_engine, redact, scope, transact
from skloop.store._process import hostname
from skloop.store._writes import Statements, dialect_insert

__all__ = ["Database"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Database:
    """Connections to the metadata database, shared by the parts of the store.

    The constructor only prepares connections; it creates nothing (see
    :meth:`skloop.store.Store.open`, which checks the schema).

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``).

    Examples
    --------
    >>> db = Database("sqlite://")
    >>> with db.session("a demo", read=True) as conn:
    ...     conn.exec_driver_sql("SELECT 1").scalar()
    1
    >>> db.close()
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        # readers never block writers in WAL mode; only writers need BEGIN IMMEDIATE
        self.reader: Engine = (
            make_engine(url, immediate=False)
            if self.engine.dialect.name == "sqlite" and make_url(url).database not in (None, "", ":memory:")
            else self.engine
        )
        #: prepared write statements for this dialect (see :class:`~skloop.store._writes.Statements`)
        self.sql = Statements.for_dialect(self.engine.dialect.name)
        #: recorded next to a pid, so a dead process on this host can be recognised
        self.hostname = hostname()
        self._before_read: list[Callable[[], None]] = []
        self._on_record: list[Callable[[Connection, str, str], None]] = []

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, what: str, *, read: bool = False) -> Iterator[Connection]:
        """The one transaction scope: commit on success, roll back on error, always close.

        ``what`` names the operation in a :class:`~skloop.core.StoreError`; ``read``
        takes a reader connection, which on SQLite never waits for a writer. Not
        retried: the parts use it for reads only, and write through :meth:`transact`
        (``tests/store/test_write_retries.py`` fails each kind of write once).
        """
        with scope(self.reader if read else self.engine, what) as conn:
            yield conn

    def transact(
        self,
        what: str,
        work: Callable[[Connection], T],
        *,
        read: bool = False,
        idempotent: bool = False,
        conflict: Callable[[SQLAlchemyError], bool] | None = None,
    ) -> T:
        """Run ``work(conn)`` in one transaction, again where the database asks (see below).

        A serialization failure, a deadlock, a lost connection or a busy SQLite database
        runs ``work`` again after a jittered backoff (:func:`skloop.store._engine.transact`,
        the one retry loop); a connection lost while committing does so only for
        ``idempotent`` work (``read`` implies it). ``work`` may thus run more than
        once: it must build its result from the database, not from a failed try.
        """
        engine = self.reader if read else self.engine
        return transact(engine, what, work, idempotent=idempotent or read, conflict=conflict)

    def lock(self, conn: Connection, *parts: str) -> None:
        """Serialise writers of the same ``parts`` until ``conn``'s transaction ends.

        On PostgreSQL, a transaction advisory lock keyed by ``parts``; SQLite writers
        already hold the database's write lock (``BEGIN IMMEDIATE``).
        """
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(*parts)})

    def insert(self, table: Any) -> Any:
        """This dialect's ``INSERT`` for ``table``, with ``on_conflict_do_nothing/update``."""
        return dialect_insert(self.dialect, table)

    def before_read(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on :meth:`flush`: a part that buffers writes registers its flush here."""
        self._before_read.append(hook)

    def on_record(self, listener: Callable[[Connection, str, str], None]) -> None:
        """Call ``listener(conn, kind, key)`` whenever a part calls :meth:`recorded`."""
        self._on_record.append(listener)

    def recorded(self, conn: Connection, kind: str, key: str) -> None:
        """A part recorded ``kind`` ``key`` (a run ended, a version, an alias move) in ``conn``'s transaction.

        Listeners (the MLflow mirror's outbox) write in the same transaction, so the
        record and what follows from it commit or roll back together.
        """
        for listener in self._on_record:
            listener(conn, kind, key)

    def flush(self) -> None:
        """Write what any part still buffers, so that a read sees it."""
        for hook in self._before_read:
            hook()

    def close(self) -> None:
        """Flush buffered writes and release the connections."""
        try:
            self.flush()
        finally:
            self.engine.dispose()
            if self.reader is not self.engine:
                self.reader.dispose()


def _lock_key(*parts: str) -> int:
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
