"""``Project``: the Python face of a ``skloop.yaml`` and its store — the whole loop, one object.

Every method is a step of the loop (DESIGN.md) and delegates to the workflow function
or registry method that the CLI command of the same name calls, so the two cannot
drift apart; ``Project`` only supplies what the project already knows: its spec, its
settings, its open store, the model's name and the caller's trust.

A model is named by ``ref``: ``None`` (the project's model under ``champion``), a
version number (``3``), or any reference the registry takes (``"churn@challenger"``,
``"churn/3"``, ``"churn"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skloop.core import SPEC_FILENAME, Settings, Spec, load_spec
from skloop.data import DEFAULT_BATCH_ROWS
from skloop.registry import DEFAULT_ALIAS, Registry, Trust
from skloop.store import AliasEvent, Decision, ModelVersion, Store

if TYPE_CHECKING:
    import pandas as pd

    from skloop.integrations import DaskCluster
    from skloop.monitor import Explanation, MonitorReport
    from skloop.serve import PredictionSink, ServeApp
    from skloop.workflows._mirror import DrainResult
    from skloop.workflows._predict import BatchPredictions, PredictResult
    from skloop.workflows._progress import Progress
    from skloop.workflows._register import RegisterOutcome
    from skloop.workflows._reproduce import ReproduceResult
    from skloop.workflows._train import TrainResult
    from skloop.workflows._validate import ValidationReport

__all__ = ["Project"]

Ref = str | int | None
"""A model reference: ``None`` (``NAME@champion``), a version number, or ``NAME@ALIAS`` / ``NAME/N`` / ``NAME``."""


class Project:
    """A spec, the directory it lives in, and its tracking store: the whole loop, one object.

    Parameters
    ----------
    spec : Spec
        The validated spec.
    settings : Settings
        Store URL, artifact root and the base directory; completed by the spec
        (``tracking.mlflow_uri``, unless ``SKLOOP_MLFLOW_URI`` set one).
    spec_path : Path, optional
        Where the spec was read from (a background mirror drainer reads it for the
        project's ``registry.trusted_types``).

    Examples
    --------
    >>> project = Project.load("skloop.yaml")          # doctest: +SKIP
    >>> run = project.train()                          # doctest: +SKIP
    >>> project.promote(run.model_version)             # doctest: +SKIP
    >>> project.predict(new_rows).predictions          # doctest: +SKIP

    ``docs/python-api.md`` walks through every method on the bundled example.
    """

    def __init__(self, spec: Spec, settings: Settings, *, spec_path: Path | None = None) -> None:
        self.spec = spec
        self.settings = settings.with_spec(spec)
        self.spec_path = spec_path
        self._store: Store | None = None
        self._drainer: int | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] = SPEC_FILENAME, settings: Settings | None = None) -> Project:
        """Load the spec at ``path`` (a file or a directory holding ``skloop.yaml``)."""
        p = Path(path)
        spec_file = p / SPEC_FILENAME if p.is_dir() else p
        spec = load_spec(spec_file)
        return cls(spec, settings or Settings.from_env(spec_file.resolve().parent), spec_path=spec_file)

    @property
    def store(self) -> Store:
        """The tracking store, opened (and for SQLite created) on first use."""
        if self._store is None:
            self._store = Store.open(self.settings)
        return self._store

    @property
    def registry(self) -> Registry:
        """The model registry over :attr:`store` (versions, aliases, their history, lineage)."""
        return Registry(self.store)

    def close(self) -> None:
        """Flush and close the store (and start the MLflow mirror's drainer if records were queued)."""
        if self._store is not None:
            self.mirror_in_background()
            self._store.close()
            self._store = None

    def mirror_in_background(self) -> bool:
        """Start a background drainer of the MLflow mirror if this project queued records and none is running.

        Called after :meth:`train` and by :meth:`close`; returns whether one was started.
        """
        from skloop.workflows._mirror import drainer_alive, start_background_drain

        store = self._store
        if store is None or store.mirror_target is None or not store.mirror.recorded:
            return False
        if self._drainer is not None and drainer_alive(self._drainer):
            return False  # the running one drains what was queued since
        store.mirror.recorded = 0
        self._drainer = start_background_drain(self.settings, self.spec_path)
        return True

    def mirror(self, *, wait: float = 0.0, trust: Trust | None = None) -> DrainResult:
        """Copy the MLflow mirror's due records now, in this process (``skloop mirror retry`` without the reset)."""
        from skloop.workflows._mirror import drain

        return drain(self.store, trust=self._trust(trust), wait=wait)

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- train and track ---------------------------------------------------------

    def train(
        self,
        *,
        progress: Progress | None = None,
        n_jobs: int | None = None,
        register: bool | None = None,
        parent_version: int | None = None,
    ) -> TrainResult:
        """Run the cross-validated search the spec declares, tracked as one run (and register it).

        ``parent_version``: the version of the model the new one is retrained or derived from.
        """
        from skloop.workflows._train import train

        result = train(
            self.spec, self.settings, store=self.store, progress=progress, n_jobs=n_jobs, register=register,
            parent_version=parent_version,
        )  # fmt: skip
        self.mirror_in_background()
        return result

    def reproduce(self, run_id: str, *, progress: Progress | None = None) -> ReproduceResult:
        """Rerun ``run_id`` from its snapshot and compare every CV fold score."""
        from skloop.workflows._reproduce import reproduce

        return reproduce(run_id, self.settings, store=self.store, progress=progress)

    def runs(self, **kwargs: Any) -> list[Any]:
        """Runs of this project, newest first (``search_runs`` keywords accepted)."""
        kwargs.setdefault("order_by", ["start_time DESC"])
        return self.store.runs.search_runs(self.spec.name, **kwargs)

    def run(self, run_id: str) -> Any:
        """One run by id or unique prefix."""
        return self.store.runs.get_run(run_id)

    # -- the registry ------------------------------------------------------------

    def register(
        self,
        run_id: str,
        *,
        dry_run: bool = False,
        force: bool = False,
        trust: Trust | None = None,
        parent_version: int | None = None,
    ) -> RegisterOutcome:
        """Check the gates of a finished training run and register its model (``skloop register``).

        For runs trained with ``register=False`` (or ``registry.enabled: false``);
        :meth:`train` registers its run itself. See :func:`register_run`.
        """
        from skloop.workflows._register import register_run

        return register_run(
            run_id, self.settings, store=self.store, dry_run=dry_run, force=force, trust=self._trust(trust),
            parent_version=parent_version,
        )  # fmt: skip

    def model(self, ref: Ref = None) -> ModelVersion:
        """The version ``ref`` names now (default: the one under ``champion``)."""
        return self.registry.resolve(self._ref(ref))

    def promote(
        self, version: int, alias: str = DEFAULT_ALIAS, *, reason: str | None = None, force: bool = False
    ) -> AliasEvent:
        """Point ``alias`` of the project's model at ``version``, recording who and why.

        Raises
        ------
        GateError
            The version failed its gates and ``force`` is not set.
        ModelNotFoundError
            No such version.
        """
        return self.registry.promote(self.spec.name, version, alias, reason=reason, force=force)

    def rollback(self, alias: str = DEFAULT_ALIAS, *, reason: str | None = None) -> AliasEvent:
        """Move ``alias`` back to the version that held it before the current one."""
        return self.registry.rollback(self.spec.name, alias, reason=reason)

    # -- score -------------------------------------------------------------------

    def predict(
        self,
        data: str | os.PathLike[str] | pd.DataFrame,
        *,
        ref: Ref = None,
        keep_columns: tuple[str, ...] = (),
        keep_id: bool = True,
        log: bool = False,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        progress: Progress | None = None,
        trust: Trust | None = None,
        strict: bool = False,
    ) -> BatchPredictions:
        """Score rows (a DataFrame or a file) with the version ``ref``, into memory.

        Each chunk is checked against the version's signature as ``skloop predict``
        checks it (:func:`predict_table`). With ``log``, the rows also go to the
        project's prediction log, which is then ingested into the store, so the
        monitor and the loop see them like served traffic. Rows the signature refuses
        are not scored (``rejected``, ``bad_rows``); ``strict`` fails instead. For a
        file larger than memory, use :meth:`predict_file`.
        """
        from skloop.workflows._predict import id_column_of, predict_table

        version, model = self._load(ref, trust)
        folder = self._log_dir() if log else None
        result = predict_table(
            model, version.signature, data, model_ref=self._ref(ref), model_version=version.version,
            model_sha256=version.artifact_sha256, batch_rows=batch_rows, keep_columns=keep_columns,
            progress=progress, log_dir=folder, model_name=version.name, id_column=id_column_of(self.store, version),
            keep_id=keep_id, strict=strict,
        )  # fmt: skip
        self._ingest(folder)
        return result

    def predict_file(
        self,
        data: str | os.PathLike[str],
        out: str | os.PathLike[str],
        *,
        ref: Ref = None,
        keep_columns: tuple[str, ...] = (),
        keep_id: bool = True,
        log: bool = False,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        progress: Progress | None = None,
        trust: Trust | None = None,
        strict: bool = False,
        dask: DaskCluster | None = None,
    ) -> PredictResult:
        """Score a CSV or Parquet file in chunks into a Parquet file (``skloop predict``; :func:`predict_batch`).

        Rows the signature refuses go, with their reasons, to a side file next to ``out``
        (:func:`rejected_path`); ``strict`` fails instead. ``dask``: score a Parquet
        file on that cluster (:func:`skloop.integrations.connect`), partition by partition.
        """
        from skloop.workflows._predict import id_column_of, predict_batch

        version, model = self._load(ref, trust)
        folder = self._log_dir() if log else None
        result = predict_batch(
            model, version.signature, data, out, model_ref=self._ref(ref), model_version=version.version,
            model_sha256=version.artifact_sha256, batch_rows=batch_rows, keep_columns=keep_columns,
            progress=progress, log_dir=folder, model_name=version.name, id_column=id_column_of(self.store, version),
            keep_id=keep_id, strict=strict, dask=dask,
        )  # fmt: skip
        self._ingest(folder)
        return result

    def serve_app(
        self,
        alias: str | None = DEFAULT_ALIAS,
        *,
        version: int | None = None,
        prediction_log: PredictionSink | None = None,
        trust: Trust | None = None,
        **options: Any,
    ) -> ServeApp:
        """The ASGI app serving the project's model from its store (``skloop serve`` without uvicorn).

        Run it with any ASGI server (``uvicorn.run(app)``) or test it with Starlette's
        ``TestClient``. It follows ``alias`` (or serves ``version``, pinned); a started
        :class:`skloop.serve.PredictionLog` (or any :class:`skloop.serve.PredictionSink`)
        makes every answer durable first.
        ``options`` are :func:`skloop.serve.create_app`'s other keywords
        (``max_body_bytes``, ``onnx``, ``shadow_alias``, ...). The app reads the
        project's store, which :meth:`close` closes.
        """
        from skloop.serve import create_app

        return create_app(
            self.settings, model_name=self.spec.name, alias=alias, version=version, prediction_log=prediction_log,
            registry=self.registry, trust=self._trust(trust), **options,
        )  # fmt: skip

    # -- monitor and close the loop ----------------------------------------------

    def monitor(
        self,
        current: str | os.PathLike[str] | pd.DataFrame | None = None,
        *,
        ref: Ref = None,
        reference: str | os.PathLike[str] | pd.DataFrame | None = None,
        from_log: bool = False,
        since: str | None = None,
        window: str | int | None = None,
        n_boot: int = 200,
        seed: int = 0,
        trust: Trust | None = None,
        dask: DaskCluster | None = None,
    ) -> MonitorReport:
        """Drift, quality and performance of the version ``ref`` on ``current`` or its served traffic.

        See :func:`monitor_model` (``dask``: a Parquet ``current`` scored on that cluster);
        ``report.verdict()``, ``report.to_json()`` and
        :func:`skloop.monitor.render_report_html` read the result.
        """
        from skloop.workflows._monitor import monitor_model

        return monitor_model(
            self.store, self._ref(ref), self.settings, current=current, reference=reference, from_log=from_log,
            since=since, window=window, n_boot=n_boot, seed=seed, trust=self._trust(trust), dask=dask,
        )  # fmt: skip

    def explain(
        self, data: str | os.PathLike[str] | pd.DataFrame, *, ref: Ref = None, trust: Trust | None = None
    ) -> Explanation:
        """Per-row contributions by input column of the version ``ref`` on ``data`` (needs ``skloop[explain]``)."""
        from skloop.workflows._monitor import explain_model

        _, explanation = explain_model(self.store, self._ref(ref), data, trust=self._trust(trust))
        return explanation

    def loop(
        self,
        *,
        now: datetime | None = None,
        progress: Progress | None = None,
        on_step: Callable[[str, str, dict[str, Any]], None] | None = None,
        trust: Trust | None = None,
    ) -> Decision:
        """Evaluate the spec's ``loop:`` policy once and return the recorded decision (``skloop loop run``)."""
        from skloop.workflows._loop import run_loop

        return run_loop(
            self.spec, self.settings, store=self.store, now=now, progress=progress, on_step=on_step,
            trust=self._trust(trust),
        )  # fmt: skip

    def validate(self, ref: Ref = None, *, run_id: str | None = None, trust: Trust | None = None) -> ValidationReport:
        """Every check of ``skloop validate`` on a version (default: the newest) or a training run's model."""
        from skloop.workflows._validate import validate_model

        return validate_model(
            self.spec, self.settings, store=self.store, ref=None if ref is None else self._ref(ref), run_id=run_id,
            trust=self._trust(trust),
        )  # fmt: skip

    # -- helpers -----------------------------------------------------------------

    def _ref(self, ref: Ref) -> str:
        """``ref`` as the registry's text (``None``: the project's model under ``champion``)."""
        if ref is None:
            return f"{self.spec.name}@{DEFAULT_ALIAS}"
        if isinstance(ref, int) and not isinstance(ref, bool):
            return f"{self.spec.name}/{ref}"
        return str(ref)

    def _trust(self, trust: Trust | None) -> Trust:
        """What the caller trusts: the settings (``SKLOOP_TRUST``), the project's own spec, and ``trust``."""
        return Trust.of(self.settings, self.spec) | (trust or Trust())

    def _load(self, ref: Ref, trust: Trust | None) -> tuple[ModelVersion, Any]:
        version = self.model(ref)
        return version, self.registry.load_model(version.ref, trust=self._trust(trust))

    def _log_dir(self) -> Path:
        from skloop.serve import default_log_dir

        return default_log_dir(self.settings)

    def _ingest(self, folder: Path | None) -> None:
        if folder is not None:
            from skloop.serve import ingest_once

            ingest_once(folder, self.store)
