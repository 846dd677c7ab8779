"""Run summaries: ``runs.summary``, the records of an ended run as one JSON text.

Ended runs get their summary here; runs still running get theirs when they end. A run
without one is read from the params, tags, latest metrics, inputs and artifacts tables,
with the same result. The format is version 1 of :mod:`skloop.store._summary`, written
out here so that this migration keeps its meaning when that module changes.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CHUNK = 500


def _rows(conn: sa.Connection, sql: str, ids: list[str]) -> Any:
    return conn.execute(sa.text(sql).bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids})


def _summaries(conn: sa.Connection, ids: list[str]) -> list[dict[str, str]]:
    docs: dict[str, dict[str, Any]] = {
        i: {"v": 1, "params": {}, "tags": {}, "metrics": {}, "inputs": [], "artifacts": []} for i in ids
    }
    for table in ("params", "tags"):
        for run_id, key, value in _rows(conn, f"SELECT run_id, key, value FROM {table} WHERE run_id IN :ids", ids):
            docs[run_id][table][key] = value
    sql = "SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN :ids"
    for run_id, key, value, is_nan in _rows(conn, sql, ids):
        docs[run_id]["metrics"][key] = float("nan") if is_nan else float(value)
    sql = "SELECT run_id, fingerprint, role FROM run_inputs WHERE run_id IN :ids ORDER BY logged_at, role"
    for run_id, fingerprint, role in _rows(conn, sql, ids):
        docs[run_id]["inputs"].append([fingerprint, role])
    sql = "SELECT run_id, name, sha256, size, media_type FROM artifacts WHERE run_id IN :ids"
    for run_id, name, sha256, size, media_type in _rows(conn, sql, ids):
        docs[run_id]["artifacts"].append([name, sha256, size, media_type])
    out = []
    for run_id, doc in docs.items():
        for part in ("params", "tags", "metrics"):
            doc[part] = dict(sorted(doc[part].items()))
        doc["artifacts"].sort()
        out.append({"run_id": run_id, "summary": json.dumps(doc, separators=(",", ":"), allow_nan=True)})
    return out


def upgrade() -> None:
    op.add_column("runs", sa.Column("summary", sa.Text(), nullable=True))
    conn = op.get_bind()
    ended = list(conn.execute(sa.text("SELECT id FROM runs WHERE status <> 'running' ORDER BY id")).scalars())
    update = sa.text("UPDATE runs SET summary = :summary WHERE id = :run_id")
    for start in range(0, len(ended), _CHUNK):
        rows = _summaries(conn, ended[start : start + _CHUNK])
        if rows:
            conn.execute(update, rows)


def downgrade() -> None:
    # a plain ALTER TABLE (SQLite 3.35+): batch mode would copy the table, and dropping
    # the old one would cascade to every run's records
    op.drop_column("runs", "summary")
