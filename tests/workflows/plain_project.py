"""A project on an ordinary table the project did not generate: ids, a time column, a dropped leak.

Seven numeric features ``x0 .. x6``; the label depends on ``x0``, ``x4``, ``x5``, ``x6``.
``shift`` moves ``x0 .. x3`` by that many standard deviations (4 of 7 features drift,
the label's dependence on them unchanged). Besides the features the table has an id
(``row_id``), a time column (``timestamp``, ISO strings in the CSV) and ``leak``, a
near copy of the label the spec drops (``features.drop``), as a user would drop a
column of earlier predictions.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from skloop.registry import Registry
from skloop.store import Store

FEATURES = tuple(f"x{i}" for i in range(7))
DRIFTING = ("x0", "x1", "x2", "x3")

PLAIN_SPEC = """\
name: plain
seed: 5
data:
  train: data/plain.csv
  target: y
  id: row_id
  time: timestamp
  holdout: 0.25
features:
  drop: [leak]
pipeline:
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {{n_estimators: 25, min_samples_leaf: 5}}
search:
  strategy: none
  cv: {{folds: 2}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
loop:
  guards: {{cooldown: 6h, max_per_day: 3}}
  data: {{window: 30d, holdout: 0.4, min_rows: 200, include_training: false}}
  compare: {{margin: 0.02, confidence: 0.95, n_boot: 200}}
  triggers: {{performance: null}}
{loop}
"""


def plain_table(n: int, *, seed: int, shift: float = 0.0, start: str = "2024-01-01") -> pd.DataFrame:
    """``n`` rows; ids unique to the seed (labels join by id), one row per hour from ``start``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, : len(DRIFTING)] += shift
    logit = 0.8 * x[:, 0] + 1.6 * x[:, 4] + 1.2 * x[:, 5] - 1.0 * x[:, 6]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame.insert(0, "row_id", [f"R{seed}-{i}" for i in range(n)])
    frame["timestamp"] = pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%dT%H:%M:%S")
    frame["leak"] = y + rng.normal(0, 0.05, size=n)
    frame["y"] = y
    return frame


def write_plain_project(root: Path, *, rows: int = 3000, loop: str = "") -> Path:
    """The project's data and spec (``loop`` adds keys under ``loop:``); returns the spec path."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    plain_table(rows, seed=0).to_csv(root / "data" / "plain.csv", index=False)
    path = root / "skloop.yaml"
    path.write_text(PLAIN_SPEC.format(loop=loop.rstrip("\n")))
    return path


def log_plain_traffic(store: Store, frame: pd.DataFrame, *, time: datetime, labels: bool = True) -> int:
    """Score ``frame`` with ``plain@champion`` and store each row as the server logs it (every column sent)."""
    registry = Registry(store)
    version = registry.resolve("plain@champion")
    model = registry.load_model(version.ref)
    sent = frame.drop(columns=["y"])
    proba = model.predict_proba(sent[list(FEATURES)])
    pred = model.classes_[proba.argmax(axis=1)]
    request = uuid.uuid4().hex
    records = []
    for i, row in enumerate(sent.to_dict("records")):
        probabilities = {str(c): float(p) for c, p in zip(model.classes_, proba[i], strict=True)}
        records.append({
            "request_id": request, "row": i, "time": time + timedelta(milliseconds=i), "model": "plain",
            "version": version.version, "entity_id": row["row_id"], "inputs": row,
            "outputs": {"prediction": int(pred[i]), "probabilities": probabilities},
        })  # fmt: skip
    store.predictions.insert_predictions(records)
    if labels:
        pairs = zip(frame["row_id"], frame["y"], strict=True)
        store.predictions.insert_labels("plain", [{"entity_id": e, "label": int(v)} for e, v in pairs])
    return len(records)


__all__ = [
    "DRIFTING",
    "FEATURES",
    "log_plain_traffic",
    "plain_table",
    "write_plain_project",
]
