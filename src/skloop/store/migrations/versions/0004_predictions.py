"""Prediction log: served and batch-scored predictions, and their labels.

Revision ID: 0004
Revises: 0003
Create Date: 2025-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_dt = sa.DateTime(timezone=True)
_autoid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("time", _dt, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("entity_id", sa.String(200), nullable=True),
        sa.Column("prediction", sa.Text(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sa.UniqueConstraint("request_id", "row", name="uq_predictions_request_id_row"),
    )
    op.create_index("ix_predictions_model_time", "predictions", ["model", "time"])
    op.create_index("ix_predictions_model_entity_id", "predictions", ["model", "entity_id"])

    op.create_table(
        "labels",
        sa.Column("id", _autoid, autoincrement=True, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("time", _dt, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.UniqueConstraint("model", "entity_id", name="uq_labels_model_entity_id"),
        sa.UniqueConstraint("model", "request_id", "row", name="uq_labels_model_request_id_row"),
        sa.CheckConstraint(
            "(entity_id IS NOT NULL AND request_id IS NULL AND row IS NULL)"
            " OR (entity_id IS NULL AND request_id IS NOT NULL AND row IS NOT NULL)",
            name="ck_labels_one_key",
        ),
    )


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_index("ix_predictions_model_entity_id", table_name="predictions")
    op.drop_index("ix_predictions_model_time", table_name="predictions")
    op.drop_table("predictions")
