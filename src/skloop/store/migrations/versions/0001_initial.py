"""Initial schema: runs, params, tags, metrics, latest metrics, datasets, inputs, artifacts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_dt = sa.DateTime(timezone=True)
_autoid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_bool = sa.Boolean(create_constraint=False)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=f"fk_{table}_run_id_runs", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(250), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", _dt, nullable=False),
        sa.Column("end_time", _dt, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("code_commit", sa.String(64), nullable=True),
        sa.Column("code_dirty", _bool, nullable=True),
        sa.Column("environment", sa.JSON(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("parent_run_id", sa.String(32), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'killed')", name="ck_runs_status"),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.id"], name="fk_runs_parent_run_id_runs", ondelete="SET NULL"),
    )
    op.create_index("ix_runs_project_start_time", "runs", ["project", "start_time"])
    op.create_index("ix_runs_start_time", "runs", ["start_time"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])

    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column("run_id", sa.String(32), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{table}"),
            _run_fk(table),
            sqlite_with_rowid=False,
        )

    op.create_table(
        "metrics",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("is_nan", _bool, nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        _run_fk("metrics"),
    )
    op.create_index("ix_metrics_run_id_key_step", "metrics", ["run_id", "key", "step"])

    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("is_nan", _bool, nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        _run_fk("latest_metrics"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])

    op.create_table(
        "datasets",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("n_columns", sa.Integer(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("snapshot_sha256", sa.String(64), nullable=True),
        sa.Column("created", _dt, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_datasets"),
    )

    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("logged_at", _dt, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "fingerprint", "role", name="pk_run_inputs"),
        _run_fk("run_inputs"),
        sa.ForeignKeyConstraint(
            ["fingerprint"],
            ["datasets.fingerprint"],
            name="fk_run_inputs_fingerprint_datasets",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_run_inputs_fingerprint", "run_inputs", ["fingerprint"])

    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("created", _dt, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_artifacts"),
        _run_fk("artifacts"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])


def downgrade() -> None:
    for index, table in (
        ("ix_artifacts_sha256", "artifacts"),
        ("ix_run_inputs_fingerprint", "run_inputs"),
        ("ix_latest_metrics_key_value", "latest_metrics"),
        ("ix_metrics_run_id_key_step", "metrics"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "artifacts",
        "run_inputs",
        "datasets",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
    ):
        op.drop_table(table)
    for index in (
        "ix_runs_parent_run_id",
        "ix_runs_status",
        "ix_runs_start_time",
        "ix_runs_project_start_time",
    ):
        op.drop_index(index, table_name="runs")
    op.drop_table("runs")
