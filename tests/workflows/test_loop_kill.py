"""A loop killed with SIGKILL between evaluate and promote resumes, promotes once, and leaves the store consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loop_helpers import chunk, log_traffic, train_champion, write_loop_project

from skloop.core._clock import utcnow
from skloop.registry import Registry
from skloop.store import Store
from skloop.workflows import Project, run_loop

SKLOOP = Path(sys.executable).parent / "skloop"


def _wait_for(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_killed_after_evaluate_resumes_and_promotes_once(tmp_path: Path) -> None:
    spec = write_loop_project(tmp_path / "p")
    with Project.load(spec) as project:
        train_champion(project)
        log_traffic(project.store, chunk(700, seed=22, shift=1.0), time=utcnow())
        settings = project.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env["SKLOOP_LOOP_PAUSE_AFTER"] = "evaluate:300"  # sleeps right after evaluate: the kill lands there
    proc = subprocess.Popen([str(SKLOOP), "loop", "run", "churn", "-q"], cwd=spec.parent, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        with Store.open(settings) as store:

            def evaluated() -> bool:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "the loop died"
                running = store.loop.list_decisions("churn", status="running")
                return bool(running) and any(
                    s.step == "evaluate" and s.status == "finished" for s in store.loop.list_steps(running[0].id)
                )

            _wait_for(evaluated)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    with Project.load(spec) as project:
        store = project.store
        [halted] = store.loop.list_decisions("churn", status="running")
        assert halted.challenger_version == 2 and Registry(store).aliases("churn")["champion"] == 1
        lock = store.loop.get_loop_lock("churn")
        assert lock is not None and lock.pid == proc.pid  # the dead process still "holds" it
        decision = run_loop(project.spec, project.settings, store=store)
        assert decision.id == halted.id and decision.outcome == "promoted"
        assert Registry(store).aliases("churn")["champion"] == 2
        moves = [e for e in Registry(store).history("churn", "champion") if e.to_version == 2]
        assert len(moves) == 1 and decision.id in (moves[0].reason or "")
        steps = {s.step: s.status for s in store.loop.list_steps(decision.id)}
        assert set(steps.values()) == {"finished"} and len(steps) == 7
        assert len(store.runs.search_runs("churn", filter="kind = 'retrain'")) == 1
        assert store.runs.search_runs("churn", filter="status = 'running'") == []
        assert store.loop.get_loop_lock("churn") is None and store.loop.list_decisions("churn", status="running") == []
        again = run_loop(project.spec, project.settings, store=store)  # a new decision, nothing to redo
        assert again.id != decision.id and again.outcome == "none"
        assert len([e for e in Registry(store).history("churn", "champion") if e.to_version == 2]) == 1
