"""Run lifecycle: the context manager, buffering, exit, concurrency and SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _workers
import pytest

from skloop.store import Store

WORKERS = str(Path(_workers.__file__).resolve())


def test_context_manager_finishes(store: Store) -> None:
    with store.runs.start_run("proj", seed=1) as run:
        store.runs.log_metric(run.id, "loss", 0.1)
    got = store.runs.get_run(run.id)
    assert got.status == "finished" and got.metrics == {"loss": 0.1} and got.seed == 1


def test_context_manager_failure_is_recorded(store: Store) -> None:
    with pytest.raises(ValueError, match=r"bad fold"), store.runs.start_run("proj") as run:
        store.runs.log_metric(run.id, "loss", 0.1)
        raise ValueError("bad fold")
    got = store.runs.get_run(run.id)
    assert got.status == "failed" and got.metrics == {"loss": 0.1}
    assert got.error is not None and "ValueError: bad fold" in got.error
    assert "Traceback" in got.error


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_context_manager_interrupt_is_killed(store: Store, exc: type[BaseException]) -> None:
    with pytest.raises(exc), store.runs.start_run("proj") as run:
        store.runs.log_metric(run.id, "loss", 0.1)
        raise exc()
    got = store.runs.get_run(run.id)
    assert got.status == "killed" and exc.__name__ in (got.error or "")
    assert got.metrics == {"loss": 0.1}


def test_context_manager_tolerates_explicit_finish(store: Store) -> None:
    with store.runs.start_run("proj") as run:
        store.runs.finish_run(run.id, "killed", error="stopped by hand")
    assert store.runs.get_run(run.id).status == "killed"


def test_buffered_metrics_flush(store_url: str, artifact_root: Path) -> None:
    store = Store.open(store_url, artifact_root, buffer_size=10, buffer_age=3600)
    try:
        run = store.runs.create_run("proj")
        for step in range(9):
            store.runs.log_metric(run.id, "loss", float(step), step=step)
        assert len(store.runs._buffer) == 9  # nothing written yet
        store.runs.log_metric(run.id, "loss", 9.0, step=9)  # the tenth fills the buffer
        assert len(store.runs._buffer) == 0
        store.runs.log_metrics(run.id, {"a": 1.0, "b": 2.0}, step=10)
        assert len(store.runs._buffer) == 2
        assert store.runs.get_run(run.id).metrics == {"loss": 9.0, "a": 1.0, "b": 2.0}  # read flushes
        store.runs.log_metric(run.id, "loss", 10.0, step=10)
        store.runs.finish_run(run.id)  # finishing flushes
        assert len(store.runs.get_metric_history(run.id, "loss")) == 11
    finally:
        store.close()


def test_buffer_is_written_at_interpreter_exit(store_url: str, artifact_root: Path) -> None:
    Store.open(store_url, artifact_root).close()  # create the schema first
    done = subprocess.run(
        [sys.executable, WORKERS, "exit", store_url, str(artifact_root), "500"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    run_id = done.stdout.strip()
    with Store.open(store_url, artifact_root) as store:
        history = store.runs.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == list(range(500))
        assert store.runs.get_run(run_id).status == "running"


def test_four_processes_lose_nothing(store_url: str, artifact_root: Path) -> None:
    Store.open(store_url, artifact_root).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        ids = pool.starmap(_workers.log_from_process, [(store_url, str(artifact_root), w) for w in range(4)])
    with Store.open(store_url, artifact_root) as store:
        runs = store.runs.search_runs("concurrent", limit=None)
        assert sorted(r.id for r in runs) == sorted(ids)
        for run in runs:
            assert run.status == "finished"
            assert len(run.params) == _workers.N_PARAMS
            history = store.runs.get_metric_history(run.id, "loss")
            assert [m.step for m in history] == list(range(_workers.N_METRICS))
            assert len(store.runs.get_metric_history(run.id, "acc")) == _workers.N_METRICS // 50
            assert run.metrics["loss"] == 1.0 / _workers.N_METRICS


def test_sigkill_leaves_a_consistent_store(store_url: str, artifact_root: Path) -> None:
    Store.open(store_url, artifact_root).close()
    proc = subprocess.Popen(
        [sys.executable, WORKERS, "kill", store_url, str(artifact_root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        time.sleep(0.5)  # let it flush a few batches
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with Store.open(store_url, artifact_root) as store:
        if store_url.startswith("sqlite"):
            with store.db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        run = store.runs.get_run(run_id)
        assert run.status == "running"  # nobody could end it
        history = store.runs.get_metric_history(run_id, "loss")
        assert len(history) >= 1
        assert [m.step for m in history] == list(range(len(history)))  # no gaps, no torn batch
        assert run.metrics["loss"] == history[-1].value
        assert store.runs.search_runs("victim")[0].id == run_id
        assert store.runs.reap_stale_runs() == [run_id]
        reaped = store.runs.get_run(run_id)
        assert reaped.status == "killed" and reaped.end_time is not None
        assert f"pid {proc.pid}" in (reaped.error or "") and "died" in (reaped.error or "")
        assert store.runs.reap_stale_runs() == []


def test_reap_leaves_live_runs_alone(store: Store) -> None:
    run = store.runs.create_run("proj")  # this process is alive
    assert store.runs.reap_stale_runs() == []
    assert store.runs.get_run(run.id).status == "running"
