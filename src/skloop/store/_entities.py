"""Entities: the plain, frozen objects that the store hands out.

ORM rows never leave the store; every public method returns one of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "RUN_KINDS",
    "RUN_STATUSES",
    "AliasEvent",
    "ArtifactRef",
    "DatasetRecord",
    "DatasetSummary",
    "Label",
    "Metric",
    "ModelSummary",
    "ModelVersion",
    "Prediction",
    "Run",
    "RunInput",
    "VersionArtifact",
]

#: Statuses a run can have; only ``running`` runs accept new records.
RUN_STATUSES: Final = ("running", "finished", "failed", "killed")
#: Kinds of run skloop itself creates (any short name is accepted).
RUN_KINDS: Final = ("train", "reproduce", "evaluate", "monitor", "retrain", "validate", "import")


@dataclass(frozen=True)
class ArtifactRef:
    """A content-addressed artifact.

    Parameters
    ----------
    sha256 : str
        Hex SHA-256 of the content; also its address in the artifact store.
    size : int
        Size in bytes.
    name : str or None
        The name it was logged under in a run (``None`` for a bare blob).
    media_type : str or None
        MIME type, when known.
    """

    sha256: str
    size: int
    name: str | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class Metric:
    """One logged value of a metric.

    Parameters
    ----------
    key : str
        Metric name, e.g. ``"cv_roc_auc"``.
    value : float
        The value (``nan`` and infinities are kept).
    step : int
        Step or iteration the value belongs to.
    timestamp : datetime
        When it was logged (UTC, millisecond resolution).
    """

    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset snapshot as the store knows it.

    Parameters
    ----------
    fingerprint : str
        SHA-256 of the canonical form of the data; the dataset's identity.
    source : str
        Where it was read from (path, URL or query).
    n_rows, n_columns : int
        Shape.
    schema : dict
        Column names to types.
    profile : dict
        Reference statistics used by the monitor.
    snapshot_sha256 : str or None
        Artifact holding the rows themselves (Parquet), when snapshotted.
    created : datetime or None
        When the store first saw it; filled in by the store.
    """

    fingerprint: str
    source: str
    n_rows: int
    n_columns: int
    schema: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    snapshot_sha256: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class DatasetSummary:
    """One line of :meth:`DatasetStore.list_datasets`: a dataset and how it was used."""

    fingerprint: str
    source: str
    n_rows: int
    n_columns: int
    created: datetime
    first_used: datetime | None
    last_used: datetime | None
    n_runs: int


@dataclass(frozen=True)
class RunInput:
    """A dataset a run read, and in which role (``train``, ``holdout``, ...)."""

    fingerprint: str
    role: str


@dataclass(frozen=True)
class Run:
    """One execution of a step, with everything recorded about it.

    ``metrics`` holds the latest value of each metric (highest step, then latest
    time); :meth:`RunStore.get_metric_history` returns every value.
    """

    id: str
    project: str
    kind: str
    status: str
    start_time: datetime
    name: str | None = None
    end_time: datetime | None = None
    error: str | None = None
    spec: dict[str, Any] | None = None
    code_commit: str | None = None
    code_dirty: bool | None = None
    environment: dict[str, Any] | None = None
    seed: int | None = None
    parent_run_id: str | None = None
    pid: int | None = None
    hostname: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: tuple[RunInput, ...] = ()
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        """Whether the run is still ``running``."""
        return self.status == "running"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


@dataclass(frozen=True)
class ModelVersion:
    """A version of a named model in the registry.

    Parameters
    ----------
    name : str
        The model's name (usually the spec's ``name``).
    version : int
        1, 2, ... in order of registration, per name.
    run_id : str
        The run that trained it.
    status : str
        ``registered`` (gates passed) or ``rejected`` (see ``rejection_reason``).
    created : datetime
        When it was registered.
    artifact_sha256, artifact_format : str
        The model artifact (content address) and how it is serialised (``skops`` or ``joblib``).
    metrics : dict
        Snapshot of the run's metrics when it was registered.
    signature, importance : dict or None
        Input/output signature and permutation importance, when computed.
    card : str or None
        The model card (Markdown).
    dataset_fingerprint : str or None
        The training dataset.
    rejection_reason : str or None
        Which gates failed, for ``rejected`` versions.
    description : str or None
        Free text.
    aliases : tuple of str
        The aliases pointing at this version when it was read.
    parent_version : int or None
        The version of the same model this one was retrained from (the loop's
        champion) or derived from; ``None`` for a version trained from scratch.
    """

    name: str
    version: int
    run_id: str
    status: str
    created: datetime
    artifact_sha256: str
    artifact_format: str
    metrics: dict[str, float] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    importance: dict[str, Any] | None = None
    card: str | None = field(default=None, repr=False)
    dataset_fingerprint: str | None = None
    rejection_reason: str | None = None
    description: str | None = None
    aliases: tuple[str, ...] = ()
    parent_version: int | None = None

    @property
    def ref(self) -> str:
        """``name/version``, the way to name this version elsewhere."""
        return f"{self.name}/{self.version}"

    @property
    def is_rejected(self) -> bool:
        """Whether the version failed its gates."""
        return self.status == "rejected"


@dataclass(frozen=True)
class AliasEvent:
    """One entry of an alias's append-only history.

    ``from_version`` is ``None`` when the alias was created, ``to_version`` when it was
    deleted; ``action`` is ``set``, ``rollback`` or ``delete``.
    """

    id: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    action: str
    actor: str
    reason: str | None
    time: datetime


@dataclass(frozen=True)
class ModelSummary:
    """One line of :meth:`ModelStore.list_models`: a model, its latest version and its aliases."""

    name: str
    n_versions: int
    latest_version: int
    latest_status: str
    created: datetime
    run_id: str
    dataset_fingerprint: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """One logged prediction (a served or batch-scored row), with its label if known.

    Parameters
    ----------
    id : int
        Store-assigned, increasing in ingestion order.
    request_id : str
        The request (or batch run) that produced it; with ``row``, its unique key.
    row : int
        Position of the row in its request, from 0.
    time : datetime
        When it was made (UTC).
    model : str
        The model's name.
    version : int or None
        The model version that made it.
    entity_id : str or None
        The entity the row describes (the spec's ``data.id`` column), as text.
    prediction : str or None
        The predicted value, as text.
    inputs, outputs : dict
        The row as received, and everything returned for it (prediction, probabilities).
    flags : tuple of str
        Issues found in the row (unknown category, value out of range, ...).
    label : str or None
        The true outcome, when one was recorded for this row or its entity.
    label_time : datetime or None
        When the label was (last) recorded.
    correlation_id : str or None
        The client's own id of the request (its ``X-Request-ID``), when it gave one;
        clients may reuse it, so it is no key.
    """

    id: int
    request_id: str
    row: int
    time: datetime
    model: str
    version: int | None
    entity_id: str | None
    prediction: str | None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    label: str | None = None
    label_time: datetime | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Label:
    """The true outcome for an entity (``entity_id``) or one prediction (``request_id``, ``row``)."""

    model: str
    label: str
    time: datetime
    entity_id: str | None = None
    request_id: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class VersionArtifact:
    """An artifact derived from a model version and kept (see :meth:`ModelStore.put_version_artifact`).

    Parameters
    ----------
    name, version : str, int
        The model version.
    kind : str
        What was derived, and with what (e.g. the converter's version).
    sha256, size : str or None, int or None
        The bytes in the artifact store; ``None`` when the derivation was refused.
    meta : dict
        How it went: a parity report, or the refusal.
    created : datetime
    """

    name: str
    version: int
    kind: str
    sha256: str | None
    size: int | None
    meta: dict[str, Any]
    created: datetime
