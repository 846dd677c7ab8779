"""Engines, the session scope, and the schema version (Alembic, run from code).

SQLite gets WAL mode, a busy timeout, foreign keys and ``synchronous=NORMAL`` on every
connection, and write transactions start with ``BEGIN IMMEDIATE`` so that concurrent
writers queue on the busy timeout instead of failing on a lock upgrade. Alembic is
driven through its API with a :class:`~alembic.config.Config` built here; no
``alembic.ini`` is needed at runtime. Alembic is imported only when the schema is not
at the shipped head: a store at head opens after one plain query of the version table
(so ``skloop runs`` starts without Alembic and Mako).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from skloop.core import NotFoundError, SchemaOutOfDateError, StoreError, redact_url
from skloop.store._retry import CONNECTION, DEFAULT_POLICY, RetryPolicy, count_retry, retry_reason
from skloop.store._sqlite_wal import check_wal_present

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "VERSION_TABLE",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "redact",
    "scope",
    "transact",
    "upgrade_database",
]

T = TypeVar("T")

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
    elif parsed.get_backend_name() == "postgresql":
        # a pooled connection may outlive a server restart: test it when checked out
        kwargs = {"pool_pre_ping": True}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(
            f"cannot connect to {redact(url)}: {exc}; check the URL and that its driver "
            "is installed (PostgreSQL: pip install 'skloop[postgres]')"
        ) from exc
    if engine.dialect.name == "sqlite":
        if not _is_memory(url) and parsed.database:
            check_wal_present(parsed.database)
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
        # straight to the driver: a statement through SQLAlchemy's execution path (context,
        # result, events) costs as much as the write it begins, for a one-row write
        conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]


def _store_error(exc: SQLAlchemyError, engine: Engine, what: str) -> StoreError | NotFoundError:
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.DatabaseError) and any(text in str(orig) for text in _SQLITE_CORRUPT):
        # no upgrade or retry helps: say so, and name the file
        return StoreError(
            f"{what} failed: the database file {engine.url.database} is corrupt (SQLite: {orig}); "
            "restore it from a backup, or move it aside to start an empty store"
        )
    if "cannot contain NUL" in str(orig):
        # PostgreSQL holds no text with a NUL (SQLite does, and finds nothing): nothing can
        # have such a name or id, so it is not found (a 404, not a failing database)
        return NotFoundError(
            f"{what} failed: a name, id or value holds a NUL character (\\x00), which nothing in the store "
            "can have; check the name or id"
        )
    return StoreError(
        f"{what} failed on {redact(str(engine.url))}: {exc.__class__.__name__}: "
        f"{orig or exc}; check that the database is reachable and up to date ({UPGRADE_HINT})"
    )


def _connect(engine: Engine, what: str, policy: RetryPolicy) -> Connection:
    """A connection, waiting (with backoff) for a server that is restarting or busy."""
    return transact(engine, what, lambda conn: conn, _open_only=True, policy=policy)


@contextmanager
def scope(engine: Engine, what: str = "the metadata store") -> Iterator[Connection]:
    """A transaction scope: commit on success, roll back on error, always close.

    Getting the connection is retried as :func:`transact` does (nothing has run yet);
    the body is not, since a ``with`` block cannot be run twice: work that must
    survive a deadlock or a server restart goes through :func:`transact`.
    SQLAlchemy errors come out as :class:`~skloop.core.StoreError` naming ``what``; a
    corrupt SQLite file is named as such, since no upgrade or reconnection will help.
    """
    conn = _connect(engine, what, DEFAULT_POLICY)
    try:
        with conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        raise _store_error(exc, engine, what) from exc
    finally:
        conn.close()


def transact(
    engine: Engine,
    what: str,
    work: Callable[[Connection], T],
    *,
    idempotent: bool = False,
    conflict: Callable[[SQLAlchemyError], bool] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    _open_only: bool = False,
) -> T:
    """Run ``work(conn)`` in one transaction and commit; run it again where the database asks.

    This is the one place transactions are retried. A serialization failure, a
    deadlock, a lost or refused connection, or SQLite's ``database is locked``
    (see :func:`~skloop.store._retry.retry_reason`) raised while connecting or by a
    statement of ``work`` rolls the transaction back, so ``work`` runs again after a
    jittered exponential backoff (:class:`~skloop.store._retry.RetryPolicy`). A
    connection lost *during* ``COMMIT`` leaves the outcome unknown: ``idempotent``
    work (reads, upserts, ``ON CONFLICT DO NOTHING``) just runs again; other work, on
    PostgreSQL, took its transaction id before committing, and the server is asked
    (``pg_xact_status``) on a new connection: committed, the result is returned;
    aborted, the work runs again; otherwise the error says the outcome is unknown.
    Other errors are not retried.

    Parameters
    ----------
    engine : Engine
        Where to run.
    what : str
        The operation, for messages.
    work : callable
        ``work(conn) -> result``; may run more than once, so it must not keep state
        from a failed try (build rows before, not inside, when they must not change).
    idempotent : bool, default=False
        Running ``work`` twice to completion leaves the database as running it once.
    conflict : callable, optional
        ``conflict(exc)`` is true for a statement error the caller knows a new try
        resolves (two inserts raced for a unique number); retried as ``"conflict"``.

    Returns
    -------
    The result of the ``work`` that committed.

    Raises
    ------
    StoreError
        When the error is not one to retry, the tries or the deadline are spent, or
        a non-idempotent commit's outcome is unknown.
    """
    start = time.monotonic()
    attempt = 0
    while True:
        committing, xid = False, None
        try:
            conn = engine.connect()
            if _open_only:
                return work(conn)
            try:
                with conn.begin() as trans:
                    result = work(conn)
                    if not idempotent and conn.dialect.name == "postgresql":
                        # the transaction's id: what to ask the server if COMMIT goes unanswered
                        xid = conn.exec_driver_sql("SELECT pg_current_xact_id()::text").scalar()
                    committing = True
                    trans.commit()
                return result
            finally:
                conn.close()
        except SQLAlchemyError as exc:
            reason = retry_reason(exc) or ("conflict" if conflict is not None and conflict(exc) else None)
            unknown = committing and reason == CONNECTION and not idempotent
            if unknown and xid is not None:
                status = _commit_status(engine, xid, policy)
                if status == "committed":  # it went through: done, and not to be done twice
                    logger.info("%s: the connection was lost during COMMIT, which went through", what)
                    count_retry(CONNECTION)
                    return result
                unknown = status != "aborted"  # rolled back: safe to run again
            spent = attempt + 1 >= policy.attempts or time.monotonic() - start >= policy.deadline
            if reason is None or unknown or spent:
                error = _store_error(exc, engine, what)
                if unknown:
                    error = StoreError(
                        f"{what}: the connection to {redact(str(engine.url))} was lost while committing, "
                        f"so whether it was stored is unknown ({getattr(exc, 'orig', None) or exc}); "
                        "check before doing it again"
                    )
                elif reason is not None:
                    error = StoreError(f"{error} (after {attempt + 1} tries over {time.monotonic() - start:.1f} s)")
                raise error from exc
            delay = policy.wait(attempt)
            logger.info("%s: %s (%s), try %d again in %.3f s", what, reason, exc.__class__.__name__, attempt + 2, delay)
            count_retry(reason)
            attempt += 1
            time.sleep(delay)


def _commit_status(engine: Engine, xid: str, policy: RetryPolicy) -> str | None:
    """``committed``, ``aborted`` (or ``None``: unknown) for transaction ``xid``, asked on a new connection.

    ``pg_xact_status`` is PostgreSQL's answer to a COMMIT whose reply was lost; a
    transaction still ``in progress`` (its old session not yet gone) is asked again.
    """
    query = text("SELECT pg_xact_status(CAST(:xid AS xid8))")
    deadline = time.monotonic() + policy.deadline
    while True:
        try:
            status = transact(
                engine,
                "checking a commit",
                lambda c: c.execute(query, {"xid": xid}).scalar(),
                idempotent=True,
                policy=policy,
            )
        except StoreError:
            return None
        if status != "in progress" or time.monotonic() >= deadline:
            return status if status in ("committed", "aborted") else None
        time.sleep(0.05)


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

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
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one migration
    return head


# ``revision = "0013"`` / ``down_revision = "0012"`` (or None) at the start of a line
_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)(?:\s*:[^=\n]*)?\s*=\s*(None|"[^"\n]*"|'[^'\n]*')\s*(?:#.*)?$""", re.M
)


@cache
def _shipped_head() -> str | None:
    """The one head of the shipped migrations, read from their files; ``None``: ask Alembic.

    A migration whose revision lines are not plain strings (a merge's tuple), or more
    than one head, gives ``None``, and the caller takes Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        found = {key: value for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8"))}
        if "revision" not in found or "down_revision" not in found:
            return None
        revisions.add(found["revision"][1:-1])
        if found["down_revision"] != "None":
            parents.add(found["down_revision"][1:-1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stamped(conn: Connection) -> list[str] | None:
    """The revisions recorded in the version table, by plain SQL (``None``: no table yet)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return [str(r) for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()]


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (``None`` if it has none yet)."""
    engine = make_engine(url, immediate=False)
    try:
        return transact(engine, "reading the schema version", _revision, idempotent=True)
    finally:
        engine.dispose()


def _upgrade(engine: Engine) -> str:
    def upgrade(conn: Connection) -> str:
        if conn.dialect.name == "postgresql":
            # two upgrades at once take turns; the second then finds the schema at head
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        before = _revision(conn)
        if before != head_revision():
            logger.info("upgrading %s from %s to %s", redact(str(engine.url)), before, head_revision())
            from alembic import command

            command.upgrade(_config(conn), "head")
        return head_revision()

    # PostgreSQL runs DDL in the transaction: a failed try leaves the old schema whole,
    # and a try after an unknown commit finds the schema at head and does nothing
    return transact(engine, "upgrading the schema", upgrade, idempotent=True)


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
    stamped = transact(engine, "reading the schema version", _stamped, idempotent=True)
    if stamped is not None and len(stamped) == 1 and stamped[0] == _shipped_head():
        return  # at head: no Alembic needed
    from alembic.script import ScriptDirectory

    revision = transact(engine, "reading the schema version", _revision, idempotent=True)
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
