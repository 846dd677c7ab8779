"""The loop's records: decisions, step records and the one-loop-per-model lock."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from skloop.core import NotFoundError, StoreError
from skloop.store import LoopLockedError, Store

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_a_decision_is_running_until_finished(store: Store) -> None:
    d = store.loop.create_decision("churn", evaluated_at=NOW, details={"alias": "champion"})
    assert (d.status, d.outcome, d.evaluated_at, d.details) == ("running", None, NOW, {"alias": "champion"})
    d = store.loop.update_decision(d.id, champion_version=1, fired=["drift"], details={"guards": []},
                              triggers=[{"name": "drift", "fired": True}])  # fmt: skip
    assert d.fired == ("drift",) and d.details == {"alias": "champion", "guards": []}  # details merge
    assert store.loop.list_decisions("churn", status="running") == [d]
    done = store.loop.finish_decision(d.id, outcome="kept", reason="not better")
    assert (done.status, done.outcome, done.reason) == ("finished", "kept", "not better") and done.ended
    with pytest.raises(StoreError, match="can no longer change"):
        store.loop.update_decision(d.id, reason="later")
    with pytest.raises(StoreError, match="not running"):
        store.loop.finish_decision(d.id, outcome="kept")
    with pytest.raises(StoreError, match="outcome is one of"):
        store.loop.update_decision(store.loop.create_decision("churn", evaluated_at=NOW).id, outcome="maybe")
    assert store.loop.get_decision(d.id[:10]) == done
    with pytest.raises(NotFoundError):
        store.loop.get_decision("ffff")
    assert [x.id for x in store.loop.list_decisions("churn", limit=1)] != [d.id]  # the newest one
    assert done.to_dict()["fired"] == ["drift"] and done.to_dict()["evaluated_at"].startswith("2025-03-01")


def _decided(store: Store, name: str, challenger: int | None, outcome: str) -> str:
    d = store.loop.create_decision(name, evaluated_at=NOW)
    store.loop.update_decision(d.id, champion_version=1, challenger_version=challenger)
    return store.loop.finish_decision(d.id, outcome=outcome, reason=outcome).id


def test_decisions_are_found_by_the_version_they_produced(store: Store) -> None:
    produced = _decided(store, "churn", 2, "kept")
    _decided(store, "churn", None, "none")
    reused = _decided(store, "churn", 2, "promoted")  # a later decision that reused the retrain of v2
    _decided(store, "churn", 3, "kept")
    other = _decided(store, "fraud", 2, "kept")
    assert [d.id for d in store.loop.list_decisions("churn", challenger_version=2)] == [produced, reused]
    assert [d.id for d in store.loop.list_decisions("churn", challenger_version=2, limit=1)] == [reused]
    assert store.loop.list_decisions("churn", challenger_version=7) == []
    found = store.loop.decision_for_version("churn", 2)
    assert found is not None and (found.id, found.outcome, found.challenger_version) == (produced, "kept", 2)
    fraud = store.loop.decision_for_version("fraud", 2)
    assert fraud is not None and fraud.id == other
    assert store.loop.decision_for_version("churn", 1) is None  # the champion was produced by no decision here
    assert store.loop.decision_for_version("nope", 2) is None


def test_the_decision_of_a_version_is_an_indexed_read(store: Store) -> None:
    engine = store.db.engine
    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(engine).get_indexes("loop_decisions")}
    assert indexes["ix_loop_decisions_name_challenger_version"] == ["name", "challenger_version"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM loop_decisions WHERE name = 'churn' AND challenger_version = 2"
            ))  # fmt: skip
        assert "ix_loop_decisions_name_challenger_version" in plan, plan


def test_step_records_and_the_cache(store: Store) -> None:
    first = store.loop.create_decision("churn", evaluated_at=NOW)
    running = store.loop.record_step(first.id, "monitor", name="churn", status="running", inputs_hash="a" * 64)
    assert running.status == "running" and running.ended is None
    done = store.loop.record_step(first.id, "monitor", name="churn", status="finished", inputs_hash="a" * 64,
                             outputs={"n_rows": 3})  # fmt: skip
    assert done.outputs == {"n_rows": 3} and done.started == running.started and done.ended is not None
    store.loop.record_step(first.id, "retrain", name="churn", status="skipped")
    assert [s.step for s in store.loop.list_steps(first.id)] == ["monitor", "retrain"]
    assert store.loop.cached_step("churn", "monitor", "a" * 64) == done
    assert store.loop.cached_step("churn", "monitor", "b" * 64) is None
    assert store.loop.cached_step("other", "monitor", "a" * 64) is None
    store.loop.record_step(first.id, "decide", name="churn", status="failed", inputs_hash="c" * 64, error="boom")
    assert store.loop.cached_step("churn", "decide", "c" * 64) is None  # only finished steps are reused
    with pytest.raises(StoreError, match="status is one of"):
        store.loop.record_step(first.id, "x", name="churn", status="done")


def test_one_loop_per_model(store: Store) -> None:
    lock = store.loop.acquire_loop_lock("churn", "me", lease=timedelta(minutes=5))
    assert lock.owner == "me" and lock.expires > datetime.now(UTC)
    again = store.loop.acquire_loop_lock("churn", "me", lease=timedelta(minutes=10))  # a renewal
    assert again.expires > lock.expires and again.acquired == lock.acquired
    with pytest.raises(LoopLockedError, match=r"running in process \d+"):
        store.loop.acquire_loop_lock("churn", "someone else", lease=timedelta(minutes=5))
    store.loop.acquire_loop_lock("other-model", "someone else", lease=timedelta(minutes=5))  # per model
    assert not store.loop.release_loop_lock("churn", "someone else")
    assert store.loop.release_loop_lock("churn", "me") and store.loop.get_loop_lock("churn") is None
    assert store.loop.acquire_loop_lock("churn", "someone else", lease=timedelta(minutes=5)).owner == "someone else"


def test_an_expired_lease_is_taken_over(store: Store) -> None:
    store.loop.acquire_loop_lock("churn", "old", lease=timedelta(milliseconds=1))
    time.sleep(0.01)
    assert store.loop.acquire_loop_lock("churn", "new", lease=timedelta(minutes=5)).owner == "new"


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    url, art = f"sqlite:///{tmp_path}/s.db", tmp_path / "art"
    code = (
        "from datetime import timedelta; from skloop.store import Store; "
        f"s = Store.open({url!r}, {str(art)!r}); s.loop.acquire_loop_lock('churn', 'dead', lease=timedelta(hours=1))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with Store.open(url, art) as store:
        held = store.loop.get_loop_lock("churn")
        assert held is not None and held.owner == "dead"
        assert store.loop.acquire_loop_lock("churn", "alive", lease=timedelta(minutes=5)).owner == "alive"
