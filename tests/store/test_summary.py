"""Run summaries: an ended run's one-row summary always equals its records' tables."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from skloop.store import DatasetRecord, Run, Store, upgrade_database
from skloop.store import _summary as summary
from skloop.store._engine import _config, make_engine


def _stored(store: Store, run_id: str) -> tuple[str | None, summary.Records]:
    """The run's summary text and its records read from the tables."""
    with store.db.session("test", read=True) as conn:
        text = conn.execute(sa.text("SELECT summary FROM runs WHERE id = :id"), {"id": run_id}).scalar()
        return text, summary.read_records(conn, [run_id])[run_id]


def _assert_summarised(store: Store, run_id: str) -> None:
    text, joined = _stored(store, run_id)
    assert text is not None, f"run {run_id} has no summary"
    decoded = summary.decode([text])[0]
    assert decoded is not None
    # NaN != NaN: compare the metrics by their repr
    assert decoded[:2] == joined[:2] and decoded[3:] == joined[3:]
    assert {k: repr(v) for k, v in decoded[2].items()} == {k: repr(v) for k, v in joined[2].items()}
    if store.url.startswith("sqlite"):  # and in the same order
        assert [list(d) for d in decoded[:3]] == [list(j) for j in joined[:3]]


def _full_run(store: Store) -> str:
    run = store.runs.create_run("proj", tags={"team": "risk", "é": "accent"})
    store.runs.log_params(run.id, {"b": 2, "a": "x", "Z": 1.5})
    store.runs.log_metric(run.id, "loss", 0.5, step=0)
    store.runs.log_metric(run.id, "loss", 0.25, step=3)
    store.runs.log_metric(run.id, "loss", 0.75, step=1)  # not the latest
    store.runs.log_metrics(run.id, {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "tiny": 1e-300}, step=2)
    store.runs.log_batch(run.id, [("auc", 0.123456789012345678, 0)], params={"cv": 5}, tags={"stage": "cv"})
    store.datasets.log_dataset(run.id, DatasetRecord("a" * 64, "train.csv", 10, 3), "train")
    store.datasets.log_dataset(run.id, DatasetRecord("b" * 64, "holdout.csv", 5, 3), "holdout")
    store.runs.log_artifact(run.id, "model.skops", b"model", media_type="application/x-skops")
    store.runs.log_artifact(run.id, "card.md", b"# card")
    return run.id


def test_finished_run_summary_equals_the_joined_read(store: Store) -> None:
    run_id = _full_run(store)
    assert _stored(store, run_id)[0] is None  # running: read from the tables
    running = store.runs.get_run(run_id)
    store.runs.finish_run(run_id)
    _assert_summarised(store, run_id)
    got = store.runs.get_run(run_id)
    assert got.status == "finished"
    assert (got.params, got.tags, got.datasets, got.artifacts) == (
        running.params,
        running.tags,
        running.datasets,
        running.artifacts,
    )
    assert math.isnan(got.metrics.pop("nan")) and math.isnan(running.metrics.pop("nan"))
    assert got.metrics == running.metrics and got.metrics["loss"] == 0.25
    assert got.metrics["inf"] == math.inf and got.metrics["ninf"] == -math.inf
    [found] = store.runs.search_runs("proj", filter="metrics.loss < 0.3")
    assert found.id == run_id and found.params == got.params and found.artifacts == got.artifacts


@pytest.mark.parametrize(("exc", "status"), [(ValueError, "failed"), (KeyboardInterrupt, "killed")])
def test_failed_and_killed_runs_are_summarised(store: Store, exc: type[BaseException], status: str) -> None:
    with pytest.raises(exc), store.runs.start_run("proj") as run:
        store.runs.log_params(run.id, {"a": 1})
        store.runs.log_metric(run.id, "loss", 0.5)  # still buffered when the block fails
        raise exc("boom")
    assert store.runs.get_run(run.id).status == status
    _assert_summarised(store, run.id)
    assert store.runs.get_run(run.id).metrics == {"loss": 0.5}


def test_reaped_runs_are_summarised(store: Store) -> None:
    run = store.runs.create_run("proj")
    store.runs.log_params(run.id, {"a": 1})
    store.runs.log_metric(run.id, "loss", 0.5)
    store.flush()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE runs SET pid = :pid WHERE id = :id"), {"pid": dead.pid, "id": run.id})
    assert store.runs.reap_stale_runs() == [run.id]
    _assert_summarised(store, run.id)
    assert store.runs.get_run(run.id).metrics == {"loss": 0.5}


def test_tags_set_after_the_end_update_the_summary(store: Store) -> None:
    run_id = _full_run(store)
    store.runs.finish_run(run_id)
    store.runs.set_tags(run_id, {"stage": "promoted", "new": "yes"})
    _assert_summarised(store, run_id)
    assert store.runs.get_run(run_id).tags["stage"] == "promoted"
    assert [r.id for r in store.runs.search_runs(filter="tags.new = 'yes'")] == [run_id]


def test_a_write_from_a_stale_store_clears_the_summary(store_url: str, artifact_root: Path) -> None:
    with Store.open(store_url, artifact_root) as a, Store.open(store_url, artifact_root) as b:
        run = a.runs.create_run("proj")
        b.runs.log_params(run.id, {"x": 1})  # b now believes the run is running
        a.runs.finish_run(run.id)
        _assert_summarised(a, run.id)
        b.runs.log_params(run.id, {"late": 2})
        b.runs.log_metric(run.id, "late_metric", 1.0)
        b.flush()
        assert _stored(a, run.id)[0] is None
        got = a.runs.get_run(run.id)
        assert got.params == {"late": "2", "x": "1"} and got.metrics == {"late_metric": 1.0}
        a.runs.set_tag(run.id, "k", "v")  # summarised again, with everything
        _assert_summarised(a, run.id)


def test_imported_runs_are_summarised(store: Store) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ended, running = store.runs.import_runs(
        [
            Run("", "proj", "train", "finished", start, params={"b": 1, "a": 2}, metrics={"m": math.nan}),
            Run("", "proj", "train", "running", start, tags={"t": "x"}),
        ]
    )
    _assert_summarised(store, ended)
    assert _stored(store, running)[0] is None
    got = store.runs.get_run(ended)
    assert got.params == {"a": "2", "b": "1"} and math.isnan(got.metrics["m"])


def test_summaries_of_another_format_or_damaged_are_ignored(store: Store) -> None:
    run_id = _full_run(store)
    store.runs.finish_run(run_id)
    expected = store.runs.get_run(run_id)
    for text in ('{"v": 999}', "{not json", '["v", 1]'):
        with store.db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE runs SET summary = :s WHERE id = :id"), {"s": text, "id": run_id})
        got = store.runs.get_run(run_id)
        assert got.params == expected.params and got.artifacts == expected.artifacts


def test_upgrade_summarises_ended_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0002")
            conn.exec_driver_sql(
                "INSERT INTO runs (id, project, kind, status, start_time) VALUES "
                "('a', 'p', 'train', 'finished', '2025-01-01 00:00:00'), "
                "('b', 'p', 'train', 'running', '2025-01-01 00:00:00')"
            )
            conn.exec_driver_sql("INSERT INTO params VALUES ('a', 'k', 'v'), ('b', 'k', 'w')")
            conn.exec_driver_sql("INSERT INTO latest_metrics VALUES ('a', 'm', NULL, 1, 0, 0)")
    finally:
        engine.dispose()
    upgrade_database(url)
    with Store(url, tmp_path / "art") as store:
        with store.db.session("test", read=True) as conn:
            rows = dict(conn.execute(sa.text("SELECT id, summary FROM runs")).all())
            joined = summary.read_records(conn, ["a"])["a"]
        assert rows["b"] is None
        decoded = summary.decode([rows["a"]])[0]
        assert decoded is not None and decoded[0] == joined[0] == {"k": "v"} and math.isnan(decoded[2]["m"])
