"""Helpers of the monitoring pages' tests: a real model, monitored on shifted data, reports stored.

A churn random forest is trained on the bundled example (small: 1,200 rows, 15 trees,
3 folds), promoted, then monitored twice and stored as ``skloop monitor`` stores it:
on a table of the same population (no drift) and on a shifted table cut into windows
of 300 rows (drift, realised performance with intervals, the CBPE estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from skloop.data import make_churn
from skloop.store import StoredReport
from skloop.workflows import Project, init_example, monitor_model, save_report

FAST_SPEC = {
    "n_estimators: 60": "n_estimators: 15",
    "folds: 5": "folds: 3",
    "model__max_depth: [6, 12]": "model__max_depth: [6]",
    "model__min_samples_leaf: [1, 5]": "model__min_samples_leaf: [5]",
    "n_jobs: -1": "n_jobs: 1",
}
WINDOW = 300


@dataclass(frozen=True)
class Monitored:
    """The project and its two stored reports."""

    project: Project
    root: Path
    same: StoredReport  # the same population: no drift
    shifted: StoredReport  # a shifted table in windows of 300 rows: drift


def train_project(root: Path) -> Project:
    """The example project trained fast, version 1 promoted to champion."""
    spec = init_example(root, n_rows=1200, force=True)
    text = spec.read_text()
    for old, new in FAST_SPEC.items():
        assert old in text, old
        text = text.replace(old, new)
    spec.write_text(text)
    project = Project.load(spec)
    project.train()
    project.promote(1, reason="first")
    return project


def monitor_and_store(project: Project, root: Path) -> Monitored:
    """Monitor the champion on a same-population table and on a shifted one; store both."""
    same, shifted = root / "same.csv", root / "shifted.csv"
    make_churn(600, seed=5).to_csv(same, index=False)
    make_churn(900, seed=6, shift=1.0).to_csv(shifted, index=False)
    stored = []
    for path, window in ((same, None), (shifted, WINDOW)):
        report = monitor_model(project.store, "churn@champion", project.settings, current=path, window=window,
                               n_boot=100)  # fmt: skip
        stored.append(save_report(project.store, report, source_kind="file", source=path.name, window=window))
    return Monitored(project=project, root=root, same=stored[0], shifted=stored[1])
