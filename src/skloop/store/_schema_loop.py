"""The loop's tables: decisions, step records and the one-loop-per-model lock (migration ``0005``).

* ``loop_decisions`` holds one row per evaluation of a model's loop policy: what the
  triggers saw, the retrain run, the challenger, the comparison, the outcome and why.
  A row is ``running`` while its steps run; a loop killed mid-way leaves it so, and
  the next ``loop run`` resumes it.
* ``loop_steps`` holds one row per (decision, step): the hash of the step's inputs,
  its outputs as JSON, status and times. A finished step with the same inputs hash
  is not run again.
* ``loop_locks`` holds at most one row per model: the loop process that owns it and
  until when (a lease, renewed while it runs; an expired lease or a dead owner on
  the same host lets another process take over).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from skloop.store._schema import Base, UTCDateTime

__all__ = ["DECISION_OUTCOMES", "DECISION_STATUSES", "STEP_STATUSES", "SqlLoopDecision", "SqlLoopLock", "SqlLoopStep"]

#: A decision is ``running`` until its last step ends.
DECISION_STATUSES = ("running", "finished", "failed")
#: What a decision did: nothing fired, a guard rail held it back, a challenger was kept
#: or promoted, the champion was rolled back, or the evaluation failed.
DECISION_OUTCOMES = ("none", "blocked", "kept", "promoted", "rolled_back", "failed")
#: A step's record: ``skipped`` when an earlier step made it unnecessary.
STEP_STATUSES = ("running", "finished", "failed", "skipped")

_AutoId = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON(none_as_null=True)


class SqlLoopDecision(Base):
    """One evaluation of a model's loop policy."""

    __tablename__ = "loop_decisions"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
        Index("ix_loop_decisions_name_started", "name", "started"),
        # the decision that produced a version: lineage reads it by (model, challenger) (migration 0010)
        Index("ix_loop_decisions_name_challenger_version", "name", "challenger_version"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime())
    champion_version: Mapped[int | None] = mapped_column(Integer)
    challenger_version: Mapped[int | None] = mapped_column(Integer)
    retrain_run_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("runs.id", ondelete="SET NULL"))
    triggers: Mapped[Any] = mapped_column(_Json, nullable=True)
    fired: Mapped[Any] = mapped_column(_Json, nullable=True)
    comparison: Mapped[Any] = mapped_column(_Json, nullable=True)
    details: Mapped[Any] = mapped_column(_Json, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))


class SqlLoopStep(Base):
    """One step of one decision: inputs hash, outputs, status and times."""

    __tablename__ = "loop_steps"
    __table_args__ = (
        UniqueConstraint("decision_id", "step", name="uq_loop_steps_decision_id_step"),
        CheckConstraint("status IN ('running', 'finished', 'failed', 'skipped')", name="status"),
        Index("ix_loop_steps_name_step_inputs_hash", "name", "step", "inputs_hash"),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(32), ForeignKey("loop_decisions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(50))
    inputs_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    outputs: Mapped[Any] = mapped_column(_Json, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    cached_from: Mapped[str | None] = mapped_column(String(32))
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SqlLoopLock(Base):
    """The process running a model's loop, and until when its lease holds."""

    __tablename__ = "loop_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    acquired: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
