"""The MLflow mirror's outbox: rows written with what they mirror, claimed once, retried, never lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from skloop.core import Settings, StoreError, utcnow
from skloop.store import Store, current_revision, head_revision, upgrade_database

TARGET = "http://127.0.0.1:1"


@pytest.fixture
def mirrored(store_url: str, artifact_root: Path) -> Iterator[Store]:
    s = Store.open(store_url, artifact_root, mirror_target=TARGET)
    yield s
    s.close()


def _run_and_version(store: Store) -> str:
    with store.runs.start_run("churn") as run:
        store.runs.log_metric(run.id, "loss", 0.5, step=1)
        store.runs.log_artifact(run.id, "model.skops", b"not a model")
    store.models.create_model_version("churn", run_id=run.id, artifact_sha256="0" * 64)
    store.models.set_alias("churn", "champion", 1, actor="test")
    return run.id


def test_a_run_a_version_and_an_alias_move_each_queue_one_row(mirrored: Store) -> None:
    run_id = _run_and_version(mirrored)
    items = sorted(mirrored.mirror.items(), key=lambda i: i.id)
    assert [(i.kind, i.key, i.target, i.status, i.attempts) for i in items] == [
        ("run", run_id, TARGET, "pending", 0),
        ("version", "churn/1", TARGET, "pending", 0),
        ("alias", "churn@champion#1", TARGET, "pending", 0),
    ]
    assert mirrored.mirror.recorded == 3
    status = mirrored.mirror.status()
    assert (status.pending, status.failing, status.done) == (3, 0, 0)
    assert status.next_attempt is not None and status.next_attempt <= utcnow()


def test_without_a_target_nothing_is_queued(store: Store) -> None:
    _run_and_version(store)
    assert store.mirror.items() == []
    assert store.mirror.status().pending == 0
    with pytest.raises(StoreError, match="SKLOOP_MLFLOW_URI"):
        store.mirror.enqueue("run", "abc")


def test_a_failed_run_and_a_reaped_one_are_queued_too(mirrored: Store) -> None:
    with pytest.raises(RuntimeError), mirrored.runs.start_run("churn") as run:
        raise RuntimeError("boom")
    assert [(i.kind, i.key) for i in mirrored.mirror.items()] == [("run", run.id)]
    mirrored.runs.finish_run(mirrored.runs.create_run("churn").id, "killed")
    assert len(mirrored.mirror.items()) == 2


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(mirrored: Store) -> None:
    _run_and_version(mirrored)
    first = mirrored.mirror.claim(limit=2)
    assert [i.kind for i in first] == ["run", "version"]  # oldest first
    second = mirrored.mirror.claim(limit=10)
    assert [i.kind for i in second] == ["alias"]
    assert mirrored.mirror.claim() == []
    later = mirrored.mirror.claim(now=utcnow() + timedelta(minutes=6))  # a drainer that died: its lease ran out
    assert len(later) == 3


def test_a_failure_is_counted_kept_and_retried_after_its_backoff(mirrored: Store) -> None:
    _run_and_version(mirrored)
    run_row = mirrored.mirror.claim(limit=1)[0]
    mirrored.mirror.mark_failed(run_row.id, "connection refused", utcnow() + timedelta(seconds=60))
    failing = mirrored.mirror.find("run", run_row.key, TARGET)
    assert failing is not None and failing.failing and failing.attempts == 1
    assert failing.last_error == "connection refused"
    assert failing.id not in [i.id for i in mirrored.mirror.claim(limit=10)]  # waits for its backoff
    assert mirrored.mirror.status().failing == 1
    assert mirrored.mirror.retry_now() == 3
    again = mirrored.mirror.claim(limit=10, now=utcnow() + timedelta(minutes=6))
    assert run_row.id in [i.id for i in again]
    mirrored.mirror.mark_done(run_row.id, "remote-1")
    done = mirrored.mirror.find("run", run_row.key, TARGET)
    assert done is not None and done.status == "done" and done.remote_id == "remote-1" and done.last_error is None
    assert mirrored.mirror.status().done == 1


def test_the_same_record_is_queued_once_per_target(mirrored: Store) -> None:
    mirrored.mirror.enqueue("run", "r1")
    mirrored.mirror.enqueue("run", "r1")
    mirrored.mirror.enqueue("run", "r1", target="http://elsewhere:5000")
    assert sorted(i.target for i in mirrored.mirror.items()) == sorted(["http://elsewhere:5000", TARGET])
    with pytest.raises(StoreError, match="run, version, alias"):
        mirrored.mirror.enqueue("dataset", "x")


def test_settings_name_the_target(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path, env={"SKLOOP_MLFLOW_URI": " http://127.0.0.1:5000 "})
    assert settings.mlflow_uri == "http://127.0.0.1:5000"
    with Store.open(settings) as store:
        assert store.mirror.target == "http://127.0.0.1:5000"
    with Store.open(Settings.from_env(tmp_path, env={})) as store:
        assert store.mirror.target is None


def test_0014_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command

    from skloop.store._engine import _config

    url = f"sqlite:///{tmp_path}/m.db"
    assert upgrade_database(url) == head_revision()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0013")
        assert "mirror_outbox" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert current_revision(url) == "0013"
    assert upgrade_database(url) == head_revision()
    engine = sa.create_engine(url)
    try:
        assert "mirror_outbox" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
