"""Indexes for the web UI: ``params (key, value)``, and covering ones on ``predictions``.

* ``ix_params_key_value`` lets an equality on a param (``params.p = 'x'``) pick the runs
  of a page first, as a selective metric comparison does from
  ``ix_latest_metrics_key_value`` (:mod:`skloop.store._pages`); without it a filter
  that matches almost nothing probed every run. It is partial, on values of at most
  500 characters (``PARAM_INDEXED_CHARS``): a PostgreSQL B-tree entry holds at most
  about 2,700 bytes, and params are free text.
* ``ix_predictions_model_time_version_row`` covers what the serving page's ``GROUP BY``
  reads of a model's rows (:mod:`skloop.store._serving_stats`), so that the scan reads
  the index only, in time order; ``ix_predictions_model_flagged``, partial on the rows
  with flags, does the same for the flagged rows' counts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SHORT = sa.text("length(value) <= 500")
_FLAGGED = sa.text("flags IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_params_key_value", "params", ["key", "value"], sqlite_where=_SHORT, postgresql_where=_SHORT)
    op.create_index("ix_predictions_model_time_version_row", "predictions", ["model", "time", "version", "row"])
    op.create_index("ix_predictions_model_flagged", "predictions", ["model", "time", "version"],
                    sqlite_where=_FLAGGED, postgresql_where=_FLAGGED)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_predictions_model_flagged", table_name="predictions")
    op.drop_index("ix_predictions_model_time_version_row", table_name="predictions")
    op.drop_index("ix_params_key_value", table_name="params")
