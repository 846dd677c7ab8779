"""Tag indexes for exact tag facets; per-minute rollups of the prediction log.

* ``ix_tags_key_value`` ``(key, value, run_id)``, partial on values of at most 500
  characters, and ``ix_tags_key_long`` ``(key, run_id)`` on the longer ones: the runs
  page's tag facets count every run of a project in ``(key, value)`` order from the two
  indexes alone (:mod:`skloop.store._tag_facets`) instead of sorting every tag row, or
  only the newest 5,000 runs as before. A PostgreSQL B-tree entry holds at most about
  2,700 bytes and tag values are free text, hence the split.
* ``prediction_minutes`` (model, minute, version: requests, rows, flagged rows, first
  and last time) and ``prediction_flag_minutes`` (model, minute, a digest of the flag's
  column and problem: its count), kept by ``insert_predictions`` and retention
  (:mod:`skloop.store._serving_minutes`): the serving page reads a window's whole
  minutes there instead of grouping every logged row. The upgrade counts the rows
  already logged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SHORT = sa.text("length(value) <= 500")
_LONG = sa.text("length(value) > 500")


def upgrade() -> None:
    op.create_table(
        "prediction_minutes",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("flagged", sa.BigInteger(), nullable=False),
        sa.Column("first", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "minute", "version", name="pk_prediction_minutes"),
    )
    op.create_table(
        "prediction_flag_minutes",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("column", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model", "minute", "flag", name="pk_prediction_flag_minutes"),
    )
    # the rows already logged: one GROUP BY over them, and their flags (the code of this
    # revision, kept by the store; a later change to these tables comes with its own migration)
    from skloop.store._serving_minutes import refresh_minutes

    refresh_minutes(op.get_bind())
    op.create_index("ix_tags_key_value", "tags", ["key", "value", "run_id"], sqlite_where=_SHORT,
                    postgresql_where=_SHORT)  # fmt: skip
    op.create_index("ix_tags_key_long", "tags", ["key", "run_id"], sqlite_where=_LONG, postgresql_where=_LONG)


def downgrade() -> None:
    op.drop_table("prediction_flag_minutes")
    op.drop_table("prediction_minutes")
    op.drop_index("ix_tags_key_long", table_name="tags")
    op.drop_index("ix_tags_key_value", table_name="tags")
