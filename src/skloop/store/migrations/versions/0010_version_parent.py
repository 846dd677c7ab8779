"""A model version's parent version, and the loop's decisions by the version they produced.

``model_versions.parent_version`` is the version of the same model a version was
retrained from (the loop's champion) or derived from; ``NULL`` for a first version or
one trained from scratch. Versions a loop decision retrained before this revision get
theirs from that decision: the champion of the oldest decision whose challenger they
are (the one that ran the retrain; a later decision may have reused it).

``ix_loop_decisions_name_challenger_version`` lets lineage find the decision that
produced a version in one indexed query.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"  # after the monitor reports (0009, merged first), so a store already at 0009 upgrades
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("parent_version", sa.Integer(), nullable=True))
    op.create_index("ix_loop_decisions_name_challenger_version", "loop_decisions", ["name", "challenger_version"])
    versions = sa.table(
        "model_versions", sa.column("name", sa.String), sa.column("version", sa.Integer),
        sa.column("parent_version", sa.Integer),
    )  # fmt: skip
    decisions = sa.table(
        "loop_decisions", sa.column("name", sa.String), sa.column("challenger_version", sa.Integer),
        sa.column("champion_version", sa.Integer), sa.column("started", sa.DateTime), sa.column("id", sa.String),
    )  # fmt: skip
    producing = (
        sa.select(decisions.c.champion_version)
        .where(
            decisions.c.name == versions.c.name,
            decisions.c.challenger_version == versions.c.version,
            decisions.c.champion_version.is_not(None),
            decisions.c.champion_version < versions.c.version,
        )
        .order_by(decisions.c.started, decisions.c.id)
        .limit(1)
        .scalar_subquery()
    )
    op.execute(sa.update(versions).where(versions.c.parent_version.is_(None)).values(parent_version=producing))


def downgrade() -> None:
    op.drop_index("ix_loop_decisions_name_challenger_version", table_name="loop_decisions")
    # a plain ALTER TABLE (SQLite 3.35+): batch mode would copy the table, which aliases
    # and derived artifacts reference
    op.drop_column("model_versions", "parent_version")
