"""The loop part of the store: decisions, step records, per-model locks.

The lock is a row per model with an owner, its pid and host, and a lease. Taking it
is one write transaction (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock),
so of two processes starting a loop for the same model one wins and the other gets a
:class:`LoopLockedError` naming the holder. A lease that expired, or a holder on this
host whose process is gone (killed with SIGKILL, say), is taken over.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from skloop.core import LoopLockedError, NotFoundError, StoreError, utcnow
from skloop.store._entities_loop import Decision, LoopLock, StepRecord
from skloop.store._process import process_alive
from skloop.store._schema_loop import (
    DECISION_OUTCOMES,
    DECISION_STATUSES,
    STEP_STATUSES,
    SqlLoopDecision,
    SqlLoopLock,
    SqlLoopStep,
)

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["LoopLockedError", "LoopStore"]

logger = logging.getLogger(__name__)

DECISIONS = SqlLoopDecision
STEPS = SqlLoopStep
LOCKS = SqlLoopLock
_UPDATABLE = frozenset(
    {"outcome", "reason", "champion_version", "challenger_version", "retrain_run_id", "triggers", "fired",
     "comparison", "details"}
)  # fmt: skip


def _decision(row: Any) -> Decision:
    return Decision(
        id=row.id, name=row.name, status=row.status, outcome=row.outcome, reason=row.reason,
        evaluated_at=row.evaluated_at, started=row.started, ended=row.ended, champion_version=row.champion_version,
        challenger_version=row.challenger_version, retrain_run_id=row.retrain_run_id,
        triggers=list(row.triggers or []), fired=tuple(row.fired or ()), comparison=row.comparison,
        details=dict(row.details or {}), pid=row.pid, hostname=row.hostname,
    )  # fmt: skip


def _step(row: Any) -> StepRecord:
    return StepRecord(
        decision_id=row.decision_id, name=row.name, step=row.step, inputs_hash=row.inputs_hash, status=row.status,
        outputs=dict(row.outputs or {}), error=row.error, cached_from=row.cached_from, started=row.started,
        ended=row.ended,
    )  # fmt: skip


def _lock(row: Any) -> LoopLock:
    return LoopLock(
        name=row.name, owner=row.owner, pid=row.pid, hostname=row.hostname, acquired=row.acquired, expires=row.expires
    )


class LoopStore:
    """Loop decisions, their steps, and the one-loop-per-model lock: ``store.loop``.

    See the module docstring.

    Parameters
    ----------
    db : Database
        The shared database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- decisions ---------------------------------------------------------------

    def create_decision(
        self, name: str, *, evaluated_at: datetime, details: Mapping[str, Any] | None = None
    ) -> Decision:
        """Start a decision (status ``running``) for model ``name``, evaluated at ``evaluated_at``."""
        if not isinstance(name, str) or not name or len(name) > 200:
            raise StoreError(f"a model name is a non-empty string of at most 200 characters, given {name!r}")
        decision_id = uuid.uuid4().hex
        row = {
            "id": decision_id, "name": name, "status": "running", "outcome": None, "reason": None,
            "evaluated_at": evaluated_at, "started": utcnow(), "ended": None, "champion_version": None,
            "challenger_version": None, "retrain_run_id": None, "triggers": None, "fired": None,
            "comparison": None, "details": dict(details or {}), "pid": os.getpid(), "hostname": self._db.hostname,
        }  # fmt: skip

        def work(conn: Connection) -> Any:
            conn.execute(insert(DECISIONS), row)

        self._db.transact(f"starting a loop decision for {name!r}", work)
        return self.get_decision(decision_id)

    def get_decision(self, decision_id: str) -> Decision:
        """The decision with this id (or unique prefix).

        Raises
        ------
        NotFoundError
        """
        d = DECISIONS.c
        with self._db.session(f"reading loop decision {decision_id}", read=True) as conn:
            rows = conn.execute(select(DECISIONS).where(d.id.startswith(str(decision_id))).limit(2)).all()
        if len(rows) != 1:
            what = "matches several decisions" if rows else "is not a loop decision"
            raise NotFoundError(f"{decision_id!r} {what}; see them with 'skloop decisions NAME'")
        return _decision(rows[0])

    def list_decisions(
        self,
        name: str,
        *,
        status: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        challenger_version: int | None = None,
    ) -> list[Decision]:
        """Decisions of model ``name``, oldest first (the newest ``limit`` when given).

        ``challenger_version`` keeps the decisions whose challenger was that version
        (one indexed read): the first is the one that retrained it, later ones
        re-evaluated it (a cached retrain step).
        """
        d = DECISIONS.c
        stmt = select(DECISIONS).where(d.name == name)
        if challenger_version is not None:
            stmt = stmt.where(d.challenger_version == int(challenger_version))
        if status is not None:
            stmt = stmt.where(d.status == status)
        if since is not None:
            stmt = stmt.where(d.evaluated_at >= since)
        stmt = stmt.order_by(d.started.desc(), d.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.session(f"reading loop decisions of {name!r}", read=True) as conn:
            rows = conn.execute(stmt).all()
        return [_decision(r) for r in reversed(rows)]

    def decision_for_version(self, name: str, version: int) -> Decision | None:
        """The decision that retrained ``name/version`` (its challenger), or ``None``.

        The oldest whose challenger it was: a later decision that reused the retrain
        step (same window, same champion) re-evaluated it, it did not produce it.
        One read on ``(name, challenger_version)``.
        """
        d = DECISIONS.c
        stmt = (
            select(DECISIONS)
            .where(d.name == name, d.challenger_version == int(version))
            .order_by(d.started, d.id)
            .limit(1)
        )
        with self._db.session(f"reading the loop decision that produced {name}/{version}", read=True) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _decision(row)

    def update_decision(self, decision_id: str, **fields: Any) -> Decision:
        """Set fields of a running decision (``outcome``, ``reason``, ``triggers``, ``comparison``...).

        ``details`` is merged into the stored details.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise StoreError(f"cannot set {sorted(unknown)} of a decision; settable: {sorted(_UPDATABLE)}")
        if fields.get("outcome") not in (None, *DECISION_OUTCOMES):
            raise StoreError(f"a decision's outcome is one of {DECISION_OUTCOMES}, given {fields['outcome']!r}")

        def work(conn: Connection) -> Any:
            row = conn.execute(select(DECISIONS).where(DECISIONS.c.id == decision_id)).first()
            if row is None:
                raise NotFoundError(f"loop decision {decision_id!r} does not exist")
            if row.status != "running":
                raise StoreError(f"loop decision {decision_id} is {row.status}; its record can no longer change")
            values = dict(fields)  # a new try merges from the stored details again, not from a failed try's
            if "details" in values:
                values["details"] = {**(row.details or {}), **dict(values["details"] or {})}
            if "fired" in values and values["fired"] is not None:
                values["fired"] = list(values["fired"])
            conn.execute(update(DECISIONS).where(DECISIONS.c.id == decision_id).values(**values))

        self._db.transact(f"updating loop decision {decision_id}", work)
        return self.get_decision(decision_id)

    def finish_decision(
        self, decision_id: str, *, status: str = "finished", outcome: str | None = None, reason: str | None = None
    ) -> Decision:
        """End a running decision (``finished`` or ``failed``), with its outcome and reason."""
        if status not in DECISION_STATUSES[1:]:
            raise StoreError(f"a decision ends as finished or failed, given {status!r}")
        values: dict[str, Any] = {"status": status, "ended": utcnow()}
        if outcome is not None:
            if outcome not in DECISION_OUTCOMES:
                raise StoreError(f"a decision's outcome is one of {DECISION_OUTCOMES}, given {outcome!r}")
            values["outcome"] = outcome
        if reason is not None:
            values["reason"] = reason

        def work(conn: Connection) -> Any:
            result = conn.execute(
                update(DECISIONS).where(DECISIONS.c.id == decision_id, DECISIONS.c.status == "running").values(values)
            )
            if result.rowcount == 0:
                raise StoreError(f"loop decision {decision_id} is not running; it was ended already")

        self._db.transact(f"ending loop decision {decision_id}", work)
        return self.get_decision(decision_id)

    # -- steps -------------------------------------------------------------------

    def record_step(
        self,
        decision_id: str,
        step: str,
        *,
        name: str,
        status: str,
        inputs_hash: str | None = None,
        outputs: Mapping[str, Any] | None = None,
        error: str | None = None,
        cached_from: str | None = None,
    ) -> StepRecord:
        """Write the record of ``step`` of a decision (replacing an earlier record of that step).

        ``running`` stamps the start; any other status also stamps the end.
        """
        if status not in STEP_STATUSES:
            raise StoreError(f"a step's status is one of {STEP_STATUSES}, given {status!r}")
        now = utcnow()
        values = {
            "inputs_hash": inputs_hash, "status": status, "outputs": None if outputs is None else dict(outputs),
            "error": error, "cached_from": cached_from, "ended": None if status == "running" else now,
        }  # fmt: skip
        s = STEPS.c

        def work(conn: Connection) -> Any:
            existing = conn.execute(
                select(s.id, s.started, s.status).where(s.decision_id == decision_id, s.step == step)
            ).first()
            if existing is None:
                conn.execute(insert(STEPS), {**values, "decision_id": decision_id, "name": name, "step": step,
                                             "started": now})  # fmt: skip
            else:
                started = now if status == "running" or existing.status != "running" else existing.started
                conn.execute(update(STEPS).where(s.id == existing.id).values(**values, started=started))
            row = conn.execute(select(STEPS).where(s.decision_id == decision_id, s.step == step)).one()
            return row

        row = self._db.transact(
            f"recording step {step} of loop decision {decision_id}", work, idempotent=True
        )  # an upsert of the step's row
        return _step(row)

    def list_steps(self, decision_id: str) -> list[StepRecord]:
        """The step records of a decision, in the order they started."""
        s = STEPS.c
        with self._db.session(f"reading the steps of loop decision {decision_id}", read=True) as conn:
            rows = conn.execute(select(STEPS).where(s.decision_id == decision_id).order_by(s.started, s.id)).all()
        return [_step(r) for r in rows]

    def cached_step(self, name: str, step: str, inputs_hash: str) -> StepRecord | None:
        """The latest finished ``step`` of model ``name`` whose inputs had this hash, if any."""
        s = STEPS.c
        stmt = (
            select(STEPS)
            .where(s.name == name, s.step == step, s.inputs_hash == inputs_hash, s.status == "finished")
            .order_by(s.ended.desc(), s.id.desc())
            .limit(1)
        )
        with self._db.session(f"looking up a cached {step} step of {name!r}", read=True) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _step(row)

    # -- the lock ----------------------------------------------------------------

    def acquire_loop_lock(self, name: str, owner: str, *, lease: timedelta) -> LoopLock:
        """Take (or renew) the loop lock of model ``name`` for ``owner`` until now + ``lease``.

        Raises
        ------
        LoopLockedError
            When another owner holds a live lease (the message names its pid and host).
        """
        now = utcnow()
        row_values = {"owner": owner, "pid": os.getpid(), "hostname": self._db.hostname, "expires": now + lease}

        def work(conn: Connection) -> Any:
            self._db.lock(conn, "loop-lock", name)
            row = conn.execute(select(LOCKS).where(LOCKS.c.name == name)).first()
            if row is None:
                conn.execute(insert(LOCKS), {**row_values, "name": name, "acquired": now})
            elif row.owner == owner:
                conn.execute(update(LOCKS).where(LOCKS.c.name == name).values(expires=now + lease))
            else:
                dead = row.hostname == self._db.hostname and row.pid is not None and not process_alive(row.pid)
                if row.expires > now and not dead:
                    raise LoopLockedError(
                        f"the loop of {name!r} is running in process {row.pid} on {row.hostname} (since "
                        f"{row.acquired:%Y-%m-%d %H:%M:%S} UTC, lease until {row.expires:%H:%M:%S} UTC); "
                        "one loop per model runs at a time: wait for it, or stop that process"
                    )
                why = "its process is gone" if dead else "its lease expired"
                logger.warning(
                    "taking over the loop lock of %r from pid %s on %s: %s", name, row.pid, row.hostname, why
                )
                conn.execute(update(LOCKS).where(LOCKS.c.name == name).values(**row_values, acquired=now))
            held = conn.execute(select(LOCKS).where(LOCKS.c.name == name)).one()
            return held

        held = self._db.transact(f"taking the loop lock of {name!r}", work)
        return _lock(held)

    def release_loop_lock(self, name: str, owner: str) -> bool:
        """Release the loop lock of ``name`` if ``owner`` holds it; return whether it did."""

        def work(conn: Connection) -> Any:
            result = conn.execute(delete(LOCKS).where(LOCKS.c.name == name, LOCKS.c.owner == owner))
            return result

        result = self._db.transact(f"releasing the loop lock of {name!r}", work, idempotent=True)
        return bool(result.rowcount)

    def get_loop_lock(self, name: str) -> LoopLock | None:
        """Who holds the loop lock of ``name`` (``None``: nobody)."""
        with self._db.session(f"reading the loop lock of {name!r}", read=True) as conn:
            row = conn.execute(select(LOCKS).where(LOCKS.c.name == name)).first()
        return None if row is None else _lock(row)
