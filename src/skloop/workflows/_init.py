"""``skloop init``: write a spec for the bundled example or for the user's own data."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from skloop.core import SPEC_FILENAME, DataError, SpecError, UsageError, parse_spec
from skloop.data import (
    Finding,
    check_training_frame,
    coerce_numbers,
    find_dirty_numbers,
    find_id_column,
    find_leaks,
    find_time_column,
    infer_schema,
    read_table,
    write_example,
)

__all__ = [
    "CI_PROVIDERS",
    "EXAMPLE_SPEC",
    "GITHUB_WORKFLOW",
    "MAX_EXAMPLE_ROWS",
    "InitResult",
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
  strategy: grid          # none | grid | random | halving | optuna (extra)
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


@dataclass(frozen=True)
class InitResult:
    """What ``skloop init --data`` wrote and found.

    Attributes
    ----------
    spec_path : Path
        The spec written.
    task : str
        ``classification`` or ``regression``.
    findings : tuple of Finding
        The id and time columns, suspected leaks (dropped) and numbers with bad values
        (made numeric), each with a one-line message and its evidence; also written as
        comments in the spec.
    """

    spec_path: Path
    task: str
    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"spec": str(self.spec_path), "task": self.task, "findings": [f.to_dict() for f in self.findings]}


_FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime", "text")


def _item(value: str) -> str:
    return yaml.safe_dump([value], default_flow_style=False, allow_unicode=True)


def _comment(text: str, indent: str = "") -> str:
    return "".join(f"{indent}# {line}\n" for line in text.splitlines())


def _features_yaml(features: dict[str, list[str]], notes: dict[str, str]) -> str:
    lines = ["features:                 # columns not listed here are inferred\n"]
    for kind, columns in features.items():
        if not columns and kind != "drop":
            continue
        if not columns:
            lines.append(f"  {kind}: []\n")
            continue
        lines.append(f"  {kind}:\n")
        for column in columns:
            if column in notes:
                lines.append(_comment(notes[column], "  "))
            lines.append(f"  {_item(column)}")
    return "".join(lines)


def _plan(df: pd.DataFrame, target: str, task: str, seed: int) -> tuple[dict[str, Any], dict[str, Any], list[Finding]]:
    """The data section, the features section and the findings for ``df``."""
    findings: list[Finding] = []
    id_found = find_id_column(df, exclude=[target])
    id_column = id_found.column if id_found else None
    time_found = find_time_column(df, exclude=[c for c in (target, id_column) if c])
    time_column = time_found.column if time_found and time_found.evidence.get("set") else None
    findings += [f for f in (id_found, time_found) if f is not None]
    schema = infer_schema(df, target=target, id_column=id_column, time_column=time_column)
    role = {c.name: c.role for c in schema.columns}
    kind_of = {c.name: c.kind for c in schema.columns if role[c.name] == "feature"}
    dirty = find_dirty_numbers(df, [c for c, k in kind_of.items() if k in ("categorical", "text", "id")])
    for finding in dirty:
        kind_of[finding.column] = "numeric"
    findings += dirty
    frame, _ = coerce_numbers(df, [f.column for f in dirty])
    candidates = [c for c, k in kind_of.items() if k != "id"]
    leaks = find_leaks(frame, target, task, candidates, seed=seed)
    findings += leaks
    leaked = {f.column for f in leaks}
    features: dict[str, Any] = {
        kind: [c for c, k in kind_of.items() if k == kind and c not in leaked] for kind in _FEATURE_KINDS
    }
    # other identifier-like columns (distinct strings) say nothing about new rows
    features["drop"] = [c for c, k in kind_of.items() if k == "id" or c in leaked]
    data: dict[str, Any] = {"target": target}
    if id_column:
        data["id"] = id_column
    if time_column:
        data["time"] = time_column
    return data, features, findings


def init_from_data(
    data: str | os.PathLike[str],
    target: str,
    *,
    out: str | os.PathLike[str] = SPEC_FILENAME,
    name: str | None = None,
    force: bool = False,
    seed: int = 0,
) -> InitResult:
    """Infer the columns' roles and kinds in ``data`` and write a spec to check.

    Beyond each feature's kind (:func:`skloop.data.infer_schema`), it decides what a
    careful person would before training: the target is never a feature; the row
    identifier becomes ``data.id`` (:func:`skloop.data.find_id_column`) and the time of
    each row ``data.time`` (:func:`skloop.data.find_time_column`), neither a feature;
    suspected leaks — another model's output, or a column that alone predicts the
    target almost perfectly (:func:`skloop.data.find_leaks`) — go to ``features.drop``;
    text columns that are numbers but for a few values are declared numeric, the bad
    values read as missing (:func:`skloop.data.find_dirty_numbers`). Each decision is
    returned as a finding and written as a comment in the spec, with its evidence.

    Parameters
    ----------
    data : path-like
        A CSV or Parquet file.
    target : str
        The column to predict.
    out : path-like, default="skloop.yaml"
        Where to write the spec (a folder gets ``skloop.yaml`` inside).
    name : str, optional
        The model's name (default: the file's stem).
    force : bool, default=False
        Overwrite an existing spec.
    seed : int, default=0
        The spec's seed, also seeding the leak checks.

    Returns
    -------
    InitResult
        The spec's path, the task and the findings.

    Raises
    ------
    UsageError
        A file name that a (UTF-8) spec cannot hold, or a spec that exists without ``force``.
    DataError
        The table cannot be trained on (see :func:`skloop.data.check_training_frame`), or
        (a bug) the spec would not load back.
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
    data_section, features, findings = _plan(df, target, task, seed)
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
    head: dict[str, Any] = {
        "name": safe,
        "seed": seed,
        "task": task,
        "data": {"train": rel, **data_section, "holdout": 0.2},
    }
    tail: dict[str, Any] = {
        "pipeline": {"preprocessing": "auto", "model": {"class": model, "params": {"n_estimators": 100}}},
        "search": {
            "strategy": "grid",
            "space": {"model__max_depth": [None, 8], "model__min_samples_leaf": [1, 5]},
            "cv": {"folds": 5},
            "n_jobs": -1,
        },
    }
    notes = {f.column: f.message for f in findings if f.kind in ("leak", "dirty_numeric")}
    roles = "".join(_comment(f.message) for f in findings if f.kind in ("id", "time"))
    text = (
        f"# skloop spec inferred from {data} ({len(df)} rows); {task} of {target!r}.\n"
        "# Check the feature kinds, then run: skloop train\n"
        + roles
        + yaml.safe_dump(head, sort_keys=False, allow_unicode=True)
        + _features_yaml(features, notes)
        + yaml.safe_dump(tail, sort_keys=False, allow_unicode=True)
    )
    try:
        parse_spec(text, str(out_path))  # what we write must load
    except SpecError as exc:
        raise DataError(
            f"the spec inferred from {data} would not load back, so {out_path} was not written: {exc}"
        ) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return InitResult(out_path, task, tuple(findings))


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
