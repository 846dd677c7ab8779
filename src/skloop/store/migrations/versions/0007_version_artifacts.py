"""Artifacts derived from a model version once and kept, such as its ONNX export.

The server exported every version to ONNX and re-ran the parity check on each load
and hot swap; the result (the bytes' content address, or the refusal) is now kept per
version and per converter.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_artifacts",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "kind", name="pk_version_artifacts"),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name="fk_version_artifacts_name_model_versions",
            ondelete="RESTRICT",
        ),
    )


def downgrade() -> None:
    op.drop_table("version_artifacts")
