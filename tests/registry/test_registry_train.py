"""Training registers its model: signature, importance and card stored, gates applied."""

from __future__ import annotations

from pathlib import Path

from skloop.registry import Registry
from skloop.workflows import Project, init_example


def test_training_registers_a_rejected_version_when_gates_fail(tmp_path: Path) -> None:
    spec_path = init_example(tmp_path, n_rows=400)
    text = spec_path.read_text()
    spec_path.write_text(text + "\ngates:\n  min:\n    holdout_roc_auc: 0.999\n")
    with Project.load(spec_path) as project:
        result = project.train(n_jobs=1)
        assert result.model_version == 1
        assert len(result.gate_failures) == 1 and result.gate_failures[0].startswith("holdout_roc_auc 0.")
        assert result.gate_failures[0].endswith(" < 0.999")
        version = Registry(project.store).resolve(f"{project.spec.name}/1")
        assert version.status == "rejected" and version.run_id == result.run_id
        assert version.signature and version.importance and version.card and version.card.startswith("#")
        assert version.dataset_fingerprint == result.dataset_fingerprint
