"""Every kind of store write survives a serialization failure (PostgreSQL) or a busy database (SQLite).

A SQLAlchemy ``before_cursor_execute`` hook makes the first statement that matches a
pattern fail as the database would: psycopg's ``SerializationFailure`` (SQLSTATE
``40001``) on PostgreSQL, ``sqlite3.OperationalError('database is locked')`` on SQLite.
The write must be retried by the store's one transaction loop (``Database.transact``),
raise nothing, and leave exactly one copy of what it wrote (nothing lost, nothing twice).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from skloop.store import DatasetRecord, Store
from skloop.store._retry import retry_counts

FP = "ab" * 32
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@contextmanager
def fail_once(store: Store, pattern: str) -> Iterator[list[str]]:
    """Make the first statement matching ``pattern`` fail as a conflict would; yield what failed."""
    failed: list[str] = []
    regex = re.compile(pattern, re.IGNORECASE)

    def hook(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not failed and regex.search(statement):
            failed.append(statement)
            if conn.dialect.name == "postgresql":
                import psycopg.errors

                raise psycopg.errors.SerializationFailure("could not serialize access due to concurrent update")
            raise sqlite3.OperationalError("database is locked")

    engine = store.db.engine
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _run(store: Store) -> str:
    return store.runs.create_run("churn").id


def _version(store: Store) -> str:
    with store.runs.start_run("churn") as run:
        store.datasets.log_dataset(run.id, DatasetRecord(fingerprint=FP, source="data.csv", n_rows=10, n_columns=3))
    store.models.create_model_version("churn", run_id=run.id, artifact_sha256="cd" * 32)
    return run.id


def _prediction(request_id: str, row: int = 0) -> dict[str, Any]:
    return {
        "request_id": request_id, "row": row, "time": T0.isoformat(), "model": "churn", "version": 1,
        "inputs": {"tenure": 3}, "outputs": {"prediction": "yes"}, "flags": [],
    }  # fmt: skip


def _report(store: Store) -> Any:
    body = json.dumps({"model": "churn/1", "features": []})
    return store.reports.add_report(
        "churn", 1, body, source_kind="file", source="new.csv", drifted=False, n_features=1, n_drifted=0,
        drift_share=0.0, performance_alert=False, n_quality_issues=0, n_rows=10, summary={}, window="10 rows",
    )  # fmt: skip


# kind -> (setup, the write, the statement to fail, a check of what is stored)
Case = tuple[Callable[[Store], Any], Callable[[Store, Any], Any], str, Callable[[Store, Any, Any], None]]
CASES: dict[str, Case] = {
    "run create": (
        lambda s: None,
        lambda s, _: s.runs.create_run("churn", tags={"team": "a"}),
        r"INSERT INTO runs\b",
        lambda s, _, run: (
            ([r.id for r in s.runs.search_runs("churn")] == [run.id] and s.runs.get_run(run.id).tags == {"team": "a"})
            or pytest.fail("the run is missing, doubled or lost its tags")
        ),
    ),
    "log params": (
        _run,
        lambda s, rid: s.runs.log_params(rid, {"alpha": 0.1, "depth": 3}),
        r"INTO params\b",
        lambda s, rid, _: s.runs.get_run(rid).params == {"alpha": "0.1", "depth": "3"} or pytest.fail("params"),
    ),
    "log metrics": (
        _run,
        lambda s, rid: (
            s.runs.log_metric(rid, "loss", 0.5, step=0),
            s.runs.log_metric(rid, "loss", 0.25, step=1),
            s.runs.flush(),
        ),
        r"INTO latest_metrics\b",
        lambda s, rid, _: (
            [(m.step, m.value) for m in s.runs.get_metric_history(rid, "loss")] == [(0, 0.5), (1, 0.25)]
            or pytest.fail("the metric history is missing or doubled")
        ),
    ),
    "run finish": (
        _run,
        lambda s, rid: s.runs.finish_run(rid),
        r"UPDATE runs\b",
        lambda s, rid, _: s.runs.get_run(rid).status == "finished" or pytest.fail("the run did not end"),
    ),
    "dataset": (
        _run,
        lambda s, rid: s.datasets.log_dataset(
            rid, DatasetRecord(fingerprint=FP, source="d.csv", n_rows=1, n_columns=1)
        ),
        r"INTO run_inputs\b",
        lambda s, rid, _: [d.fingerprint for d in s.datasets.list_datasets()] == [FP] or pytest.fail("datasets"),
    ),
    "register version": (
        _version,
        lambda s, rid: s.models.create_model_version("churn", run_id=rid, artifact_sha256="ef" * 32),
        r"INSERT INTO model_versions\b",
        lambda s, _, v: (
            (v.version == 2 and [m.version for m in s.models.list_model_versions("churn")] == [1, 2])
            or pytest.fail("the versions are not 1, 2")
        ),
    ),
    "alias move": (
        _version,
        lambda s, _: s.models.set_alias("churn", "champion", 1, actor="test", reason="first"),
        r"INTO alias_events\b",
        lambda s, _, __: (
            (s.models.get_aliases("churn") == {"champion": 1} and len(s.models.alias_history("churn")) == 1)
            or pytest.fail("the alias or its history is wrong")
        ),
    ),
    "prediction ingest": (
        lambda s: None,
        lambda s, _: s.predictions.insert_predictions([_prediction("r1"), _prediction("r1", 1), _prediction("r2")]),
        r"INSERT\b.*\bINTO predictions\b",
        lambda s, _, n: (n == 3 and s.predictions.count_predictions() == 3) or pytest.fail(f"inserted {n}"),
    ),
    "labels": (
        lambda s: None,
        lambda s, _: s.predictions.insert_labels("churn", [{"entity_id": "c1", "label": "yes"}]),
        r"INTO labels\b",
        lambda s, _, __: len(s.predictions.list_labels("churn")) == 1 or pytest.fail("labels"),
    ),
    "loop decision": (
        lambda s: None,
        lambda s, _: s.loop.create_decision("churn", evaluated_at=T0, details={"k": 1}),
        r"INSERT INTO loop_decisions\b",
        lambda s, _, d: [x.id for x in s.loop.list_decisions("churn")] == [d.id] or pytest.fail("decisions"),
    ),
    "loop decision update": (
        lambda s: s.loop.create_decision("churn", evaluated_at=T0, details={"a": 1}).id,
        lambda s, did: s.loop.update_decision(did, details={"b": 2}),
        r"UPDATE loop_decisions\b",
        lambda s, did, _: s.loop.get_decision(did).details == {"a": 1, "b": 2} or pytest.fail("details"),
    ),
    "loop step and end": (
        lambda s: s.loop.create_decision("churn", evaluated_at=T0).id,
        lambda s, did: (
            s.loop.record_step(did, "train", name="churn", status="finished", outputs={"v": 2}),
            s.loop.finish_decision(did, outcome="promoted", reason="better"),
        ),
        r"INTO loop_steps\b|UPDATE loop_decisions\b",
        lambda s, did, _: (
            ([st.step for st in s.loop.list_steps(did)] == ["train"] and s.loop.get_decision(did).outcome == "promoted")
            or pytest.fail("steps or outcome")
        ),
    ),
    "report save": (
        lambda s: _version(s),
        lambda s, _: _report(s),
        r"INSERT INTO monitor_reports\b",
        lambda s, _, r: [x.id for x in s.reports.list_reports("churn")] == [r.id] or pytest.fail("reports"),
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_write_is_retried_after_a_conflict(store: Store, kind: str) -> None:
    setup, write, pattern, check = CASES[kind]
    given = setup(store)
    before = sum(retry_counts().values())
    with fail_once(store, pattern) as failed:
        result = write(store, given)  # no error reaches the caller
    assert failed, f"no statement matched {pattern!r}: the test would prove nothing"
    assert sum(retry_counts().values()) > before, "the failure was not retried by Database.transact"
    check(store, given, result)
