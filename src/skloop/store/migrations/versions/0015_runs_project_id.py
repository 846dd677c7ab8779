"""``ix_runs_project_id`` ``(project, id)``: a project's run ids from an index alone.

The runs page's tag facets count every run of a project exactly, also when other
projects share the store (:mod:`skloop.store._tag_facets`): the project's ids are read
from this index (covering, no row of the wide ``runs`` table visited) into the set each
tag row is checked against, or are the runs whose tags are read by primary key when the
project holds a small share of the store. Before, a store of several projects counted
the newest 5,000 runs only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_project_id", "runs", ["project", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_id", table_name="runs")
