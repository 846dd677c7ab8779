"""Stored monitoring reports: what ``skloop monitor`` and the loop found, kept per version.

Until now a report was printed or written to a file and forgotten; the UI's
monitoring page shows their history. One row per report with its verdict in columns,
a small summary (per-feature tests, metrics) as JSON, and the whole report in the
artifact store.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_reports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("window", sa.String(100), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("n_features", sa.Integer(), nullable=False),
        sa.Column("n_drifted", sa.Integer(), nullable=False),
        sa.Column("drift_share", sa.Double(), nullable=False),
        sa.Column("performance_alert", sa.Boolean(), nullable=False),
        sa.Column("n_quality_issues", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("report_size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_reports"),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name="fk_monitor_reports_name_model_versions",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("source_kind IN ('file', 'data', 'log', 'loop')", name="ck_monitor_reports_source_kind"),
    )
    op.create_index("ix_monitor_reports_name_created", "monitor_reports", ["name", "created"])
    op.create_index("ix_monitor_reports_name_source", "monitor_reports", ["name", "source"])


def downgrade() -> None:
    op.drop_index("ix_monitor_reports_name_source", table_name="monitor_reports")
    op.drop_index("ix_monitor_reports_name_created", table_name="monitor_reports")
    op.drop_table("monitor_reports")
