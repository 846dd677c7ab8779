"""Writing a small example project, fast enough to train many times."""

from __future__ import annotations

from pathlib import Path

from skloop.workflows import init_example

SMALL_SPEC = """\
name: churn
seed: 7
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {{n_estimators: 15}}
{extra}search:
  strategy: grid
  space:
    model__max_depth: [4, 8]
  cv: {{folds: 3}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
"""


def write_small_project(root: Path, *, rows: int = 1200, extra: str = "", spec: str | None = None) -> Path:
    init_example(root, n_rows=rows, force=True)
    path = root / "skloop.yaml"
    path.write_text(spec if spec is not None else SMALL_SPEC.format(extra=extra))
    return path
