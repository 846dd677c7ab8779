"""The runs part of the store: runs, params, tags, metrics and run artifacts (reads: :mod:`~skloop.store._run_queries`).

Metrics logged one at a time are buffered (see :mod:`skloop.store._buffer`) and written
in batches; everything else is written when called. Every method returns entities.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from skloop.core import NotFoundError, StoreError, utcnow
from skloop.store import _reads as reads
from skloop.store import _summary as summary
from skloop.store._artifacts import ArtifactStore
from skloop.store._buffer import DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE, MetricBuffer
from skloop.store._bulk import import_metric_history, import_runs
from skloop.store._database import Database
from skloop.store._entities import ArtifactRef, Metric, Run
from skloop.store._process import process_alive
from skloop.store._run_queries import RunQueries
from skloop.store._schema import SqlArtifact, SqlParam, SqlRun
from skloop.store._writes import (
    MetricRow,
    check_key,
    check_value,
    latest_rows,
    metric_rows,
    param_rows,
    tag_rows,
    to_millis,
)

__all__ = ["RunStore"]

logger = logging.getLogger(__name__)

RUNS = SqlRun
_ENDED = ("finished", "failed", "killed")


class RunStore(RunQueries):
    """Runs and what they record: ``store.runs``.

    Parameters
    ----------
    db : Database
        The shared database.
    artifacts : ArtifactStore
        Where run artifacts' bytes go.
    buffer_size : int
        Buffered metrics are written once this many are waiting.
    buffer_age : float
        ... or once this many seconds have passed since the last write.

    Examples
    --------
    >>> import tempfile
    >>> from skloop.store import Store
    >>> d = tempfile.mkdtemp()
    >>> with Store.open(f"sqlite:///{d}/skloop.db", f"{d}/artifacts") as store:
    ...     with store.runs.start_run("demo") as run:
    ...         store.runs.log_params(run.id, {"model__max_depth": 8})
    ...         store.runs.log_metric(run.id, "cv_roc_auc", 0.91)
    ...     store.runs.get_run(run.id[:8]).metrics
    {'cv_roc_auc': 0.91}
    """

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        *,
        buffer_size: int = DEFAULT_MAX_SIZE,
        buffer_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self._db = db
        self._artifacts = artifacts
        self._buffer = MetricBuffer(self._write_metrics, max_size=buffer_size, max_age=buffer_age)
        self._running: set[str] = set()
        db.before_read(self.flush)

    # The statements of the hot paths, built once per store: building a Core statement
    # (coercions, the cache key's structure) cost more than executing it on SQLite.

    @cached_property
    def _insert_run(self) -> Any:
        return self._db.insert(RUNS).on_conflict_do_nothing(index_elements=["id"])

    @cached_property
    def _end_run(self) -> Any:
        return (
            update(RUNS)
            .where(RUNS.c.id == bindparam("b_id"), RUNS.c.status == "running")
            .values(
                status=bindparam("b_status"),
                end_time=bindparam("b_end"),
                error=bindparam("b_error"),
                summary=bindparam("b_summary"),
            )
        )

    @cached_property
    def _parent_exists(self) -> Any:
        return select(RUNS.c.id).where(RUNS.c.id == bindparam("b_id"))

    def require_running(self, run_id: str, conn: Connection | None = None) -> None:
        """Return if run ``run_id`` (a full id) is ``running``, else raise.

        Other parts call it before writing a record that belongs to a run (a dataset
        read, say). Known running runs are remembered, so the check costs no query
        after the first.

        Raises
        ------
        NotFoundError
            When there is no such run.
        StoreError
            When the run has ended.
        """
        if run_id in self._running:
            return
        if not isinstance(run_id, str):
            raise NotFoundError(f"a run id is a string, given {run_id!r}")
        stmt = select(RUNS.c.status).where(RUNS.c.id == run_id)
        if conn is None:
            status = self._db.transact(f"checking run {run_id}", lambda c: c.execute(stmt).scalar(), read=True)
        else:
            status = conn.execute(stmt).scalar()
        if status is None:
            raise NotFoundError(
                f"run {run_id!r} does not exist; use the full id from create_run or see the runs with 'skloop runs'"
            )
        if status != "running":
            raise StoreError(
                f"run {run_id} is {status} and its records can no longer change; start a new run to log more"
            )
        self._running.add(run_id)

    # -- runs --------------------------------------------------------------------

    def create_run(
        self,
        project: str,
        kind: str = "train",
        *,
        name: str | None = None,
        spec: Mapping[str, Any] | None = None,
        code_commit: str | None = None,
        code_dirty: bool | None = None,
        environment: Mapping[str, Any] | None = None,
        seed: int | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> Run:
        """Start a run (status ``running``) and return it.

        Parameters
        ----------
        project : str
            The project (usually the spec's ``name``).
        kind : str
            ``train``, ``reproduce``, ``evaluate``, ...
        name, spec, code_commit, code_dirty, environment, seed, parent_run_id, tags
            Recorded as given; ``spec`` and ``environment`` must be JSON-serialisable.
        """
        for label, value, limit in (("project", project, 200), ("kind", kind, 50)):
            if not isinstance(value, str) or not value or len(value) > limit:
                raise StoreError(f"{label} must be a non-empty string of at most {limit} characters, given {value!r}")
        run_id = uuid.uuid4().hex
        row = {
            "id": run_id, "project": project, "kind": kind, "name": name, "status": "running",
            "start_time": utcnow(), "end_time": None, "error": None,
            "spec": dict(spec) if spec is not None else None, "code_commit": code_commit,
            "code_dirty": code_dirty,
            "environment": dict(environment) if environment is not None else None,
            "seed": seed, "parent_run_id": parent_run_id, "pid": os.getpid(),
            "hostname": self._db.hostname,
        }  # fmt: skip
        tag_list = tag_rows(run_id, tags or {})

        def create(conn: Connection) -> None:
            if parent_run_id is not None and conn.execute(self._parent_exists, {"b_id": parent_run_id}).first() is None:
                raise NotFoundError(f"parent run {parent_run_id!r} does not exist")
            # the id is made here, once: a try after an unknown commit finds the row in place
            conn.execute(self._insert_run, row)
            if tag_list:
                conn.execute(self._db.sql.upsert_tag, tag_list)

        self._db.transact(f"creating a run of {project!r}", create, idempotent=True)
        self._running.add(run_id)
        return Run(
            **{k: v for k, v in row.items()},  # type: ignore[arg-type]
            tags={t["key"]: t["value"] for t in tag_list},
        )

    @contextmanager
    def start_run(self, project: str, kind: str = "train", **kwargs: Any) -> Iterator[Run]:
        """Create a run for the ``with`` block and end it when the block ends.

        The run ends ``finished`` if the block completes, ``killed`` on
        ``KeyboardInterrupt`` or ``SystemExit``, and ``failed`` with the traceback on
        any other exception (which propagates). Buffered metrics are flushed first.
        Takes the arguments of :meth:`create_run`.
        """
        run = self.create_run(project, kind, **kwargs)
        try:
            yield run
        except (KeyboardInterrupt, SystemExit) as exc:
            self._end_if_running(run.id, "killed", f"interrupted by {type(exc).__name__}")
            raise
        except BaseException as exc:
            text = "".join(traceback.format_exception(exc)).strip()
            self._end_if_running(run.id, "failed", text)
            raise
        else:
            self._end_if_running(run.id, "finished", None)

    def _end_if_running(self, run_id: str, status: str, error: str | None) -> None:
        self.flush()
        self._finish(run_id, status, error, only_if_running=True)

    def finish_run(self, run_id: str, status: str = "finished", error: str | None = None) -> None:
        """End a running run with ``status`` (``finished``, ``failed`` or ``killed``).

        Buffered metrics are written first.
        """
        if status not in _ENDED:
            raise StoreError(f"a run ends as one of {', '.join(_ENDED)}, given {status!r}")
        self.flush()
        self._finish(run_id, status, error, only_if_running=False)

    def _finish(self, run_id: str, status: str, error: str | None, *, only_if_running: bool) -> None:

        tries = 0

        def finish(conn: Connection) -> int:
            nonlocal tries
            tries += 1
            values = {"b_id": run_id, "b_status": status, "b_end": utcnow(), "b_error": error}
            result = conn.execute(self._end_run, {**values, "b_summary": summary.summarise(conn, run_id)})
            if result.rowcount == 0 and tries > 1:  # perhaps ended by the try whose commit went unanswered
                return int(conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar() == status)
            if result.rowcount:
                self._db.recorded(conn, "run", run_id)
            return result.rowcount

        # ``status = 'running'`` guards the update: a try after an unknown commit changes nothing
        if self._db.transact(f"ending run {run_id}", finish, idempotent=True) == 0 and not only_if_running:
            self._running.discard(run_id)
            self.require_running(run_id)  # raises the right error
        self._running.discard(run_id)

    # -- params and tags ---------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: object) -> None:
        """Record one parameter (stored as text). Parameters cannot change once set."""
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        """Record several parameters in one transaction."""
        rows = param_rows(run_id, params)
        if not rows:
            return
        self.require_running(run_id)

        def log(conn: Connection) -> None:
            result = conn.exec_driver_sql(self._db.sql.param_sql, rows[0] if len(rows) == 1 else rows)
            if result.rowcount != len(rows):
                self._check_params(conn, run_id, rows)
            summary.invalidate(conn, [run_id])

        # params are inserted ON CONFLICT DO NOTHING and checked equal: idempotent
        self._db.transact(f"logging params of run {run_id}", log, idempotent=True)

    def _check_params(self, conn: Connection, run_id: str, rows: list[tuple[str, str, str]]) -> None:
        p = SqlParam.c
        keys = [key for _, key, _ in rows]
        query = select(p.key, p.value).where(p.run_id == run_id, p.key.in_(keys))
        stored: dict[str, str] = {str(k): str(v) for k, v in conn.execute(query).all()}
        for _, key, value in rows:
            if stored.get(key, value) != value:
                raise StoreError(
                    f"param {key!r} of run {run_id} is already {stored[key]!r} and "
                    f"cannot become {value!r}; params are immutable, log a tag instead"
                )

    def set_tag(self, run_id: str, key: str, value: object) -> None:
        """Set (or overwrite) a tag."""
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, object]) -> None:
        """Set (or overwrite) several tags in one transaction."""
        rows = tag_rows(run_id, tags)
        if rows:
            if run_id not in self._running:  # tags may be set on ended runs too
                self.get_run(run_id)

            def set_tags(conn: Connection) -> None:
                conn.execute(self._db.sql.upsert_tag, rows)
                summary.write_summaries(conn, [run_id])  # when it has ended

            self._db.transact(f"setting tags of run {run_id}", set_tags, idempotent=True)  # upserts

    # -- metrics -----------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int = 0,
        timestamp: datetime | int | None = None,
    ) -> None:
        """Buffer one metric value; it is written in a batch (see :meth:`flush`).

        ``timestamp`` is a datetime or milliseconds since the epoch (default: now).
        """
        if run_id not in self._running:
            self.require_running(run_id)
        if not isinstance(key, str) or not key or len(key) > 250:
            check_key(key, "metric")
        ts = time.time_ns() // 1_000_000 if timestamp is None else to_millis(timestamp)
        self._buffer.add((run_id, key, check_value(key, value), int(step), ts))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        """Buffer several metric values at the same step."""
        if run_id not in self._running:
            self.require_running(run_id)
        ts = time.time_ns() // 1_000_000
        self._buffer.extend(
            [(run_id, check_key(k, "metric"), check_value(k, v), int(step), ts) for k, v in metrics.items()]
        )

    def flush(self) -> None:
        """Write every buffered metric now, in one transaction."""
        self._buffer.flush()

    def _write_metrics(self, rows: list[MetricRow], conn: Connection | None = None) -> None:
        records = metric_rows(rows)
        if conn is None:
            self._db.transact(f"writing {len(records)} metrics", lambda c: self._insert_metrics(c, records))
        else:
            self._insert_metrics(conn, records)

    def _insert_metrics(self, conn: Connection, records: list[tuple[Any, ...]]) -> None:
        conn.exec_driver_sql(self._db.sql.metric_sql, records)
        conn.exec_driver_sql(self._db.sql.latest_sql, latest_rows(records))
        summary.invalidate(conn, [r[0] for r in records])

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[tuple[str, float, int] | Metric] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> None:
        """Write metrics ``(key, value, step)``, params and tags in one transaction, now."""
        self.require_running(run_id)
        ts = to_millis(utcnow())
        rows: list[MetricRow] = []
        for m in metrics:
            if isinstance(m, Metric):
                rows.append(
                    (
                        run_id,
                        check_key(m.key, "metric"),
                        check_value(m.key, m.value),
                        int(m.step),
                        to_millis(m.timestamp),
                    )
                )
            else:
                key, value, step = m
                rows.append((run_id, check_key(key, "metric"), check_value(key, value), int(step), ts))
        p_rows, t_rows = param_rows(run_id, params or {}), tag_rows(run_id, tags or {})

        def log(conn: Connection) -> None:
            if p_rows and conn.exec_driver_sql(self._db.sql.param_sql, p_rows).rowcount != len(p_rows):
                self._check_params(conn, run_id, p_rows)
            if rows:
                self._write_metrics(rows, conn)
            elif p_rows:
                summary.invalidate(conn, [run_id])
            if t_rows:
                conn.execute(self._db.sql.upsert_tag, t_rows)
                summary.write_summaries(conn, [run_id])  # in case another store ended it

        # metric rows are appended: not idempotent unless the batch has none
        self._db.transact(f"logging a batch to run {run_id}", log, idempotent=not rows)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value of metric ``key`` of the run, by step then time."""
        run = self.get_run(run_id)
        return self._db.transact(
            f"reading metric {key!r} of run {run.id}",
            lambda conn: [reads.metric_entity(r) for r in conn.execute(reads.history_query(run.id, key))],
            read=True,
        )

    # -- artifacts ---------------------------------------------------------------

    def log_artifact(
        self,
        run_id: str,
        name: str,
        data: bytes | str | os.PathLike[str],
        media_type: str | None = None,
    ) -> ArtifactRef:
        """Store bytes or a local file as artifact ``name`` of the run."""
        check_key(name, "artifact") if len(str(name)) <= 250 else None
        self.require_running(run_id)
        blob = (
            self._artifacts.put_bytes(data) if isinstance(data, bytes | bytearray) else (self._artifacts.put_file(data))
        )
        ref = ArtifactRef(sha256=blob.sha256, size=blob.size, name=name, media_type=media_type)
        a = SqlArtifact
        row = {
            "run_id": run_id,
            "name": name,
            "sha256": ref.sha256,
            "size": ref.size,
            "media_type": media_type,
            "created": utcnow(),
        }

        def record(conn: Connection) -> None:
            if not conn.execute(self._db.sql.insert_artifact, row).all():
                old = conn.execute(select(a.c.sha256).where(a.c.run_id == run_id, a.c.name == name)).scalar()
                if old != ref.sha256:
                    raise StoreError(
                        f"run {run_id} already has a different artifact {name!r}; "
                        "artifacts are immutable, log it under another name"
                    )
            else:
                summary.invalidate(conn, [run_id])

        # inserted ON CONFLICT DO NOTHING, then checked equal: idempotent
        self._db.transact(f"recording artifact {name!r} of run {run_id}", record, idempotent=True)
        return ref

    def load_artifact(self, run_id: str, name: str) -> bytes:
        """The verified bytes of artifact ``name`` of the run.

        Raises
        ------
        NotFoundError
            When the run has no such artifact.
        ArtifactIntegrityError
            When the stored bytes do not match the recorded SHA-256.
        """
        return self._artifacts.get_bytes(self._artifact(run_id, name).sha256, name=name)

    def artifact_path(self, run_id: str, name: str) -> Path:
        """A verified local path of artifact ``name`` of the run."""
        return self._artifacts.open_path(self._artifact(run_id, name).sha256, name=name)

    def _artifact(self, run_id: str, name: str) -> ArtifactRef:
        run = self.get_run(run_id)
        if name not in run.artifacts:
            known = ", ".join(sorted(run.artifacts)) or "none"
            raise NotFoundError(f"run {run.id} has no artifact {name!r} (it has: {known})")
        return run.artifacts[name]

    # -- housekeeping -------------------------------------------------------------

    def reap_stale_runs(self) -> list[str]:
        """Mark ``running`` runs of dead processes on this host as ``killed``.

        A process killed with SIGKILL (or by the out-of-memory killer) cannot end its
        run; this finds such runs by their pid and hostname. Returns their ids.
        """
        self.flush()
        with self._db.session("looking for stale runs", read=True) as conn:
            candidates = conn.execute(
                select(RUNS.c.id, RUNS.c.pid).where(RUNS.c.status == "running", RUNS.c.hostname == self._db.hostname)
            ).all()
        dead = [(rid, pid) for rid, pid in candidates if pid is not None and not process_alive(pid)]
        reaped = []
        for run_id, pid in dead:
            error = (
                f"the process that ran it (pid {pid} on {self._db.hostname}) died without "
                "ending the run, e.g. killed by SIGKILL or out of memory; metrics logged "
                "in its last seconds may be missing"
            )

            def work(conn: Connection, run_id: str = run_id, error: str = error) -> Any:
                result = conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == run_id, RUNS.c.status == "running")
                    .values(status="killed", end_time=utcnow(), error=error, summary=summary.summarise(conn, run_id))
                )
                if result.rowcount:
                    self._db.recorded(conn, "run", run_id)
                return result

            result = self._db.transact(f"marking run {run_id} killed", work)
            if result.rowcount:
                reaped.append(run_id)
                logger.info("marked run %s killed: %s", run_id, error)
        return reaped

    def import_runs(self, runs: Iterable[Run], *, chunk_size: int = 2_000) -> list[str]:
        """Write whole runs at once: attributes, params, tags and latest metrics.

        For migrating history from another tracker, or for loading test data. Each
        metric of ``Run.metrics`` is recorded at step 0 at the run's end (or start)
        time. Datasets and artifacts are not imported (log them per run). A run whose
        ``id`` is empty gets a new one. Returns the ids, in order.

        Raises
        ------
        StoreError
            For an invalid run (the message names it); the chunk it is in is not written.
        """
        return import_runs(self._db, runs, chunk_size=chunk_size)

    def import_metric_history(self, rows: Iterable[tuple[str, str, float, int]], *, chunk_size: int = 50_000) -> int:
        """Write metric histories ``(run_id, key, value, step)`` of imported runs, in bulk.

        The companion of :meth:`import_runs` for a tracker's step-by-step metrics (or a
        benchmark's millions of points): many rows per statement, one transaction per
        chunk. The latest value of each key follows the highest step, as when logged,
        and the summaries of ended runs are rewritten. Rows are stamped with the run's
        end (or start) time. Returns how many rows were written.

        Raises
        ------
        StoreError
            For a key or value that cannot be stored, or a run that does not exist (the
            chunk it is in is not written).
        """
        return import_metric_history(self._db, rows, chunk_size=chunk_size)
