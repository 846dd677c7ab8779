"""``skloop init``: write a spec for the bundled example or for the user's own data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from skloop.core import SPEC_FILENAME, UsageError, parse_spec
from skloop.data import check_training_frame, infer_schema, read_table, write_example

__all__ = ["EXAMPLE_SPEC", "init_example", "init_from_data"]

EXAMPLE_SPEC = """\
# skloop spec for the bundled customer-churn example.
# Every key is documented in docs/spec.md; unknown keys are errors.
name: churn
seed: 42
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2            # kept out of the search, scored once at the end
features:                 # columns not listed here are inferred
  drop: []
pipeline:
  preprocessing: auto     # impute + scale numbers, one-hot categories, calendar features
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params:
      n_estimators: 60
      n_jobs: 1
search:
  strategy: grid          # none | grid | random | halving
  space:
    model__max_depth: [6, 12]
    model__min_samples_leaf: [1, 5]
  cv:
    folds: 5
  scoring: [roc_auc, accuracy, f1]
  refit: roc_auc
  n_jobs: -1
"""


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")


def init_example(directory: str | os.PathLike[str], *, n_rows: int = 5000, seed: int = 0, force: bool = False) -> Path:
    """Write ``<directory>/skloop.yaml`` and the bundled churn data; return the spec path."""
    root = Path(directory)
    spec_path = root / SPEC_FILENAME
    _refuse_overwrite(spec_path, force)
    root.mkdir(parents=True, exist_ok=True)
    write_example(root, n_rows=n_rows, seed=seed)
    spec_path.write_text(EXAMPLE_SPEC, encoding="utf-8")
    return spec_path


def init_from_data(
    data: str | os.PathLike[str],
    target: str,
    *,
    out: str | os.PathLike[str] = SPEC_FILENAME,
    name: str | None = None,
    force: bool = False,
) -> Path:
    """Infer the feature types of ``data`` and write a spec to edit; return its path."""
    out_path = Path(out)
    if out_path.is_dir():
        out_path = out_path / SPEC_FILENAME
    _refuse_overwrite(out_path, force)
    df = read_table(Path(data))
    task = check_training_frame(df, target)
    schema = infer_schema(df, target=target)
    ids = schema.by_kind("id")
    features: dict[str, Any] = {
        kind: schema.by_kind(kind) for kind in ("numeric", "categorical", "boolean", "datetime", "text")
    }
    features = {k: v for k, v in features.items() if v}
    features["drop"] = [c for c in ids if c != target]
    model = (
        "sklearn.ensemble.RandomForestClassifier"
        if task == "classification"
        else "sklearn.ensemble.RandomForestRegressor"
    )
    try:
        rel = os.path.relpath(Path(data).resolve(), out_path.resolve().parent)
    except ValueError:  # another drive on Windows
        rel = str(Path(data).resolve())
    stem = name or Path(data).name.split(".")[0]
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in stem).strip("-._") or "model"
    spec: dict[str, Any] = {
        "name": safe,
        "seed": 0,
        "task": task,
        "data": {"train": rel, "target": target, "holdout": 0.2},
        "features": features,
        "pipeline": {"preprocessing": "auto", "model": {"class": model, "params": {"n_estimators": 100}}},
        "search": {
            "strategy": "grid",
            "space": {"model__max_depth": [None, 8], "model__min_samples_leaf": [1, 5]},
            "cv": {"folds": 5},
            "n_jobs": -1,
        },
    }
    text = (
        f"# skloop spec inferred from {data} ({len(df)} rows); {task} of {target!r}.\n"
        "# Check the feature kinds, then run: skloop train\n" + yaml.safe_dump(spec, sort_keys=False)
    )
    parse_spec(text, str(out_path))  # what we write must load
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return out_path
