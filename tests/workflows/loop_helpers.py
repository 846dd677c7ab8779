"""A small churn project for the loop: train at shift 0, promote, then log traffic with labels."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from skloop.data import make_churn
from skloop.registry import Registry
from skloop.store import Store
from skloop.workflows import Project

LOOP_SPEC = """\
name: churn
seed: 3
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {{n_estimators: 25, min_samples_leaf: 3}}
search:
  strategy: none
  cv: {{folds: 2}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
loop:
{loop}
"""

DEFAULT_LOOP = """\
  guards: {cooldown: 6h, max_per_day: 3}
  data: {window: 30d, holdout: 0.4, min_rows: 200, include_training: false}
  compare: {margin: 0.02, confidence: 0.95, n_boot: 200}
  probation: {window: 3d, margin: 0.02, min_labels: 100}
"""


def write_loop_project(root: Path, *, rows: int = 800, loop: str = DEFAULT_LOOP) -> Path:
    """A project with churn data at shift 0 and a fast spec; returns the spec path."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    make_churn(rows, seed=0).to_csv(root / "data" / "churn.csv", index=False)
    path = root / "skloop.yaml"
    path.write_text(LOOP_SPEC.format(loop=loop.rstrip("\n")))
    return path


def train_champion(project: Project) -> int:
    """Train on the spec's data and promote the version to champion."""
    result = project.train()
    assert result.model_version is not None
    Registry(project.store).promote(project.spec.name, result.model_version, reason="first")
    return result.model_version


def chunk(n: int, *, seed: int, shift: float) -> pd.DataFrame:
    """``make_churn`` rows with customer ids unique to the seed (labels join by id)."""
    frame = make_churn(n, seed=seed, shift=shift)
    frame["customer_id"] = [f"S{seed}-{i}" for i in range(n)]
    return frame


def log_traffic(
    store: Store,
    frame: pd.DataFrame,
    *,
    time: datetime,
    name: str = "churn",
    alias: str = "champion",
    labels: bool = True,
    flip: bool = False,
) -> int:
    """Score ``frame`` with ``name@alias``, store the predictions at ``time`` and (optionally) the labels."""
    registry = Registry(store)
    version = registry.resolve(f"{name}@{alias}")
    model = registry.load_model(version.ref)
    X = frame.drop(columns=["churned"])
    pred = model.predict(X)
    proba = model.predict_proba(X)
    request = uuid.uuid4().hex
    records = []
    for i, row in enumerate(X.astype(object).where(X.notna(), None).to_dict("records")):
        row = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        records.append({
            "request_id": request, "row": i, "time": time, "model": name, "version": version.version,
            "entity_id": row["customer_id"], "inputs": row,
            "outputs": {"prediction": int(pred[i]), "probabilities": {str(c): float(p) for c, p in
                                                                      zip(model.classes_, proba[i], strict=True)}},
        })  # fmt: skip
    store.predictions.insert_predictions(records)
    if labels:
        y = frame["churned"].to_numpy()
        if flip:
            y = 1 - y
        store.predictions.insert_labels(name, [{"entity_id": e, "label": int(v)} for e, v in
                                   zip(frame["customer_id"], y, strict=True)])  # fmt: skip
    return len(records)


__all__ = ["DEFAULT_LOOP", "chunk", "log_traffic", "np", "train_champion", "write_loop_project"]
