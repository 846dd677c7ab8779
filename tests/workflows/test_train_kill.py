"""``skloop train`` killed with SIGKILL mid-search and mid-save leaves a consistent store.

After each kill: SQLite's integrity check passes, the next ``skloop runs`` marks the run
``killed`` (naming the dead pid), every recorded artifact (run artifacts, dataset
snapshots, model versions) is whole, every file under the artifact root hashes to its
address, and training again works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from small_project import SMALL_SPEC, write_small_project
from store_checks import check_consistent, query
from typer.testing import CliRunner

from skloop.cli import app

runner = CliRunner()

# a slower search (more trees, more candidates) so that each kill point is reached in time
SLOW = (
    SMALL_SPEC.format(extra="").replace("n_estimators: 15", "n_estimators: 120").replace("[4, 8]", "[2, 3, 4, 5, 6, 8]")
)


def _run_started(db: Path) -> bool:
    return bool(query(db, "SELECT 1 FROM runs WHERE status = 'running'"))


def _searching(db: Path) -> bool:  # running a while, nothing saved yet
    rows = query(db, "SELECT start_time FROM runs WHERE status = 'running'")
    return bool(rows) and not query(db, "SELECT 1 FROM artifacts")


def _saving(db: Path) -> bool:  # some artifacts recorded, the run not ended
    return bool(query(db, "SELECT 1 FROM artifacts")) and _run_started(db)


def _tmp_file(db: Path) -> bool:  # an artifact being written right now
    return any(p.name.startswith(".tmp-") for p in (db.parent / "artifacts").rglob(".tmp-*"))


KILL_POINTS: dict[str, tuple[Callable[[Path], bool], float]] = {
    # where, and how long to wait once there before the kill
    "run created": (_run_started, 0.0),
    "mid-search": (_searching, 1.5),
    "mid-save": (_saving, 0.0),
    "writing an artifact": (_tmp_file, 0.0),
}


def kill_training(base: Path, point: str) -> int:
    """Start ``skloop train`` in a process of its own, SIGKILL it at ``point``; return its pid."""
    reached, linger = KILL_POINTS[point]
    db = base / ".skloop" / "skloop.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "skloop.cli", "train", "-q"],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not reached(db):
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"training ended (exit {proc.returncode}) before {point!r}: {stderr[-2000:]}")
            assert time.monotonic() < deadline, f"training never reached {point!r}"
            time.sleep(0.005)
        time.sleep(linger)
        assert proc.poll() is None, f"training ended before the kill at {point!r}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    return proc.pid


def _killed_run(runs: list[dict[str, object]], pid: int) -> dict[str, object]:
    [run] = [r for r in runs if r["pid"] == pid]
    assert run["status"] == "killed", run
    assert f"pid {pid}" in str(run["error"]) and "died without ending the run" in str(run["error"])
    return run


def test_training_killed_mid_search_leaves_a_consistent_store(tmp_path: Path) -> None:
    base = tmp_path / "p"
    write_small_project(base, rows=600, spec=SLOW)
    pid = kill_training(base, "mid-search")
    runs = check_consistent(base)
    run = _killed_run(runs, pid)
    assert run["artifacts"] == {}  # killed before anything was saved


@pytest.mark.long
def test_training_killed_at_every_point_then_trains_again(tmp_path: Path) -> None:
    base = tmp_path / "p"
    write_small_project(base, rows=600, spec=SLOW)
    for point in KILL_POINTS:
        pid = kill_training(base, point)
        _killed_run(check_consistent(base), pid)
    trained = runner.invoke(app, ["train", "-q", "--spec", str(base / "skloop.yaml")])
    assert trained.exit_code == 0, trained.output
    runs = check_consistent(base)
    assert [r["status"] for r in runs].count("finished") == 1
    assert [r["status"] for r in runs].count("killed") == len(KILL_POINTS)
