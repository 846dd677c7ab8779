"""Training keeps the monitor's compact reference, so drift is measured without a data snapshot."""

from __future__ import annotations

from pathlib import Path

from small_project import write_small_project

from skloop.data import make_churn
from skloop.monitor import ReferenceSummary
from skloop.workflows import Project, monitor_model


def test_without_a_snapshot_the_stored_reference_is_used(tmp_path: Path) -> None:
    spec = write_small_project(tmp_path, rows=800)
    spec.write_text(spec.read_text().replace("  holdout: 0.2\n", "  holdout: 0.2\n  snapshot: false\n"))
    with Project.load(spec) as project:
        result = project.train()
        summary = ReferenceSummary.from_json(project.store.runs.load_artifact(result.run_id, "reference.json").decode())
        assert "monthly_charges" in summary.schema().names
        stable = monitor_model(project.store, "churn", project.settings, current=make_churn(800, seed=5))
        shifted = monitor_model(project.store, "churn", project.settings, current=make_churn(800, seed=5, shift=1.0))
    assert "training reference" in stable.reference_name
    assert not stable.drift.drifted
    assert shifted.drift.drifted and "contract" in shifted.drift.drifted_features


def test_prediction_drift_against_the_holdout_outputs(tmp_path: Path) -> None:
    with Project.load(write_small_project(tmp_path, rows=1500)) as project:
        project.train()
        stable = monitor_model(project.store, "churn", project.settings, current=make_churn(1500, seed=11))
        shifted = monitor_model(project.store, "churn", project.settings, current=make_churn(1500, seed=11, shift=1.0))
    names = {p.name for p in stable.drift.predictions}
    assert names == {"proba_0", "proba_1"}
    assert not stable.drift.prediction_drifted
    assert shifted.drift.prediction_drifted
