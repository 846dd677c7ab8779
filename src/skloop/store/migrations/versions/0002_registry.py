"""Model registry: model versions, aliases and the append-only alias event log.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_dt = sa.DateTime(timezone=True)
_autoid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("artifact_format", sa.String(20), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("importance", sa.JSON(), nullable=True),
        sa.Column("card", sa.Text(), nullable=True),
        sa.Column("dataset_fingerprint", sa.String(64), nullable=True),
        sa.Column("created", _dt, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        sa.CheckConstraint("status IN ('registered', 'rejected')", name="ck_model_versions_status"),
        sa.CheckConstraint("artifact_format IN ('skops', 'joblib')", name="ck_model_versions_artifact_format"),
        sa.CheckConstraint("version >= 1", name="ck_model_versions_version_positive"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_model_versions_run_id_runs", ondelete="RESTRICT"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_dataset_fingerprint", "model_versions", ["dataset_fingerprint"])

    op.create_table(
        "aliases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated", _dt, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_aliases"),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name="fk_aliases_name_model_versions",
            ondelete="RESTRICT",
        ),
    )

    op.create_table(
        "alias_events",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time", _dt, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alias_events"),
        sa.CheckConstraint("action IN ('set', 'rollback', 'delete')", name="ck_alias_events_action"),
    )
    op.create_index("ix_alias_events_name_alias_time", "alias_events", ["name", "alias", "time"])


def downgrade() -> None:
    op.drop_index("ix_alias_events_name_alias_time", table_name="alias_events")
    op.drop_table("alias_events")
    op.drop_table("aliases")
    op.drop_index("ix_model_versions_dataset_fingerprint", table_name="model_versions")
    op.drop_index("ix_model_versions_run_id", table_name="model_versions")
    op.drop_table("model_versions")
