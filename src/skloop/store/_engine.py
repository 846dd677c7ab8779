"""Engines, the session scope, and the schema version (Alembic, run from code).

SQLite gets WAL mode, a busy timeout, foreign keys and ``synchronous=NORMAL`` on every
connection, and write transactions start with ``BEGIN IMMEDIATE`` so that concurrent
writers queue on the busy timeout instead of failing on a lock upgrade. Alembic is
driven through its API with a :class:`~alembic.config.Config` built here; no
``alembic.ini`` is needed at runtime.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from skloop.core import NotFoundError, SchemaOutOfDateError, StoreError, redact_url

__all__ = [
    "VERSION_TABLE",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "redact",
    "scope",
    "upgrade_database",
]

logger = logging.getLogger(__name__)

#: Alembic's version table, named for skloop so a shared database stays tidy.
VERSION_TABLE = "skloop_schema_version"
UPGRADE_HINT = "skloop db upgrade"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_ID = 0x5C100B  # advisory lock held while migrating PostgreSQL
#: What SQLite says of a file whose pages are damaged or that is no database at all.
_SQLITE_CORRUPT = ("database disk image is malformed", "file is not a database")


def redact(url: str) -> str:
    """The URL with any password (userinfo or query) hidden, for messages."""
    return redact_url(url)


def _is_memory(url: str) -> bool:
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for ``url``; on SQLite, with the pragmas and locking described above.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``).
    immediate : bool
        SQLite only: begin transactions with ``BEGIN IMMEDIATE`` (writers) instead
        of a deferred ``BEGIN`` (readers, which never block in WAL mode).
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise StoreError(
            f"{redact(url)!r} is not a database URL; use e.g. sqlite:///.skloop/skloop.db or postgresql+psycopg://user@host/db"
        ) from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite" and _is_memory(url):
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(
            f"cannot connect to {redact(url)}: {exc}; check the URL and that its driver "
            "is installed (PostgreSQL: pip install 'skloop[postgres]')"
        ) from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, immediate=immediate)
    return engine


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event, not pysqlite, decide when transactions start
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "memory":
            cur.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: durable against process crashes, never corrupts on power loss
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


@contextmanager
def scope(engine: Engine, what: str = "the metadata store") -> Iterator[Connection]:
    """The one transaction scope: commit on success, roll back on error, always close.

    SQLAlchemy errors come out as :class:`~skloop.core.StoreError` naming ``what``; a
    corrupt SQLite file is named as such, since no upgrade or reconnection will help.
    """
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        if isinstance(orig, sqlite3.DatabaseError) and any(text in str(orig) for text in _SQLITE_CORRUPT):
            # no upgrade or retry helps: say so, and name the file
            raise StoreError(
                f"{what} failed: the database file {engine.url.database} is corrupt (SQLite: {orig}); "
                "restore it from a backup, or move it aside to start an empty store"
            ) from exc
        if "cannot contain NUL" in str(orig):
            # PostgreSQL holds no text with a NUL (SQLite does, and finds nothing): nothing can
            # have such a name or id, so it is not found (a 404, not a failing database)
            raise NotFoundError(
                f"{what} failed: a name, id or value holds a NUL character (\\x00), which nothing in the store "
                "can have; check the name or id"
            ) from exc
        raise StoreError(
            f"{what} failed on {redact(str(engine.url))}: {exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', None) or exc}; check that the database is reachable "
            f"and up to date ({UPGRADE_HINT})"
        ) from exc


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_table", VERSION_TABLE)
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@cache
def head_revision() -> str:
    """The newest schema revision this version of skloop knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one migration
    return head


def _revision(conn: Connection) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (``None`` if it has none yet)."""
    engine = make_engine(url, immediate=False)
    try:
        with scope(engine, "reading the schema version") as conn:
            return _revision(conn)
    finally:
        engine.dispose()


def _upgrade(engine: Engine) -> str:
    with scope(engine, "upgrading the schema") as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        before = _revision(conn)
        if before != head_revision():
            logger.info("upgrading %s from %s to %s", redact(str(engine.url)), before, head_revision())
            command.upgrade(_config(conn), "head")
        return head_revision()


def upgrade_database(url: str) -> str:
    """Create or upgrade the schema at ``url`` to the newest revision; return it.

    This is what ``skloop db upgrade`` runs. It is safe to run concurrently and to
    run again (an up-to-date database is left alone).
    """
    if make_url(url).get_backend_name() == "sqlite" and not _is_memory(url):
        database = make_url(url).database
        assert database is not None
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        return _upgrade(engine)
    finally:
        engine.dispose()


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Check the schema of ``engine``'s database, upgrading it if ``auto_upgrade``.

    Raises
    ------
    SchemaOutOfDateError
        When the schema is older than this skloop and may not be upgraded here.
    StoreError
        When the schema is newer than this skloop.
    """
    with scope(engine, "reading the schema version") as conn:
        revision = _revision(conn)
    head = head_revision()
    if revision == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    url = redact(str(engine.url))
    if revision is not None and revision not in known:
        raise StoreError(
            f"the database at {url} has schema revision {revision!r}, newer than this "
            f"skloop knows ({head!r}); upgrade skloop (pip install -U skloop)"
        )
    if not auto_upgrade:
        raise SchemaOutOfDateError(
            f"the database at {url} has schema revision {revision or 'none'}, but this "
            f"skloop needs {head}; run `{UPGRADE_HINT}` (with SKLOOP_STORE_URL pointing at it)"
        )
    _upgrade(engine)
