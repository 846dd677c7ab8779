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

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from skloop.store._schema import UTCDateTime, metadata

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


SqlLoopDecision = Table(
    "loop_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("outcome", String(20)),
    Column("reason", Text),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    Column("started", UTCDateTime(), nullable=False),
    Column("ended", UTCDateTime()),
    Column("champion_version", Integer),
    Column("challenger_version", Integer),
    Column("retrain_run_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("triggers", _Json, nullable=True),
    Column("fired", _Json, nullable=True),
    Column("comparison", _Json, nullable=True),
    Column("details", _Json, nullable=True),
    Column("pid", Integer),
    Column("hostname", String(255)),
    CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
    Index("ix_loop_decisions_name_started", "name", "started"),
    # the decision that produced a version: lineage reads it by (model, challenger) (migration 0010)
    Index("ix_loop_decisions_name_challenger_version", "name", "challenger_version"),
)
"""One evaluation of a model's loop policy."""


SqlLoopStep = Table(
    "loop_steps",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("decision_id", String(32), ForeignKey("loop_decisions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("step", String(50), nullable=False),
    Column("inputs_hash", String(64)),
    Column("status", String(20), nullable=False),
    Column("outputs", _Json, nullable=True),
    Column("error", Text),
    Column("cached_from", String(32)),
    Column("started", UTCDateTime(), nullable=False),
    Column("ended", UTCDateTime()),
    UniqueConstraint("decision_id", "step", name="uq_loop_steps_decision_id_step"),
    CheckConstraint("status IN ('running', 'finished', 'failed', 'skipped')", name="status"),
    Index("ix_loop_steps_name_step_inputs_hash", "name", "step", "inputs_hash"),
)
"""One step of one decision: inputs hash, outputs, status and times."""


SqlLoopLock = Table(
    "loop_locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("pid", Integer),
    Column("hostname", String(255)),
    Column("acquired", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
)
"""The process running a model's loop, and until when its lease holds."""
