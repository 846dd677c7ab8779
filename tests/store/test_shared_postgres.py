"""One PostgreSQL database shared by many processes: nothing lost, no conflict surfaced.

* Trackers (runs, params, buffered metrics, batches, versions of one model, moves of
  one alias) and ingestors (a prediction log each, moved into the store by an
  :class:`~skloop.serve.Ingestor`) run at once; every write a process saw acknowledged
  is in the database exactly once, versions are gap-free and every alias move saw the
  one before it.
* The schema is upgraded by two processes at once from an older revision while
  trackers and readers work on it: they wait for the migration's locks (or retry), never
  fail, and the upgrade completes.
* The retry loop itself, against real conflicts: a deadlock, a serialization failure
  and a connection terminated by the server are retried; other errors are not.

The full-size run (16 trackers and 4 ingestors) is marked ``long``; the default run is
a few processes and a few seconds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _shared_workers as workers
import pytest
import shared_pg
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from skloop.core import StoreError
from skloop.store import Database, RetryPolicy, current_revision, head_revision, reset_retry_counts, retry_counts
from skloop.store._engine import _config, transact
from skloop.store._retry import retry_reason

pytestmark = pytest.mark.postgres


def _url_for(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def shared_db(pg_admin: tuple[str, sa.Engine]) -> Iterator[str]:
    """URL of a fresh, empty database on the machine's PostgreSQL (dropped afterwards)."""
    url, engine = pg_admin
    name = f"skloop_shared_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield _url_for(url, name)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _upgrade_to(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), revision)
    finally:
        engine.dispose()


def run_shared(url: str, tmp: Path, trackers: int, runs: int, metrics: int, ingestors: int, requests: int) -> str:
    """Trackers and ingestors at once on ``url``; check everything; return a line of figures."""
    root = str(tmp / "artifacts")
    start_at = time.time() + 0.3  # let every process connect, then start together
    outs = [tmp / f"track-{w}.json" for w in range(trackers)] + [tmp / f"ingest-{w}.json" for w in range(ingestors)]
    t0 = time.monotonic()
    procs = [
        shared_pg.start(workers.track, url, root, w, runs, metrics, str(outs[w]), start_at) for w in range(trackers)
    ]
    for w in range(ingestors):
        log_dir, out = str(tmp / f"log-{w}"), str(outs[trackers + w])
        procs.append(shared_pg.start(workers.ingest, url, root, log_dir, w, requests, out, start_at))
    shared_pg.join(procs, 600)
    elapsed = time.monotonic() - t0
    found = shared_pg.reports(outs)
    counts = shared_pg.check_tracking(url, found[:trackers])
    predictions = shared_pg.check_predictions(url, found[trackers:])
    assert counts["runs"] == trackers * runs and predictions == 2 * ingestors * requests
    figures = (
        f"{trackers} trackers + {ingestors} ingestors: {counts['runs']} runs, {counts['metrics']} metric values, "
        f"{counts['versions']} versions, {counts['moves']} alias moves, {predictions} predictions in {elapsed:.1f} s; "
        f"retries {shared_pg.retries(found) or 'none'}"
    )
    print(figures)
    return figures


def test_processes_share_one_database(shared_db: str, tmp_path: Path) -> None:
    upgrade_database_in_place(shared_db)
    run_shared(shared_db, tmp_path, trackers=3, runs=2, metrics=20, ingestors=1, requests=40)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_sixteen_processes_and_four_ingestors_share_one_database(shared_db: str, tmp_path: Path) -> None:
    upgrade_database_in_place(shared_db)
    run_shared(shared_db, tmp_path, trackers=16, runs=10, metrics=200, ingestors=4, requests=2_000)


def upgrade_database_in_place(url: str) -> None:
    from skloop.store import upgrade_database

    upgrade_database(url)


def run_migration_under_load(
    url: str, tmp: Path, trackers: int, readers: int, runs: int, read_s: float, requests: int
) -> str:
    _upgrade_to(url, "0010")  # the next two add and drop indexes on params and predictions
    root = str(tmp / "artifacts")
    outs = [tmp / f"track-{w}.json" for w in range(trackers)]
    procs = [shared_pg.start(workers.track, url, root, w, runs, 30, str(outs[w])) for w in range(trackers)]
    read_outs = [tmp / f"read-{w}.json" for w in range(readers)]
    procs += [shared_pg.start(workers.read, url, root, w, read_s, str(read_outs[w])) for w in range(readers)]
    time.sleep(0.5)  # under way
    assert current_revision(url) == "0010"
    t0 = time.monotonic()
    upgraders = [shared_pg.start(upgrade_database_in_place, url) for _ in range(2)]  # they take turns
    shared_pg.join(upgraders, 300)
    upgrade_s = time.monotonic() - t0
    assert [p.exitcode for p in upgraders] == [0, 0]
    assert current_revision(url) == head_revision()
    # this code's ingestion writes tables the upgrade adds (the serving page's rollups, 0013):
    # it starts once they exist, while the trackers and readers are still at work
    procs.append(shared_pg.start(workers.ingest, url, root, str(tmp / "log"), 0, requests, str(tmp / "ingest.json")))
    shared_pg.join(procs, 600)
    found = shared_pg.reports(outs)
    counts = shared_pg.check_tracking(url, found)
    ingested = shared_pg.reports([tmp / "ingest.json"])
    shared_pg.check_predictions(url, ingested)
    reads = shared_pg.reports(read_outs)
    assert all(r["reads"] > 0 for r in reads)
    figures = (
        f"upgrade 0010 -> {head_revision()} by 2 processes at once in {upgrade_s:.1f} s under {trackers} trackers, "
        f"1 ingestor after, {readers} readers ({sum(r['reads'] for r in reads)} read rounds, {counts['runs']} runs); "
        f"retries {shared_pg.retries(found + ingested + reads) or 'none'}"
    )
    print(figures)
    return figures


def test_schema_upgrade_while_others_read_and_write(shared_db: str, tmp_path: Path) -> None:
    run_migration_under_load(shared_db, tmp_path, trackers=2, readers=1, runs=2, read_s=1.5, requests=30)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_schema_upgrade_under_sixteen_processes(shared_db: str, tmp_path: Path) -> None:
    run_migration_under_load(shared_db, tmp_path, trackers=12, readers=4, runs=8, read_s=10.0, requests=1_000)


# -- the retry loop against real conflicts ------------------------------------------


@pytest.fixture
def db(shared_db: str) -> Iterator[Database]:
    database = Database(shared_db)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 0), (2, 0)")
    reset_retry_counts()
    try:
        yield database
    finally:
        database.close()


def _both(db: Database, works: list[Any]) -> list[Any]:
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            results[i] = db.transact(f"work {i}", works[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_a_deadlock_is_retried(db: Database) -> None:
    barrier = threading.Barrier(2, timeout=30)
    tries = [0, 0]

    def locker(first: int, second: int, i: int) -> Any:
        def work(conn: sa.Connection) -> int:
            tries[i] += 1
            conn.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": first})
            if tries[i] == 1:
                barrier.wait()  # both hold their first row: the second update deadlocks one of them
            conn.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": second})
            return tries[i]

        return work

    results = _both(db, [locker(1, 2, 0), locker(2, 1, 1)])
    assert sorted(results) == [1, 2], results  # one went through, the other was run again
    assert retry_counts() == {"deadlock": 1}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(n) FROM t")).scalar() == 4  # the aborted try left nothing


def test_a_serialization_failure_is_retried(db: Database) -> None:
    barrier = threading.Barrier(2, timeout=30)
    tries = [0, 0]

    def bump(i: int) -> Any:
        def work(conn: sa.Connection) -> int:
            tries[i] += 1
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            n = conn.execute(sa.text("SELECT n FROM t WHERE id = 1")).scalar_one()
            if tries[i] == 1:
                barrier.wait()  # both read the same n: the second to write cannot be serialised
            conn.execute(sa.text("UPDATE t SET n = :n WHERE id = 1"), {"n": n + 1})
            return tries[i]

        return work

    results = _both(db, [bump(0), bump(1)])
    assert sorted(results) == [1, 2], results
    assert retry_counts() == {"serialization": 1}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT n FROM t WHERE id = 1")).scalar() == 2  # no lost update


def test_a_terminated_connection_is_retried(db: Database, pg_admin: tuple[str, sa.Engine]) -> None:
    _, admin = pg_admin
    tries = 0

    def work(conn: sa.Connection) -> int:
        nonlocal tries
        tries += 1
        conn.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = 1"))
        if tries == 1:  # the server ends this session mid-transaction (57P01, as a fast shutdown does)
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        conn.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = 2"))
        return tries

    assert db.transact("terminated", work) == 2
    assert retry_counts() == {"connection": 1}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT n FROM t ORDER BY id")).scalars().all() == [1, 1]


def test_other_errors_are_not_retried_and_the_tries_are_bounded(db: Database) -> None:
    calls = 0

    def duplicate(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(sa.text("INSERT INTO t VALUES (1, 0)"))

    with pytest.raises(StoreError, match="inserting"):
        db.transact("inserting", duplicate)
    assert calls == 1 and retry_counts() == {}

    def deadlocked(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.exec_driver_sql("DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '40P01'; END $$")

    calls = 0
    policy = RetryPolicy(attempts=3, base=0.001, cap=0.002)
    with pytest.raises(StoreError, match=r"after 3 tries"):
        transact(db.engine, "always deadlocked", deadlocked, policy=policy)
    assert calls == 3 and retry_counts() == {"deadlock": 2}


def test_retry_reason_names_sqlite_busy_and_ignores_the_rest(tmp_path: Path) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    busy = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert retry_reason(busy) == "busy"
    assert retry_reason(StoreError("wrapped")) is None
    wrapped = StoreError("wrapped")
    wrapped.__cause__ = busy
    assert retry_reason(wrapped) == "busy"
    assert retry_reason(OperationalError("x", {}, sqlite3.OperationalError("no such table: t"))) is None


@pytest.mark.parametrize("lost", ["before", "after"])
def test_a_commit_whose_answer_is_lost_is_asked_about_not_redone(
    db: Database, pg_admin: tuple[str, sa.Engine], monkeypatch: pytest.MonkeyPatch, lost: str
) -> None:
    """The session dies during COMMIT: before it ran (redo the work) or after it (do not)."""
    import psycopg

    _, admin = pg_admin
    dialect = db.engine.dialect
    real_commit = dialect.do_commit
    commits = 0

    def do_commit(dbapi_conn: Any) -> None:
        nonlocal commits
        commits += 1
        if commits > 1:
            return real_commit(dbapi_conn)
        if lost == "before":  # the server ends the session as COMMIT is sent: nothing committed
            with admin.connect() as other:
                other.execute(
                    sa.text("SELECT pg_terminate_backend(:p)"), {"p": dbapi_conn.dbapi_connection.info.backend_pid}
                )
            return real_commit(dbapi_conn)
        real_commit(dbapi_conn)  # committed, then the answer is lost on the way back
        dbapi_conn.dbapi_connection.close()
        raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    monkeypatch.setattr(dialect, "do_commit", do_commit)
    tries = 0

    def append(conn: sa.Connection) -> int:  # not idempotent: run twice, it would add 2
        nonlocal tries
        tries += 1
        conn.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = 1"))
        return tries

    assert db.transact("appending", append) == (2 if lost == "before" else 1)
    assert retry_counts() == {"connection": 1}
    monkeypatch.undo()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT n FROM t WHERE id = 1")).scalar() == 1  # once, either way
