"""An index on ``predictions (model, id)``: the paged reader's keyset.

Monitoring, the loop's windows and retention read a model's predictions in pages of
``id > last ORDER BY id LIMIT n`` (:mod:`skloop.store._prediction_pages`); without
this index every page of one model scanned the other models' rows as well.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_model_id", "predictions", ["model", "id"])


def downgrade() -> None:
    op.drop_index("ix_predictions_model_id", table_name="predictions")
