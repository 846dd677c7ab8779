"""``skloop init``: write a spec for the bundled example or for the user's own data."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import yaml

from skloop.core import SPEC_FILENAME, DataError, SpecError, UsageError, parse_spec
from skloop.data import check_training_frame, infer_schema, read_table, write_example

__all__ = [
    "CI_PROVIDERS",
    "EXAMPLE_SPEC",
    "GITHUB_WORKFLOW",
    "MAX_EXAMPLE_ROWS",
    "init_ci",
    "init_example",
    "init_from_data",
]

MAX_EXAMPLE_ROWS = 10_000_000
"""Most rows ``init --example`` generates (about 1 GB in memory while it writes them)."""

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
    """Write ``<directory>/skloop.yaml`` and the bundled churn data; return the spec path.

    Raises
    ------
    UsageError
        ``n_rows`` outside 1..MAX_EXAMPLE_ROWS, or a spec that exists without ``force``.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or not 1 <= n_rows <= MAX_EXAMPLE_ROWS:
        raise UsageError(f"--rows must be between 1 and {MAX_EXAMPLE_ROWS:,}; got {n_rows!r}")
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
    """Infer the feature types of ``data`` and write a spec to edit; return its path.

    Raises
    ------
    UsageError
        A file name that a (UTF-8) spec cannot hold, or a spec that exists without ``force``.
    DataError
        Data that cannot be trained on, or (a bug) a spec that would not load back.
    """
    for what, path in (("data file", data), ("spec file", out)):
        text = os.fspath(path)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(
                f"the {what} name '{shown}' is not valid UTF-8; a spec is UTF-8 text and cannot name it, "
                "so rename the file"
            ) from None
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
    try:
        parse_spec(text, str(out_path))  # what we write must load
    except SpecError as exc:
        raise DataError(
            f"the spec inferred from {data} would not load back, so {out_path} was not written: {exc}"
        ) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return out_path


# -- CI: a workflow that trains, validates and publishes the JUnit report -------------

CI_PROVIDERS = ("github",)
"""The CI systems ``skloop init --ci`` writes a workflow for."""

GITHUB_WORKFLOW = """\
# Written by `skloop init --ci github`: train the spec's model on every push and pull
# request, run `skloop validate` (gates, champion, behaviour, data contract) and
# publish its JUnit report. The job fails when a check fails (exit code 1).
#
# Each run starts from an empty .skloop store, so there is no champion to compare with;
# point SKLOOP_STORE_URL and SKLOOP_ARTIFACT_ROOT at your shared store (secrets) to
# validate against the model you serve.
name: skloop

on:
  push:
    branches: [main]
  pull_request:

jobs:
  validate:
    runs-on: ubuntu-latest
    # env:
    #   SKLOOP_STORE_URL: ${{{{ secrets.SKLOOP_STORE_URL }}}}
    #   SKLOOP_ARTIFACT_ROOT: ${{{{ secrets.SKLOOP_ARTIFACT_ROOT }}}}
    steps:
      - name: Check out
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install skloop
        run: pip install skloop
      - name: Train
        run: skloop train --spec {spec} --quiet
      - name: Validate
        run: skloop validate --spec {spec} --junit report.xml
      - name: Upload the validation report
        if: ${{{{ always() }}}}
        uses: actions/upload-artifact@v4
        with:
          name: skloop-validation-report
          path: report.xml
"""


def init_ci(
    directory: str | os.PathLike[str] = ".",
    provider: str = "github",
    *,
    spec: str = SPEC_FILENAME,
    force: bool = False,
) -> Path:
    """Write a CI workflow that trains, validates and publishes the report; return its path.

    Parameters
    ----------
    directory : path-like, default="."
        The repository root (GitHub reads ``.github/workflows`` there).
    provider : {"github"}
        The CI system.
    spec : str, default="skloop.yaml"
        The spec's path relative to ``directory``, as the workflow's commands name it.
    force : bool, default=False
        Overwrite an existing workflow.

    Returns
    -------
    Path
        ``<directory>/.github/workflows/skloop.yml``.

    Raises
    ------
    UsageError
        An unknown provider, or a workflow that exists without ``force``.
    """
    if provider not in CI_PROVIDERS:
        raise UsageError(f"--ci {provider!r} is not supported; use one of {', '.join(CI_PROVIDERS)}")
    path = Path(directory) / ".github" / "workflows" / "skloop.yml"
    _refuse_overwrite(path, force)
    quoted = shlex.quote(spec)  # a path with spaces stays one argument
    text = GITHUB_WORKFLOW.format(spec=quoted)
    yaml.safe_load(text)  # what we write must parse
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
