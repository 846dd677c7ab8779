"""A run's own records (params, tags, latest metrics, inputs, artifacts), read two ways.

While a run is ``running`` they are read from their tables (one ``UNION ALL`` and two
small queries for a batch of runs). When it ends, they are also written as one JSON
text in ``runs.summary``, in the transaction that ends it, so that a search reads one
row per ended run instead of one per param, tag and metric (runs barely change once
ended, and searches mostly return ended runs).

Keeping the summary equal to the tables, on SQLite and PostgreSQL:

- A summary is written only after locking the run's row (``SELECT ... FOR UPDATE``;
  SQLite writers are serialised by ``BEGIN IMMEDIATE`` anyway), then reading the
  tables in the same transaction: ending a run, reaping it, setting a tag on an ended
  run (tags may change after the end) and importing ended runs.
- Every other write to a run's records clears its summary (``UPDATE runs SET summary
  = NULL WHERE id = ? AND summary IS NOT NULL``) in its own transaction; such writes
  are refused on ended runs, so this only matters when a second store still believes
  the run is running. On PostgreSQL their foreign key check holds a ``KEY SHARE`` lock
  on the run's row until commit, which the summary writer's ``FOR UPDATE`` waits for.
- A run without a summary, or with one of another format version, is read from the
  tables; the result is the same, only slower.

Text rather than a JSON column: metric values may be NaN or infinite, which
PostgreSQL's JSON types reject and Python's ``json`` round-trips exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from skloop.store._entities import ArtifactRef, RunInput
from skloop.store._schema import SqlRun
from skloop.store._writes import driver_sql

__all__ = [
    "FORMAT",
    "Records",
    "decode",
    "encode",
    "invalidate",
    "read_records",
    "summarise",
    "write_summaries",
]

#: Bumped when the layout changes; summaries of another version are ignored on read.
FORMAT = 1
#: ``(params, tags, metrics, inputs, artifacts)`` of one run.
Records = tuple[dict[str, str], dict[str, str], dict[str, float], tuple[RunInput, ...], dict[str, ArtifactRef]]

RUNS = SqlRun
_CHUNK = 500
_NUM, _FLAG, _TEXT = "CAST(NULL AS DOUBLE PRECISION)", "CAST(NULL AS BOOLEAN)", "CAST(NULL AS TEXT)"
# params, tags and latest metrics in one round trip: (kind, run_id, key, text, number, nan).
# Driver-level SQL: thousands of small rows are read without per-value processing.
_KEYED_SQL = (
    f"SELECT 0, run_id, key, value, {_NUM}, {_FLAG} FROM params WHERE run_id IN ({{ids}}) "
    f"UNION ALL SELECT 1, run_id, key, value, {_NUM}, {_FLAG} FROM tags WHERE run_id IN ({{ids}}) "
    f"UNION ALL SELECT 2, run_id, key, {_TEXT}, value, is_nan FROM latest_metrics "
    "WHERE run_id IN ({ids})"
)
_INPUTS_SQL = "SELECT run_id, fingerprint, role FROM run_inputs WHERE run_id IN ({ids}) ORDER BY logged_at, role"
_ARTIFACTS_SQL = "SELECT run_id, name, sha256, size, media_type FROM artifacts WHERE run_id IN ({ids}) ORDER BY name"
_SET_SQL = "UPDATE runs SET summary = ? WHERE id = ? AND status <> 'running'"
_CLEAR_SQL = "UPDATE runs SET summary = NULL WHERE id = ? AND summary IS NOT NULL"


def fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of ``sql`` (``{ids}`` filled with ``len(params)`` placeholders) as plain tuples.

    Uses the DB-API cursor of the scope's own connection, so it is the same transaction.
    """
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    cursor = conn.connection.cursor()
    try:
        n = len(params) // sql.count("{ids}")
        cursor.execute(sql.format(ids=", ".join([mark] * n)), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def read_records(conn: Connection, run_ids: Sequence[str]) -> dict[str, Records]:
    """The records of ``run_ids`` from their tables (the path for running runs)."""
    keyed: tuple[dict[str, dict[str, Any]], ...] = tuple({i: {} for i in run_ids} for _ in range(3))
    inputs: dict[str, list[RunInput]] = {i: [] for i in run_ids}
    artifacts: dict[str, dict[str, ArtifactRef]] = {i: {} for i in run_ids}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        for kind, run_id, key, text, num, nan in fetch(conn, _KEYED_SQL, chunk * 3):
            keyed[kind][run_id][key] = text if kind < 2 else (math.nan if nan else float(num))
        for run_id, fp, role in fetch(conn, _INPUTS_SQL, chunk):
            inputs[run_id].append(RunInput(fingerprint=fp, role=role))
        for run_id, name, sha, size, media in fetch(conn, _ARTIFACTS_SQL, chunk):
            artifacts[run_id][name] = ArtifactRef(sha256=sha, size=size, name=name, media_type=media)
    params, tags, metrics = keyed
    return {i: (params[i], tags[i], metrics[i], tuple(inputs[i]), artifacts[i]) for i in run_ids}


def encode(
    params: Mapping[str, str],
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    inputs: Sequence[RunInput] = (),
    artifacts: Mapping[str, ArtifactRef] | None = None,
) -> str:
    """The summary text of a run's records (keys sorted, as the tables return them)."""
    doc = {
        "v": FORMAT,
        "params": dict(sorted(params.items())),
        "tags": dict(sorted(tags.items())),
        "metrics": {k: float(v) for k, v in sorted(metrics.items())},
        "inputs": [[i.fingerprint, i.role] for i in inputs],
        "artifacts": [[a.name, a.sha256, a.size, a.media_type] for _, a in sorted((artifacts or {}).items())],
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=True)


def decode(texts: Sequence[str | None]) -> list[Records | None]:
    """The records in each summary, or ``None`` where there is none of this format.

    The texts are parsed as one JSON array: one call into the C parser instead of one
    per run, which is most of the cost of reading a summary.
    """
    present = [t for t in texts if t]
    try:
        docs = iter(json.loads("[" + ",".join(present) + "]"))
    except ValueError:  # a damaged summary: read that run from its tables
        docs = iter([_loads(t) for t in present])
    return [_records(next(docs)) if t else None for t in texts]


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _records(doc: Any) -> Records | None:
    if not isinstance(doc, dict) or doc.get("v") != FORMAT:
        return None
    inputs, artifacts = doc["inputs"], doc["artifacts"]
    return (
        doc["params"],
        doc["tags"],
        doc["metrics"],
        tuple(RunInput(fingerprint=fp, role=role) for fp, role in inputs) if inputs else (),
        {n: ArtifactRef(sha256=sha, size=size, name=n, media_type=media) for n, sha, size, media in artifacts}
        if artifacts
        else {},
    )


def summarise(conn: Connection, run_id: str) -> str:
    """Lock the run's row and return the summary of its records, to store as it ends.

    The lock comes before the read and the status change: on PostgreSQL it waits for
    writers of the run's records already under way, and a writer that comes after
    waits for this transaction, then clears the summary. SQLite writers are serialised
    by ``BEGIN IMMEDIATE`` already.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id).with_for_update())
    return encode(*read_records(conn, [run_id])[run_id])


def write_summaries(conn: Connection, run_ids: Sequence[str]) -> None:
    """Lock the runs' rows, read their records and store the summaries of the ended ones."""
    if not run_ids:
        return
    # lock every row and filter here: a PostgreSQL FOR UPDATE skips, without waiting, a
    # row whose snapshot fails the WHERE, e.g. one being ended by another transaction
    ended = [
        i
        for start in range(0, len(run_ids), _CHUNK)
        for i, status in conn.execute(
            select(RUNS.c.id, RUNS.c.status)
            .where(RUNS.c.id.in_(list(run_ids[start : start + _CHUNK])))
            .with_for_update()
        )
        if status != "running"
    ]
    if ended:
        records = read_records(conn, ended)
        rows = [(encode(*records[i]), i) for i in ended]
        conn.exec_driver_sql(driver_sql(_SET_SQL, conn.dialect.name), rows)


def invalidate(conn: Connection, run_ids: Sequence[str]) -> None:
    """Clear the summaries of ``run_ids`` after writing to their records."""
    rows = [(i,) for i in dict.fromkeys(run_ids)]
    if rows:
        conn.exec_driver_sql(driver_sql(_CLEAR_SQL, conn.dialect.name), rows[0] if len(rows) == 1 else rows)
