"""Predictions keep the client's request id as a correlation id, apart from their key.

The server now keys every request's predictions by an id it generates (unique), so a
client reusing its ``X-Request-ID`` no longer collapses rows; the client's id is kept
in ``correlation_id`` (nullable: rows logged before, and clients that send none).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("correlation_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("correlation_id")
