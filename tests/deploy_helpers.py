"""Helpers of the deployment tests: a project trained on a corpus table (diabetes: regression)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from skloop.core import Settings
from skloop.registry import Registry
from skloop.workflows import Project

SPEC = """\
name: {name}
seed: 3
data:
  train: data/train.parquet
  target: {target}
  holdout: 0.25
pipeline:
  model:
    class: {estimator}
    params: {{n_estimators: 10, min_samples_leaf: 3}}
search:
  strategy: none
  cv: {{folds: 2}}
  n_jobs: 1
"""


@dataclass(frozen=True)
class Trained:
    """A project whose model version 1 is champion."""

    root: Path
    spec: Path
    name: str
    target: str
    settings: Settings
    train: pd.DataFrame
    table: object


def corpus_table(name: str) -> object:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
    from corpus_tables import TABLES

    return TABLES[name]


def train_project(root: Path, table_name: str = "diabetes", estimator: str | None = None) -> Trained:
    """Train ``table_name`` (200 rows) in a project at ``root``, register and promote version 1."""
    table = corpus_table(table_name)
    kind = table.task  # type: ignore[attr-defined]
    estimator = estimator or (
        "sklearn.ensemble.RandomForestRegressor" if kind == "regression" else "sklearn.ensemble.RandomForestClassifier"
    )
    (root / "data").mkdir(parents=True)
    train = table.make(200, seed=0)  # type: ignore[attr-defined]
    train.to_parquet(root / "data" / "train.parquet", index=False)
    name = table_name.replace("_", "-")
    target = table.target  # type: ignore[attr-defined]
    spec = root / "skloop.yaml"
    spec.write_text(SPEC.format(name=name, target=target, estimator=estimator))
    with Project.load(spec) as project:
        result = project.train()
        assert result.model_version is not None, result.gate_failures
        Registry(project.store).promote(name, result.model_version, reason="deploy test")
        settings = project.settings
    return Trained(root, spec, name, target, settings, train, table)


def _serve_helpers():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).resolve().parent / "serve"))
    import serve_helpers

    return serve_helpers


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (``tests/serve/serve_helpers.py``)."""
    return int(_serve_helpers().free_port())


def wait_ready(port: int, proc: object, stderr: Path, timeout: float = 240.0) -> None:
    """Wait until the server on ``port`` is ready (``tests/serve/serve_helpers.py``)."""
    _serve_helpers().wait_ready(port, proc, stderr, timeout)
