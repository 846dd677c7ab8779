"""An MLflow tracking server as a mirror of skloop's records (the ``mlflow`` extra).

:class:`MlflowMirror` writes plain records to a server with :class:`mlflow.MlflowClient`
and nothing else of skloop: :mod:`skloop.workflows._mirror` reads the store, makes the
MLflow-format model and calls it. Every write is idempotent, because a drainer may try
a record again after a failure whose effect it cannot know:

* a run is found by its ``skloop.run_id`` tag; one left half-written (no
  ``skloop.mirror`` tag = ``complete``) is deleted and written again;
* a model version is found by its ``skloop.version`` tag;
* an alias is set to the version skloop's alias holds *now*, so moves applied late or
  twice converge to skloop's state.

MLflow's client retries an unreachable server for minutes by default; the mirror has
its own backoff (the outbox), so :class:`MlflowMirror` lowers MLflow's
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT`` for its process
unless they are set already (and ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``: library
code prints nothing).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skloop.core import MirrorError, optional_import

logger = logging.getLogger(__name__)

__all__ = ["MLFLOW_EXTRA", "DatasetInfo", "MlflowMirror", "RunRecord"]

MLFLOW_EXTRA = "mlflow"
RUN_TAG = "skloop.run_id"
VERSION_TAG = "skloop.version"
COMPLETE_TAG = "skloop.mirror"
MODEL_PATH = "model"
"""Where a mirrored run's MLflow model is, in the run's artifacts."""
_STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "running": "RUNNING"}
_DIGEST = 36  # MLflow's dataset digest column is 36 characters
_MAX_PARAM = 6000
_MAX_TAG = 8000
_MAX_KEY = 250
_BATCH = 1000
_PARAM_BATCH = 100
# the outbox retries (MLflow's own retries would stall a drainer for minutes); no run URL on stdout
_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
             "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # fmt: skip


@dataclass(frozen=True)
class DatasetInfo:
    """An input dataset of a run, as MLflow records it."""

    name: str
    fingerprint: str
    source: str
    schema: str | None = None
    profile: str | None = None
    role: str = "train"


@dataclass(frozen=True)
class RunRecord:
    """One skloop run, in MLflow's terms (times in ms since the epoch)."""

    run_id: str
    experiment: str
    status: str
    start_ms: int
    end_ms: int | None
    name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Sequence[tuple[str, float, int, int]] = ()
    """``(key, value, step, timestamp_ms)``: every point of every history."""
    datasets: Sequence[DatasetInfo] = ()


def _wrap(what: str, exc: Exception) -> MirrorError:
    return MirrorError(f"MLflow server: {what} failed: {type(exc).__name__}: {str(exc)[:1000]}")


class MlflowMirror:
    """Writes skloop's runs, versions and aliases to one MLflow tracking server.

    Parameters
    ----------
    uri : str
        The tracking (and registry) URI, e.g. ``http://127.0.0.1:5000``.

    Raises
    ------
    MissingExtraError
        MLflow is not installed (``pip install 'skloop[mlflow]'``).
    """

    def __init__(self, uri: str) -> None:
        for key, value in _DEFAULTS.items():
            os.environ.setdefault(key, value)
        tracking = optional_import("mlflow.tracking", MLFLOW_EXTRA)
        self.uri = uri
        self.client = tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)

    def __repr__(self) -> str:
        return f"MlflowMirror({self.uri!r})"

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MirrorError:
            raise
        except Exception as exc:  # MlflowException, requests' errors, OSError...
            raise _wrap(what, exc) from exc

    # -- runs --------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        """The id of experiment ``name``, created if missing."""
        found = self._call(f"reading experiment {name!r}", self.client.get_experiment_by_name, name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self._call(f"restoring experiment {name!r}", self.client.restore_experiment, found.experiment_id)
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except Exception as exc:  # another writer created it meanwhile
            again = self._call(f"reading experiment {name!r}", self.client.get_experiment_by_name, name)
            if again is None:
                raise _wrap(f"creating experiment {name!r}", exc) from exc
            return str(again.experiment_id)

    def find_run(self, experiment_id: str, run_id: str) -> tuple[str, bool] | None:
        """The MLflow run mirroring skloop run ``run_id``, and whether it was written completely."""
        runs = self._call(
            f"searching for run {run_id}",
            self.client.search_runs,
            [experiment_id],
            filter_string=f"tags.`{RUN_TAG}` = '{run_id}'",
            max_results=10,
        )
        complete = [r for r in runs if r.data.tags.get(COMPLETE_TAG) == "complete"]
        if complete:
            return str(complete[0].info.run_id), True
        if runs:
            return str(runs[0].info.run_id), False
        return None

    def push_run(self, record: RunRecord, model_dir: Callable[[], Path | None] | None = None) -> str:
        """Write ``record`` (and the MLflow model ``model_dir()`` makes) unless it is there; its MLflow id.

        ``model_dir`` is called only when the run has to be written: making the model
        costs more than finding the run.
        """
        experiment = self.experiment_id(record.experiment)
        found = self.find_run(experiment, record.run_id)
        if found is not None and found[1]:
            return found[0]
        if found is not None:  # half written by an attempt that failed: write it again, whole
            self._call(f"deleting the partial copy of run {record.run_id}", self.client.delete_run, found[0])
        tags = {**record.tags, RUN_TAG: record.run_id}
        created = self._call(
            f"creating run {record.run_id}",
            self.client.create_run,
            experiment,
            start_time=record.start_ms,
            tags={k[:_MAX_KEY]: str(v)[:_MAX_TAG] for k, v in tags.items()},
            run_name=record.name,
        )
        mlflow_id = str(created.info.run_id)
        self._log(mlflow_id, record)
        if model_dir is not None:
            directory = model_dir()
            if directory is not None:
                self._call(
                    f"uploading the model of run {record.run_id}",
                    self.client.log_artifacts,
                    mlflow_id,
                    str(directory),
                    MODEL_PATH,
                )
        self._call(
            f"ending run {record.run_id}",
            self.client.set_terminated,
            mlflow_id,
            _STATUS.get(record.status, "FINISHED"),
            end_time=record.end_ms,
        )
        self._call(f"marking run {record.run_id} complete", self.client.set_tag, mlflow_id, COMPLETE_TAG, "complete")
        return mlflow_id

    def _log(self, mlflow_id: str, record: RunRecord) -> None:
        entities = optional_import("mlflow.entities", MLFLOW_EXTRA)
        params = [entities.Param(k[:_MAX_KEY], str(v)[:_MAX_PARAM]) for k, v in record.params.items()]
        for i in range(0, len(params), _PARAM_BATCH):
            self._call("logging params", self.client.log_batch, mlflow_id, params=params[i : i + _PARAM_BATCH])
        metrics = [entities.Metric(k[:_MAX_KEY], float(v), int(ts), int(step)) for k, v, step, ts in record.metrics]
        for i in range(0, len(metrics), _BATCH):
            self._call("logging metrics", self.client.log_batch, mlflow_id, metrics=metrics[i : i + _BATCH])
        if record.datasets:
            inputs = [
                entities.DatasetInput(
                    entities.Dataset(
                        name=d.name,
                        digest=d.fingerprint[:_DIGEST],
                        source_type="skloop",
                        source=d.source,
                        schema=d.schema,
                        profile=d.profile,
                    ),
                    tags=[entities.InputTag("mlflow.data.context", d.role)],
                )
                for d in record.datasets
            ]
            self._call("logging the input datasets", self.client.log_inputs, mlflow_id, datasets=inputs)

    # -- the registry --------------------------------------------------------------

    def find_version(self, name: str, version: int) -> str | None:
        """The MLflow version number mirroring skloop's ``name/version``, if any."""
        found = self._call(
            f"searching versions of {name!r}",
            self.client.search_model_versions,
            f"name = '{name}' and tags.`{VERSION_TAG}` = '{version}'",
        )
        return str(found[0].version) if found else None

    def push_version(
        self, name: str, version: int, mlflow_run_id: str, *, tags: Mapping[str, str], description: str | None
    ) -> str:
        """Register the model of ``mlflow_run_id`` as a version of ``name`` unless it is there; its number."""
        existing = self.find_version(name, version)
        if existing is not None:
            return existing
        try:
            self.client.get_registered_model(name)
        except Exception:
            try:
                self.client.create_registered_model(name, tags={"skloop.model": name})
            except Exception as exc:  # created meanwhile by another writer, or a real failure
                self._call(f"reading registered model {name!r}", self.client.get_registered_model, name)
                logger.debug("registered model %s created meanwhile: %s", name, exc)
        run = self._call(f"reading run {mlflow_run_id}", self.client.get_run, mlflow_run_id)
        created = self._call(
            f"registering {name}/{version}",
            self.client.create_model_version,
            name,
            f"{run.info.artifact_uri}/{MODEL_PATH}",
            run_id=mlflow_run_id,
            tags={**{k[:_MAX_KEY]: str(v)[:_MAX_TAG] for k, v in tags.items()}, VERSION_TAG: str(version)},
            description=description,
        )
        return str(created.version)

    def sync_alias(self, name: str, alias: str, mlflow_version: str | None) -> None:
        """Point MLflow's ``alias`` of ``name`` at ``mlflow_version`` (``None``: delete it)."""
        if mlflow_version is None:
            try:
                self.client.delete_registered_model_alias(name, alias)
            except Exception as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(exc) and "not found" not in str(exc).lower():
                    raise _wrap(f"deleting alias {name}@{alias}", exc) from exc
            return
        self._call(f"setting alias {name}@{alias}", self.client.set_registered_model_alias, name, alias, mlflow_version)
