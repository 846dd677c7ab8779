"""The loop: triggers, guard rails, champion vs challenger, promotion, rollback, resumption."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loop_helpers import DEFAULT_LOOP, chunk, log_traffic, train_champion, write_loop_project

from skloop.core._clock import utcnow
from skloop.registry import Registry
from skloop.store import LoopLockedError
from skloop.workflows import Project, run_loop


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose v1 (trained at shift 0) is the champion; copied for each test."""
    root = tmp_path_factory.mktemp("loop") / "p"
    project = Project.load(write_loop_project(root))
    try:
        train_champion(project)
    finally:
        project.close()
    return root


def _project(trained: Path, tmp_path: Path, loop: str = DEFAULT_LOOP) -> Project:
    root = tmp_path / "p"
    shutil.copytree(trained, root)
    write_loop_project(root, loop=loop)  # same data, this test's policy
    return Project.load(root / "skloop.yaml")


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Iterator[Project]:
    p = _project(trained, tmp_path)
    yield p
    p.close()


def _start() -> datetime:
    return utcnow() + timedelta(seconds=1)  # after the champion's promotion


def _retrains(project: Project) -> int:
    return len(project.store.runs.search_runs("churn", filter="kind = 'retrain'"))


def test_a_stable_stream_triggers_nothing(project: Project) -> None:
    t = _start()
    log_traffic(project.store, chunk(500, seed=21, shift=0.0), time=t)
    decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
    assert decision.outcome == "none" and decision.fired == ()
    assert {t["name"] for t in decision.triggers} == {"drift", "top_features", "performance"}
    assert "no trigger fired" in decision.reason and _retrains(project) == 0
    steps = {s.step: s.status for s in project.store.loop.list_steps(decision.id)}
    assert steps["retrain"] == steps["evaluate"] == steps["promote"] == "skipped"
    [report] = project.store.reports.list_reports("churn")  # the monitor step stored what it judged
    assert (report.source_kind, report.source, report.version, report.drifted) == ("loop", decision.id, 1, False)
    assert decision.details["monitor"]["report_id"] == report.id and report.n_rows == 500


def test_a_better_challenger_is_promoted(project: Project) -> None:
    t = _start()
    log_traffic(project.store, chunk(700, seed=22, shift=1.0), time=t)
    decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
    assert decision.outcome == "promoted", decision.reason
    assert {"drift", "performance"} <= set(decision.fired)
    c = decision.comparison
    assert c is not None and c["method"] == "delong" and c["metric"] == "roc_auc"
    assert c["champion"] < 0.65 and c["challenger"] > 0.75 and c["better"]  # ~0.55 vs ~0.84 at scale
    assert Registry(project.store).aliases("churn")["champion"] == decision.challenger_version == 2
    run = project.store.runs.get_run(decision.retrain_run_id)
    assert run.kind == "retrain" and run.parent_run_id == project.store.models.get_model_version("churn", 1).run_id
    assert run.tags["loop.decision"] == decision.id and run.tags["loop.parent_version"] == "1"
    assert {"drift", "performance"} <= set(run.tags["loop.triggers"].split(","))
    assert int(run.tags["loop.train_rows"]) + int(run.tags["loop.holdout_rows"]) == 700
    events = Registry(project.store).history("churn", "champion")
    assert events[-1].to_version == 2 and decision.id in (events[-1].reason or "")
    # lineage: the challenger records the champion it was retrained from, and is found by its decision
    assert project.store.models.get_model_version("churn", 2).parent_version == 1
    assert project.store.models.get_model_version("churn", 1).parent_version is None
    produced = project.store.loop.decision_for_version("churn", 2)
    assert produced is not None and produced.id == decision.id and produced.outcome == "promoted"
    tree = Registry(project.store).lineage("churn/2")
    assert [(c.kind, c.id) for c in tree.children] == [
        ("run", decision.retrain_run_id), ("parent", "churn/1"), ("decision", decision.id),
    ]  # fmt: skip
    assert tree.children[2].attrs["outcome"] == "promoted" and "drift" in tree.children[2].attrs["fired"]


def test_a_drifted_stream_retrains_once_under_cooldown(trained: Path, tmp_path: Path) -> None:
    loop = DEFAULT_LOOP.replace("margin: 0.02, confidence", "margin: 0.5, confidence")  # nothing gets promoted
    project = _project(trained, tmp_path, loop)
    try:
        t = _start()
        log_traffic(project.store, chunk(600, seed=23, shift=1.0), time=t)
        first = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
        second = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=2))
        assert first.outcome == "kept" and "not shown better" in first.reason
        assert second.outcome == "blocked" and "cooldown" in second.reason and second.fired
        assert _retrains(project) == 1 and second.retrain_run_id is None
        steps = {s.step: s for s in project.store.loop.list_steps(second.id)}
        assert steps["monitor"].cached_from == first.id  # the same traffic and champion: not monitored again
        assert Registry(project.store).aliases("churn")["champion"] == 1
    finally:
        project.close()


def test_a_worse_challenger_is_kept(trained: Path, tmp_path: Path) -> None:
    loop = DEFAULT_LOOP + "  triggers: {drift: false, top_features: null, performance: null, schedule: 1h}\n"
    project = _project(trained, tmp_path, loop)
    try:
        t = _start()
        # the retraining rows have flipped labels; the newest (the holdout) are true
        log_traffic(project.store, chunk(400, seed=24, shift=0.0), time=t, flip=True)
        log_traffic(project.store, chunk(260, seed=25, shift=0.0), time=t + timedelta(minutes=5))
        decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
        assert decision.fired == ("schedule",) and decision.outcome == "kept"
        c = decision.comparison
        assert c is not None and c["difference"] < 0 and not c["better"]
        assert Registry(project.store).aliases("churn")["champion"] == 1
        assert project.store.models.get_model_version("churn", decision.challenger_version).aliases == ()
    finally:
        project.close()


def test_probation_failure_rolls_back(project: Project) -> None:
    t = _start()
    log_traffic(project.store, chunk(700, seed=22, shift=1.0), time=t)
    promoted = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
    assert promoted.outcome == "promoted"
    # v2 serves; its live labels say it is wrong most of the time
    log_traffic(project.store, chunk(300, seed=26, shift=1.0), time=t + timedelta(hours=2), flip=True)
    decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=3))
    assert decision.outcome == "rolled_back" and "probation failed" in decision.reason
    assert Registry(project.store).aliases("churn")["champion"] == 1
    assert decision.details["probation"]["version"] == 2 and decision.details["probation"]["n_labeled"] == 300
    last = Registry(project.store).history("churn", "champion")[-1]
    assert last.action == "rollback" and last.to_version == 1
    steps = {s.step: s.status for s in project.store.loop.list_steps(decision.id)}
    assert steps["monitor"] == steps["promote"] == "skipped"


def test_an_interrupted_loop_resumes_and_promotes_once(project: Project) -> None:
    t = _start()
    log_traffic(project.store, chunk(700, seed=22, shift=1.0), time=t)

    def interrupt(step: str, event: str, outputs: dict) -> None:  # type: ignore[type-arg]
        if step == "evaluate":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1), on_step=interrupt)
    [halted] = project.store.loop.list_decisions("churn", status="running")
    assert project.store.loop.get_loop_lock("churn") is None  # released on the way out
    events: dict[str, str] = {}
    decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(days=9),
                        on_step=lambda s, e, o: events.__setitem__(s, e))  # fmt: skip
    assert decision.id == halted.id and decision.evaluated_at == halted.evaluated_at  # resumed, same time
    assert events["retrain"] == events["evaluate"] == "resumed" and events["promote"] == "ran"
    assert decision.outcome == "promoted" and _retrains(project) == 1
    [report] = project.store.reports.list_reports("churn", source=decision.id)  # one per decision, resumed or not
    assert report.drifted is True and report.source_kind == "loop"
    moves = [e for e in Registry(project.store).history("churn", "champion") if decision.id in (e.reason or "")]
    assert len(moves) == 1


def test_one_loop_at_a_time(project: Project) -> None:
    project.store.loop.acquire_loop_lock("churn", "another loop", lease=timedelta(minutes=5))
    with pytest.raises(LoopLockedError, match="one loop per model"):
        run_loop(project.spec, project.settings, store=project.store)
    assert project.store.loop.list_decisions("churn") == []


def test_now_must_follow_the_champion(project: Project) -> None:
    decision = run_loop(project.spec, project.settings, store=project.store,
                        now=datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    assert decision.outcome == "none" and decision.details["monitor"]["n_rows"] == 0
