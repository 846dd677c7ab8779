"""The loop on an ordinary table: it judges the latest window, and retrains a spec that drops columns."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from loop_helpers import train_champion
from plain_project import DRIFTING, FEATURES, log_plain_traffic, plain_table, write_plain_project

from skloop.core._clock import utcnow
from skloop.monitor import compare_data
from skloop.registry import Signature
from skloop.workflows import Project, run_loop

CHUNK = 2000


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose v1 is the champion; copied for each test."""
    root = tmp_path_factory.mktemp("plain") / "p"
    project = Project.load(write_plain_project(root))
    try:
        train_champion(project)
    finally:
        project.close()
    return root


def _project(trained: Path, tmp_path: Path, loop: str = "") -> Project:
    root = tmp_path / "p"
    shutil.copytree(trained, root)
    write_plain_project(root, loop=loop)  # same data, this test's policy
    return Project.load(root / "skloop.yaml")


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Iterator[Project]:
    p = _project(trained, tmp_path)
    yield p
    p.close()


def test_a_spec_that_drops_a_column_retrains(project: Project) -> None:
    # the logged rows carry every column sent, 'leak' too; the model reads x0..x6 only
    t = utcnow() + timedelta(seconds=1)
    log_plain_traffic(project.store, plain_table(CHUNK, seed=11, shift=1.0), time=t)
    decision = run_loop(project.spec, project.settings, store=project.store, now=t + timedelta(hours=1))
    assert "drift" in decision.fired and decision.retrain_run_id is not None, decision.reason
    assert decision.outcome in ("promoted", "kept"), decision.reason
    run = project.store.runs.get_run(decision.retrain_run_id)
    assert run.status == "finished" and run.kind == "retrain"
    challenger = project.store.models.get_model_version("plain", decision.challenger_version)
    champion = project.store.models.get_model_version("plain", 1)
    inputs = [c.name for c in Signature.from_dict(challenger.signature).inputs]
    assert inputs == [c.name for c in Signature.from_dict(champion.signature).inputs] == list(FEATURES)
    # the run records the spec it ran, which reproduces it from its own snapshot
    assert run.spec["features"]["drop"] == []


@pytest.mark.parametrize(
    ("window", "n_clean", "every"),
    [(None, 5, timedelta(days=1)), ("2000 rows", 2, timedelta(hours=1))],
    ids=["default-1d", "rows"],
)
def test_the_loop_retrains_at_the_first_drifted_chunk(
    trained: Path, tmp_path: Path, window: str | None, n_clean: int, every: timedelta
) -> None:
    """Equal chunks, then chunks drifted on 4 of 7 features: the retrain comes with the first drifted one.

    Judged on all traffic since the champion took over, the drift of one chunk among
    the clean ones is diluted below every threshold (the long view, recorded too).
    Hourly chunks under a row window: a 1d window would have diluted them as well.
    """
    project = _project(trained, tmp_path, loop=f"  monitor_window: {window}" if window else "")
    try:
        t0 = utcnow() + timedelta(seconds=1)
        shifts = [0.0] * n_clean + [0.3] * 5
        train = plain_table(3000, seed=0)
        decisions = []
        for i, shift in enumerate(shifts):
            frame = plain_table(CHUNK, seed=100 + i, shift=shift)
            if shift:  # each drifted chunk alone is flagged on exactly the drifted features
                assert compare_data(train, frame, target="y", columns=FEATURES).drifted_features == list(DRIFTING)
            at = t0 + i * every
            log_plain_traffic(project.store, frame, time=at)
            decision = run_loop(project.spec, project.settings, store=project.store, now=at + timedelta(minutes=30))
            decisions.append(decision)
            if decision.retrain_run_id is not None:
                break
        assert len(decisions) == n_clean + 1, [d.reason for d in decisions]  # not before, and at the first drifted
        for d in decisions[:n_clean]:
            assert d.fired == () and d.details["monitor"]["n_rows"] == CHUNK
        last = decisions[-1]
        assert "drift" in last.fired and last.retrain_run_id is not None
        monitor = last.details["monitor"]
        assert monitor["window"] == (window or "1d") and monitor["n_rows"] == CHUNK
        # exactly the model's input features are judged ('leak', the id, time and target are not)
        assert monitor["drift"]["drifted_features"] == list(DRIFTING) and monitor["drift"]["n_features"] == 7
        # the long view is recorded too: every chunk since the champion took over, the drift diluted in it
        long = monitor["long_view"]
        assert long["n_rows"] == (n_clean + 1) * CHUNK and long["drift"]["n_features"] == 7
        assert long["drift"]["share"] < monitor["drift"]["share"] and not long["drift"]["drifted"]
        drift = next(t for t in last.triggers if t["name"] == "drift")
        assert "latest" in drift["detail"] and "since the champion took over" in drift["detail"]
    finally:
        project.close()
