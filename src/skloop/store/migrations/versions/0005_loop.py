"""The continuous-training loop: decisions, step records and per-model locks.

Revision ID: 0005
Revises: 0004
Create Date: 2025-03-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_dt = sa.DateTime(timezone=True)
_autoid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "loop_decisions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evaluated_at", _dt, nullable=False),
        sa.Column("started", _dt, nullable=False),
        sa.Column("ended", _dt, nullable=True),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("challenger_version", sa.Integer(), nullable=True),
        sa.Column("retrain_run_id", sa.String(32), nullable=True),
        sa.Column("triggers", sa.JSON(), nullable=True),
        sa.Column("fired", sa.JSON(), nullable=True),
        sa.Column("comparison", sa.JSON(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_loop_decisions"),
        sa.ForeignKeyConstraint(
            ["retrain_run_id"], ["runs.id"], name="fk_loop_decisions_retrain_run_id_runs", ondelete="SET NULL"
        ),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed')", name="ck_loop_decisions_status"),
    )
    op.create_index("ix_loop_decisions_name_started", "loop_decisions", ["name", "started"])

    op.create_table(
        "loop_steps",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("step", sa.String(50), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cached_from", sa.String(32), nullable=True),
        sa.Column("started", _dt, nullable=False),
        sa.Column("ended", _dt, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_loop_steps"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["loop_decisions.id"], name="fk_loop_steps_decision_id_loop_decisions", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("decision_id", "step", name="uq_loop_steps_decision_id_step"),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'skipped')", name="ck_loop_steps_status"),
    )
    op.create_index("ix_loop_steps_name_step_inputs_hash", "loop_steps", ["name", "step", "inputs_hash"])

    op.create_table(
        "loop_locks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("acquired", _dt, nullable=False),
        sa.Column("expires", _dt, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_loop_locks"),
    )


def downgrade() -> None:
    op.drop_table("loop_locks")
    op.drop_index("ix_loop_steps_name_step_inputs_hash", table_name="loop_steps")
    op.drop_table("loop_steps")
    op.drop_index("ix_loop_decisions_name_started", table_name="loop_decisions")
    op.drop_table("loop_decisions")
