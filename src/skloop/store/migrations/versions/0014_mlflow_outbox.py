"""The MLflow mirror's outbox (``mirror_outbox``).

One row per finished run, registered version and alias move to copy to an MLflow
tracking server (``tracking.mlflow_uri``), written in the transaction that records the
thing, drained in the background (:mod:`skloop.store._mirror`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mirror_outbox",
        sa.Column("id", _AutoId, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_id", sa.String(400), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mirror_outbox"),
        sa.UniqueConstraint("target", "kind", "key", name="uq_mirror_outbox_target_kind_key"),
        sa.CheckConstraint("kind IN ('run', 'version', 'alias')", name="ck_mirror_outbox_kind"),
        sa.CheckConstraint("status IN ('pending', 'done')", name="ck_mirror_outbox_status"),
    )
    op.create_index("ix_mirror_outbox_status_next_attempt", "mirror_outbox", ["status", "next_attempt"])


def downgrade() -> None:
    op.drop_index("ix_mirror_outbox_status_next_attempt", table_name="mirror_outbox")
    op.drop_table("mirror_outbox")
