"""Reproduce a run from its recorded spec, data snapshot and seed, and compare scores."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from skloop.core import DataError, Settings, SqlSource, code_version, environment, spec_from_dict
from skloop.data import fingerprint, read_table, redact_url
from skloop.store import Store
from skloop.workflows._progress import Progress
from skloop.workflows._train import train

__all__ = ["ReproduceResult", "reproduce"]


@dataclass(frozen=True)
class ReproduceResult:
    """The outcome of ``skloop reproduce``.

    Attributes
    ----------
    original_run_id, new_run_id : str
        The run reproduced and the run that reproduced it.
    identical : bool
        Whether every cross-validation fold score matched exactly.
    compared : int
        How many fold scores were compared.
    mismatches : list of dict
        ``metric``, ``fold``, ``original``, ``reproduced`` for each differing score.
    differences : dict
        What differs between the two runs' inputs: ``data`` (fingerprints),
        ``code`` (commits), ``packages`` (name → [original, now]).
    """

    original_run_id: str
    new_run_id: str
    identical: bool
    compared: int
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    differences: dict[str, Any] = field(default_factory=dict)


def training_frame(store: Store, run: Any, settings: Settings, spec: Any) -> tuple[pd.DataFrame, str]:
    """The training table of ``run`` (its snapshot, else its source now) and the recorded fingerprint."""
    inputs = [d for d in run.datasets if getattr(d, "role", "train") == "train"]
    if not inputs:
        raise DataError(f"run {run.id} recorded no training dataset; it cannot be reproduced")
    record = store.datasets.get_dataset(inputs[0].fingerprint)
    if record.snapshot_sha256:
        frame = pd.read_parquet(io.BytesIO(store.artifacts.get_bytes(record.snapshot_sha256)))
    else:
        train = spec.data.train
        if isinstance(train, SqlSource) and redact_url(train.url) == train.url and ":***@" in train.url:
            raise DataError(
                f"run {run.id} kept no data snapshot, and its spec snapshot hides the password of "
                f"data.train.url ({train.url}), so its data cannot be read again; "
                "train with data.snapshot: true, or give the database password outside the URL "
                "(e.g. PGPASSWORD or ~/.pgpass)"
            )
        frame = read_table(train, settings.base_dir)
    return frame, record.fingerprint


def reproduce(run_id: str, settings: Settings, *, store: Store, progress: Progress | None = None) -> ReproduceResult:
    """Rerun ``run_id`` from its snapshot and spec, and compare every CV fold score.

    Raises
    ------
    NotFoundError
        When the run does not exist.
    """
    original = store.runs.get_run(run_id)
    if original.spec is None:
        raise DataError(f"run {original.id} has no spec snapshot; it cannot be reproduced")
    spec = spec_from_dict(original.spec, file=f"spec snapshot of run {original.id}")
    frame, recorded_fp = training_frame(store, original, settings, spec)
    differences: dict[str, Any] = {}
    current_fp = fingerprint(frame)
    if current_fp != recorded_fp:
        differences["data"] = {"original": recorded_fp, "now": current_fp}
    code = code_version(settings.base_dir)
    if original.code_commit and code.commit and original.code_commit != code.commit:
        differences["code"] = {"original": original.code_commit, "now": code.commit}
    before = (original.environment or {}).get("packages", {})
    now = environment()["packages"]
    assert isinstance(now, dict)
    changed = {k: [before.get(k), now.get(k)] for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)}
    if changed:
        differences["packages"] = changed
    result = train(
        spec, settings, store=store, progress=progress, frame=frame, kind="reproduce", parent_run_id=original.id
    )
    mismatches: list[dict[str, Any]] = []
    compared = 0
    fold_keys = sorted(k for k in original.metrics if k.startswith("cv_") and k.endswith("_fold"))
    for key in fold_keys:
        old = {m.step: m.value for m in store.runs.get_metric_history(original.id, key)}
        new = {m.step: m.value for m in store.runs.get_metric_history(result.run_id, key)}
        for step in sorted(set(old) | set(new)):
            compared += 1
            if old.get(step) != new.get(step):
                mismatches.append(
                    {
                        "metric": key.removesuffix("_fold").removeprefix("cv_"),
                        "fold": step,
                        "original": old.get(step),
                        "reproduced": new.get(step),
                    }
                )
    return ReproduceResult(
        original_run_id=original.id,
        new_run_id=result.run_id,
        identical=not mismatches and compared > 0,
        compared=compared,
        mismatches=mismatches,
        differences=differences,
    )
