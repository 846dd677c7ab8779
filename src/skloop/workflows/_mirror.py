"""Mirror skloop's runs, versions and alias moves to an MLflow tracking server.

With ``tracking.mlflow_uri`` (or ``SKLOOP_MLFLOW_URI``), the store writes a row in its
outbox (``store.mirror``) in the same transaction as every run that ends, version
registered and alias moved. :func:`drain` copies the due rows to the server, oldest
first, with :class:`skloop.integrations.MlflowMirror`:

``run``
    params, every point of every metric history (by step), tags, the input datasets
    (fingerprint as digest, with schema and profile) and, for a run that saved a model,
    the MLflow-format model (:func:`skloop.registry.export_mlflow`, with the signature
    of the version registered from the run) under ``model/``.
``version``
    a version of the registered model of the same name whose source is the mirrored
    run's ``model/``, tagged ``skloop.version`` (MLflow numbers its versions itself).
``alias``
    MLflow's alias set to the version skloop's alias holds now (deleted if unset).

A failure counts an attempt, keeps the message (``skloop mirror status``) and waits
:func:`backoff` before the next try; nothing is dropped. Training never waits for the
server: :func:`start_background_drain` starts a detached ``skloop mirror drain``
process after a command that queued rows.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import skloop
from skloop.core import DEFAULT_HOME, Settings, SkloopError, utcnow
from skloop.integrations import DatasetInfo, MlflowMirror, RunRecord
from skloop.registry import MODEL_ARTIFACTS, Trust, load_model
from skloop.store import MirrorItem, Run, Store

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_WAIT",
    "MAX_BACKOFF",
    "DrainResult",
    "backoff",
    "drain",
    "queued",
    "run_record",
    "start_background_drain",
]

MAX_BACKOFF = 300.0
"""Seconds: the longest wait between two tries of a row."""
_FIRST_BACKOFF = 2.0
DRAIN_LOG = "mirror-drain.log"
"""The background drainers' warnings (failed tries), under the project's ``.skloop/``."""
DEFAULT_WAIT = 120.0
"""Seconds a background drainer keeps trying rows that failed before it leaves them to the next one."""


def backoff(attempts: int) -> float:
    """Seconds before try ``attempts + 1`` of a row that failed ``attempts`` times (2, 4, 8, ... 300).

    Examples
    --------
    >>> [backoff(n) for n in (1, 2, 3, 10)]
    [2.0, 4.0, 8.0, 300.0]
    """
    return float(min(MAX_BACKOFF, _FIRST_BACKOFF * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class DrainResult:
    """What one :func:`drain` did."""

    done: int
    failed: int
    pending: int
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"done": self.done, "failed": self.failed, "pending": self.pending, "errors": list(self.errors)}


def _ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def run_record(store: Store, run: Run) -> RunRecord:
    """The MLflow record of ``run``: params, tags, every metric point, input datasets."""
    metrics = [
        (m.key, m.value, m.step, int(m.timestamp.timestamp() * 1000))
        for key in sorted(run.metrics)
        for m in store.runs.get_metric_history(run.id, key)
    ]
    records = {d.fingerprint: d for d in store.datasets.get_datasets(i.fingerprint for i in run.datasets)}
    datasets = []
    for used in run.datasets:
        d = records.get(used.fingerprint)
        if d is None:
            continue
        datasets.append(
            DatasetInfo(
                name=Path(d.source).name[:500] or run.project,
                fingerprint=d.fingerprint,
                source=json.dumps({"uri": d.source}),
                schema=json.dumps({"n_rows": d.n_rows, "n_columns": d.n_columns, "columns": d.schema}),
                profile=json.dumps({"fingerprint": d.fingerprint, "num_rows": d.n_rows}),
                role=used.role,
            )
        )
    tags = {
        **run.tags, "skloop.kind": run.kind, "skloop.project": run.project,
        **({"mlflow.source.git.commit": run.code_commit} if run.code_commit else {}),
        **({"skloop.code_dirty": str(bool(run.code_dirty)).lower()} if run.code_dirty is not None else {}),
        **({"skloop.parent_run_id": run.parent_run_id} if run.parent_run_id else {}),
        **({"skloop.dataset_fingerprint": run.datasets[0].fingerprint} if run.datasets else {}),
        **({"skloop.error": run.error[-4000:]} if run.error else {}),
    }  # fmt: skip
    return RunRecord(
        run_id=run.id, experiment=run.project, status=run.status, start_ms=_ms(run.start_time) or 0,
        end_ms=_ms(run.end_time), name=run.name or f"{run.kind}-{run.id[:8]}", params=dict(run.params), tags=tags,
        metrics=metrics, datasets=tuple(datasets),
    )  # fmt: skip


class _Pusher:
    """Copies outbox rows of one target; makes each MLflow model once, in a temporary folder."""

    def __init__(self, store: Store, mirror: MlflowMirror, trust: Trust, scratch: Path) -> None:
        self.store, self.mirror, self.trust, self.scratch = store, mirror, trust, scratch

    def push(self, item: MirrorItem) -> str:
        if item.kind == "run":
            return self.run(item.key)
        if item.kind == "version":
            name, _, number = item.key.rpartition("/")
            return self.version(name, int(number))
        name, _, rest = item.key.partition("@")
        return self.alias(name, rest.partition("#")[0])

    def run(self, run_id: str) -> str:
        run = self.store.runs.get_run(run_id)
        return self.mirror.push_run(run_record(self.store, run), lambda: self._model_dir(run))

    def _model_dir(self, run: Run) -> Path | None:
        fmt = next((f for f, name in MODEL_ARTIFACTS.items() if name in run.artifacts), None)
        if fmt is None:
            return None
        from skloop.registry import export_mlflow

        name = MODEL_ARTIFACTS[fmt]
        model = load_model(self.store.runs.load_artifact(run.id, name), fmt, trust=self.trust,
                           name=f"the model artifact of run {run.id}")  # fmt: skip
        versions = [v for v in self.store.models.list_model_versions(run.project) if v.run_id == run.id]
        signature = versions[-1].signature if versions else None
        return export_mlflow(model, self.scratch / f"run-{run.id}", signature=signature)

    def version(self, name: str, number: int) -> str:
        version = self.store.models.get_model_version(name, number)
        mlflow_run = self.run(version.run_id)  # found, not written again, when already mirrored
        tags = {"skloop.status": version.status, "skloop.run_id": version.run_id}
        if version.dataset_fingerprint:
            tags["skloop.dataset_fingerprint"] = version.dataset_fingerprint
        if version.rejection_reason:
            tags["skloop.rejection_reason"] = version.rejection_reason
        if version.parent_version:
            tags["skloop.parent_version"] = str(version.parent_version)
        return self.mirror.push_version(name, number, mlflow_run, tags=tags, description=version.description)

    def alias(self, name: str, alias: str) -> str:
        holder = self.store.models.get_aliases(name).get(alias)
        remote = None if holder is None else self.version(name, holder)
        self.mirror.sync_alias(name, alias, remote)
        return f"{name}@{alias}={remote or '-'}"


def drain(
    store: Store,
    *,
    trust: Trust | None = None,
    target: str | None = None,
    wait: float = 0.0,
    batch: int = 50,
    sleep: Callable[[float], None] = time.sleep,
) -> DrainResult:
    """Copy the outbox's due rows to their servers; with ``wait``, keep trying failed rows that long.

    Parameters
    ----------
    store : Store
        The store whose outbox is drained.
    trust : Trust, optional
        What the model loader may load when a run's model is exported (the caller's,
        as for any load: see :class:`skloop.registry.Trust`).
    target : str, optional
        Only rows for this server (default: every target).
    wait : float
        Seconds to go on trying rows that failed (after their backoff); ``0`` tries each
        due row once.
    batch : int
        Rows claimed at a time.

    Returns
    -------
    DrainResult
        Rows mirrored, failed attempts, rows still pending and the last errors.
    """
    trust = trust or Trust()
    deadline = time.monotonic() + max(0.0, wait)
    done = failed = 0
    errors: list[str] = []
    pushers: dict[str, _Pusher] = {}
    with tempfile.TemporaryDirectory(prefix="skloop-mirror-") as scratch:
        while True:
            items = store.mirror.claim(target, limit=batch)
            for item in items:
                try:
                    if item.target not in pushers:
                        pushers[item.target] = _Pusher(store, MlflowMirror(item.target), trust, Path(scratch))
                    remote = pushers[item.target].push(item)
                except Exception as exc:  # a server down, a refusal, a model that cannot be loaded: retried
                    message = str(exc) if isinstance(exc, SkloopError) else f"{type(exc).__name__}: {exc}"
                    retry = utcnow() + timedelta(seconds=backoff(item.attempts + 1))
                    store.mirror.mark_failed(item.id, message, retry)
                    failed += 1
                    errors.append(f"{item.kind} {item.key}: {message}")
                    logger.warning("mirroring %s %s to %s failed (try %d): %s", item.kind, item.key, item.target,
                                   item.attempts + 1, message)  # fmt: skip
                else:
                    store.mirror.mark_done(item.id, remote)
                    done += 1
            if items:
                continue
            status = store.mirror.status(target)
            left = deadline - time.monotonic()
            if status.pending == 0 or left <= 0 or status.next_attempt is None:
                return DrainResult(done=done, failed=failed, pending=status.pending, errors=tuple(errors[-10:]))
            due_in = (status.next_attempt - utcnow()).total_seconds()
            sleep(min(left, max(0.05, due_in)))


def start_background_drain(settings: Settings, spec_path: Path | None = None, *, wait: float = DEFAULT_WAIT) -> int:
    """Start a detached ``skloop mirror drain`` for ``settings``' store; its pid.

    The child outlives the caller (started through ``sh`` with ``&``: it belongs to
    init, not to the caller, so nothing waits for it), reads the same store (the
    settings travel as ``SKLOOP_*`` variables), trusts what the caller's environment
    and spec trust, and appends its warnings to ``.skloop/mirror-drain.log``. Rows it
    cannot copy within ``wait`` seconds stay queued for the next drainer or
    ``skloop mirror retry``.
    """
    env = dict(os.environ)
    env.update({"SKLOOP_STORE_URL": settings.store_url, "SKLOOP_ARTIFACT_ROOT": str(settings.artifact_root)})
    if settings.artifact_options:
        env["SKLOOP_ARTIFACT_OPTIONS"] = json.dumps(dict(settings.artifact_options))
    if settings.mlflow_uri:
        env["SKLOOP_MLFLOW_URI"] = settings.mlflow_uri
    if settings.trust:
        env["SKLOOP_TRUST"] = "1"
    # the child imports the skloop this process runs, wherever it came from
    package_root = str(Path(skloop.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "skloop.cli", "mirror", "drain", "--wait", str(wait), "--quiet"]
    if spec_path is not None:
        command += ["--spec", str(Path(spec_path).resolve())]
    home = settings.base_dir / DEFAULT_HOME
    log = str(home / DRAIN_LOG) if home.is_dir() else os.devnull
    launcher = 'log=$1; shift; "$@" </dev/null >/dev/null 2>>"$log" & echo $!'
    done = subprocess.run(
        ["sh", "-c", launcher, "sh", log, *command], cwd=str(settings.base_dir), env=env, capture_output=True,
        text=True, check=False, start_new_session=True,
    )  # fmt: skip
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise SkloopError(f"could not start the background mirror drainer: {done.stderr.strip() or done.stdout!r}")
    pid = int(done.stdout.strip())
    logger.info("started a background mirror drainer (pid %d)", pid)
    return pid


def drainer_alive(pid: int) -> bool:
    """Whether the drainer ``pid`` (of :func:`start_background_drain`) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a pid reused by another user's process: not ours any more
        return False
    return True


def queued(store: Store) -> bool:
    """Whether ``store``'s outbox has rows due now (a drainer has work)."""
    status = store.mirror.status()
    return status.pending > 0 and (status.next_attempt is None or status.next_attempt <= utcnow())
