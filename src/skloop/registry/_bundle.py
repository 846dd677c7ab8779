"""A model bundle: one version, its artifact and its run, in a folder that travels alone.

``skloop export --format docker`` copies a bundle into the image's build context, and
``skloop serve NAME --version N --bundle DIR`` loads it into whatever store the
container is given (a fresh SQLite one by default, a shared PostgreSQL one in a team)
before serving it. The folder holds:

- ``model.skops`` (or ``model.joblib``): the artifact's bytes, exactly as stored;
- ``skloop-model.json``: the version (number, status, signature, metrics, importance,
  card, dataset fingerprint), the artifact's SHA-256 and size, and the run that trained
  it (spec, code version, environment, params, metrics), so that the imported version
  has its provenance, and the server finds the spec's id column.

Loading checks the artifact against its SHA-256 before anything is written, keeps the
version's number, and does nothing when the store already has that version with the
same artifact (a shared store, or a restarted container). No secret travels: URLs in
the recorded spec are redacted, and no setting (store URL, token) is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skloop.core import (
    ArtifactIntegrityError,
    ExportError,
    NotFoundError,
    RegistryError,
    StoreError,
    redact_url,
)
from skloop.store import ModelVersion, Run

if TYPE_CHECKING:
    from skloop.registry._registry import Registry

logger = logging.getLogger(__name__)

__all__ = ["BUNDLE_FILE", "BUNDLE_FORMAT", "Bundle", "load_bundle", "read_bundle", "write_bundle"]

BUNDLE_FILE = "skloop-model.json"
"""The bundle's description, next to the artifact."""

BUNDLE_FORMAT = "skloop-model-bundle/1"

_RUN_FIELDS = (
    "id", "project", "kind", "status", "name", "error", "spec", "code_commit", "code_dirty",
    "environment", "seed", "params", "tags", "metrics",
)  # fmt: skip


@dataclass(frozen=True)
class Bundle:
    """A bundle folder as read back: where it is and what it holds."""

    path: Path
    name: str
    version: int
    artifact_file: str
    artifact_sha256: str
    artifact_format: str
    environment: dict[str, Any]
    record: dict[str, Any]

    @property
    def ref(self) -> str:
        """``name/version``."""
        return f"{self.name}/{self.version}"


def _redacted(value: Any) -> Any:
    """``value`` with every URL-looking string's password and secret query values masked."""
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def write_bundle(registry: Registry, ref: str, out_dir: str | os.PathLike[str]) -> Bundle:
    """Write model version ``ref`` (``name@alias``, ``name/version``) as a bundle folder.

    Parameters
    ----------
    registry : Registry
        Where the version is.
    ref : str
        The version; an alias is resolved now (the bundle holds one version).
    out_dir : str or os.PathLike
        The folder to create (it must not exist, or be empty).

    Returns
    -------
    Bundle

    Raises
    ------
    ModelNotFoundError
        ``ref`` names no version.
    ArtifactIntegrityError
        The stored artifact does not match its SHA-256.
    ExportError
        ``out_dir`` exists and is not an empty folder.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty directory; choose another --out or remove it")
    version = registry.resolve(ref)
    data = registry.load(version.ref)  # verified against the recorded SHA-256
    run = registry.store.runs.get_run(version.run_id)
    artifact = f"model.{version.artifact_format}"
    record = {
        "format": BUNDLE_FORMAT,
        "name": version.name,
        "version": version.version,
        "artifact": {"file": artifact, "sha256": version.artifact_sha256, "format": version.artifact_format,
                     "size": len(data)},
        "status": version.status,
        "rejection_reason": version.rejection_reason,
        "created": _when(version.created),
        "signature": version.signature,
        "metrics": dict(version.metrics),
        "importance": version.importance,
        "card": version.card,
        "dataset_fingerprint": version.dataset_fingerprint,
        "description": version.description,
        "run": {**{k: _redacted(getattr(run, k)) for k in _RUN_FIELDS},
                "start_time": _when(run.start_time), "end_time": _when(run.end_time)},
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / artifact).write_bytes(data)
    (out / BUNDLE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("wrote the bundle of %s to %s", version.ref, out)
    return read_bundle(out)


def read_bundle(folder: str | os.PathLike[str]) -> Bundle:
    """Read a bundle folder's description and check its artifact against its SHA-256.

    Raises
    ------
    RegistryError
        The folder has no ``skloop-model.json``, or it is not a bundle's (the key is named).
    ArtifactIntegrityError
        The artifact's bytes do not match the recorded SHA-256.
    """
    path = Path(folder)
    file = path / BUNDLE_FILE
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegistryError(
            f"{path} is not a model bundle: it has no {BUNDLE_FILE} (write one with skloop export --format docker)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{file} cannot be read as JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != BUNDLE_FORMAT:
        got = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise RegistryError(f"{file}: key 'format' must be {BUNDLE_FORMAT!r}, got {got!r}")
    try:
        artifact = record["artifact"]
        name, version = str(record["name"]), int(record["version"])
        sha256, fmt, artifact_file = str(artifact["sha256"]), str(artifact["format"]), str(artifact["file"])
        environment = dict((record["run"] or {}).get("environment") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"{file}: missing or invalid key {exc}; re-export the bundle") from exc
    if Path(artifact_file).name != artifact_file:
        raise RegistryError(f"{file}: key 'artifact.file' must be a file name in the bundle, got {artifact_file!r}")
    try:
        data = (path / artifact_file).read_bytes()
    except OSError as exc:
        raise RegistryError(f"the bundle {path} lacks its artifact {artifact_file}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"{path / artifact_file} has SHA-256 {actual}, but the bundle records {sha256}: the file changed "
            "after export; export it again"
        )
    return Bundle(path, name, version, artifact_file, sha256, fmt, environment, record)


def _run(record: Mapping[str, Any]) -> Run:
    fields: dict[str, Any] = {k: record.get(k) for k in _RUN_FIELDS}
    return Run(
        **{k: v for k, v in fields.items() if k not in ("params", "tags", "metrics")},
        params={str(k): str(v) for k, v in (fields["params"] or {}).items()},
        tags={str(k): str(v) for k, v in (fields["tags"] or {}).items()},
        metrics={str(k): float(v) for k, v in (fields["metrics"] or {}).items()},
        start_time=datetime.fromisoformat(str(record["start_time"])),
        end_time=None if record.get("end_time") is None else datetime.fromisoformat(str(record["end_time"])),
        parent_run_id=None,  # the parent stays in the store it came from
    )


def load_bundle(registry: Registry, folder: str | os.PathLike[str]) -> ModelVersion:
    """Bring a bundle's version into ``registry``'s store, keeping its number; return it.

    Nothing is written when the store already has the version with the same artifact.

    Raises
    ------
    RegistryError
        The folder is not a bundle, or the store has the version with another artifact.
    ArtifactIntegrityError
        The artifact does not match its recorded SHA-256.
    """
    bundle = read_bundle(folder)
    store = registry.store
    try:
        held = store.models.get_model_version(bundle.name, bundle.version)
    except RegistryError:
        held = None
    if held is not None:
        if held.artifact_sha256 != bundle.artifact_sha256:
            raise RegistryError(
                f"this store already has {bundle.ref} with artifact {held.artifact_sha256[:12]}, not the bundle's "
                f"{bundle.artifact_sha256[:12]}: serve it from another store (SKLOOP_STORE_URL)"
            )
        return held
    record = bundle.record
    run_record = dict(record["run"])
    try:
        store.runs.get_run(str(run_record["id"]))
    except NotFoundError:
        store.runs.import_runs([_run(run_record)])
    ref = store.artifacts.put_bytes((bundle.path / bundle.artifact_file).read_bytes())
    if ref.sha256 != bundle.artifact_sha256:  # read_bundle checked it; the file changed since
        raise ArtifactIntegrityError(f"{bundle.path / bundle.artifact_file} changed while it was loaded")
    created = record.get("created")
    try:
        version = store.models.import_model_version(
            ModelVersion(
                name=bundle.name,
                version=bundle.version,
                run_id=str(run_record["id"]),
                status=str(record.get("status") or "registered"),
                created=datetime.fromisoformat(created) if created else datetime.now().astimezone(),
                artifact_sha256=bundle.artifact_sha256,
                artifact_format=bundle.artifact_format,
                metrics={str(k): float(v) for k, v in (record.get("metrics") or {}).items()},
                signature=record.get("signature"),
                importance=record.get("importance"),
                card=record.get("card"),
                dataset_fingerprint=record.get("dataset_fingerprint"),
                rejection_reason=record.get("rejection_reason"),
                description=record.get("description"),
            )
        )
    except StoreError as exc:
        raise RegistryError(f"cannot load the bundle {bundle.path}: {exc}") from exc
    logger.info("loaded %s from the bundle %s", version.ref, bundle.path)
    return version
