"""The loop's multivariate trigger: traffic whose marginals match training but whose features move together."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from loop_helpers import train_champion
from plain_project import PLAIN_SPEC, log_plain_traffic, plain_table, write_plain_project

from skloop.core._clock import utcnow
from skloop.monitor import compare_data
from skloop.workflows import Project, run_loop

CHUNK = 1500


@pytest.mark.long  # trains and retrains (~25 s here); the default run has the trigger on monitor_pages
def test_a_joint_change_fires_the_multivariate_trigger_only(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_plain_project(root)
    spec = PLAIN_SPEC.format(loop="").replace(
        "triggers: {performance: null}", "triggers: {performance: null, multivariate: true}"
    )
    (root / "skloop.yaml").write_text(spec)
    project = Project.load(root / "skloop.yaml")
    try:
        train_champion(project)
        t0 = utcnow() + timedelta(seconds=1)
        quiet = plain_table(CHUNK, seed=21)
        log_plain_traffic(project.store, quiet, time=t0)
        first = run_loop(project.spec, project.settings, store=project.store, now=t0 + timedelta(minutes=30))
        mv = next(t for t in first.triggers if t["name"] == "multivariate")
        assert not mv["fired"] and first.fired == (), (mv, first.details["monitor"])
        # x1 becomes a copy of x0: every marginal as in training, the joint distribution not
        joint = plain_table(CHUNK, seed=22)
        joint["x1"] = joint["x0"]
        train = plain_table(3000, seed=0)
        assert not compare_data(train, joint, target="y", columns=[f"x{i}" for i in range(7)]).drifted_features
        t1 = t0 + timedelta(days=1)
        log_plain_traffic(project.store, joint, time=t1)
        second = run_loop(project.spec, project.settings, store=project.store, now=t1 + timedelta(minutes=30))
        assert second.fired == ("multivariate",), second.reason
        fired = next(t for t in second.triggers if t["name"] == "multivariate")
        assert fired["value"] > fired["threshold"] >= 0.55 and "domain classifier AUC" in fired["detail"]
        assert not next(t for t in second.triggers if t["name"] == "drift")["fired"]
        recorded = second.details["monitor"]["multivariate"]
        assert recorded["drifted"] and recorded["auc"] == fired["value"] and recorded["n_rows"] == CHUNK
        assert second.retrain_run_id is not None
    finally:
        project.close()
