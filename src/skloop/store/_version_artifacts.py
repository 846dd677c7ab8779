"""Artifacts derived from a model version once and kept: the version's part of the store.

A model version is immutable, and so is what is derived from it with a given tool: the
ONNX export of a version by one converter is the same every time, and so is its parity
check. The first caller derives it and stores it here (the bytes content-addressed in
the artifact store, a row naming them); later callers read it back, verified. Two
callers racing to store the same derivation keep the first one.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, insert, select

from skloop.core import StoreError, utcnow
from skloop.store._artifacts import ArtifactStore
from skloop.store._entities import ModelVersion, VersionArtifact
from skloop.store._schema_registry import SqlVersionArtifact

__all__ = ["VersionArtifactsMixin"]

DERIVED = SqlVersionArtifact.__table__


def _entity(row: Any) -> VersionArtifact:
    return VersionArtifact(
        name=row.name,
        version=row.version,
        kind=row.kind,
        sha256=row.sha256,
        size=row.size,
        meta=dict(row.meta or {}),
        created=row.created,
    )


class VersionArtifactsMixin:
    """Derived artifacts of model versions (see the module docstring)."""

    artifacts: ArtifactStore

    def _scope(self, what: str, *, read: bool = False) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _serialise(self, conn: Connection, *parts: str) -> None:
        raise NotImplementedError

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        raise NotImplementedError

    def get_version_artifact(self, name: str, version: int, kind: str) -> VersionArtifact | None:
        """What was stored for ``kind`` of ``name/version``, or ``None`` if nothing yet."""
        with self._scope(f"reading the {kind} artifact of {name}/{version}", read=True) as conn:
            row = conn.execute(
                select(DERIVED).where(DERIVED.c.name == name, DERIVED.c.version == int(version), DERIVED.c.kind == kind)
            ).first()
        return None if row is None else _entity(row)

    def put_version_artifact(
        self, name: str, version: int, kind: str, data: bytes | None, meta: Mapping[str, Any] | None = None
    ) -> VersionArtifact:
        """Keep ``data`` (``None``: the derivation was refused) as ``kind`` of ``name/version``.

        Returns what is stored: this one, or the one another caller stored first.

        Raises
        ------
        ModelNotFoundError
            No such version.
        StoreError
            ``kind`` is empty or longer than 200 characters.
        """
        if not isinstance(kind, str) or not 0 < len(kind) <= 200:
            raise StoreError(f"a version artifact's kind is a string of 1 to 200 characters, given {kind!r}")
        self.get_model_version(name, version)  # a ModelNotFoundError naming what exists
        blob = None if data is None else self.artifacts.put_bytes(bytes(data))
        key = (DERIVED.c.name == name, DERIVED.c.version == int(version), DERIVED.c.kind == kind)
        with self._scope(f"storing the {kind} artifact of {name}/{version}") as conn:
            self._serialise(conn, "version_artifacts", name, str(version), kind)
            row = conn.execute(select(DERIVED).where(*key)).first()
            if row is None:
                values = {
                    "name": name,
                    "version": int(version),
                    "kind": kind,
                    "sha256": None if blob is None else blob.sha256,
                    "size": None if blob is None else blob.size,
                    "meta": dict(meta or {}),
                    "created": utcnow(),
                }
                conn.execute(insert(DERIVED), values)
                row = conn.execute(select(DERIVED).where(*key)).one()
        return _entity(row)
