"""The models part of the store: model versions, aliases, and what is derived from a version.

Two writes here must stay correct when several processes race:

* a new version number is ``max + 1`` computed inside the inserting transaction; on
  SQLite the writer's ``BEGIN IMMEDIATE`` serialises it, on PostgreSQL a transaction
  advisory lock does, and a unique violation (another writer won) is retried anyway;
* an alias move reads the current holder, moves the alias and appends the event in one
  transaction, serialised per (model, alias) the same way, so the holder and the log
  always agree and events are ordered as they happened.

A model version is immutable, and so is what is derived from it with a given tool: the
ONNX export of a version by one converter is the same every time, and so is its parity
check. The first caller derives it and stores it with :meth:`ModelStore.put_version_artifact`
(the bytes content-addressed in the artifact store, a row naming them); later callers
read it back, verified. Two callers racing to store the same derivation keep the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from skloop.core import ModelNotFoundError, NotFoundError, StoreError, utcnow
from skloop.store._datasets import resolve_dataset
from skloop.store._entities import AliasEvent, ModelSummary, ModelVersion, VersionArtifact
from skloop.store._schema import SqlRun, SqlRunInput
from skloop.store._schema_registry import (
    ARTIFACT_FORMATS,
    VERSION_STATUSES,
    SqlAlias,
    SqlAliasEvent,
    SqlModelVersion,
    SqlVersionArtifact,
)

if TYPE_CHECKING:
    from skloop.store._artifacts import ArtifactStore
    from skloop.store._database import Database

__all__ = ["ANY_VERSION", "ModelStore"]

VERSIONS = SqlModelVersion
ALIASES = SqlAlias
EVENTS = SqlAliasEvent
DERIVED = SqlVersionArtifact


class _Any:
    def __repr__(self) -> str:
        return "ANY_VERSION"


#: ``expected_current`` default of :meth:`ModelStore.set_alias`: move whatever the holder is.
ANY_VERSION: Final[Any] = _Any()


def _version_entity(row: Any, aliases: Iterable[str] = ()) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        run_id=row.run_id,
        status=row.status,
        created=row.created,
        artifact_sha256=row.artifact_sha256,
        artifact_format=row.artifact_format,
        metrics=dict(row.metrics or {}),
        signature=row.signature,
        importance=row.importance,
        card=row.card,
        dataset_fingerprint=row.dataset_fingerprint,
        rejection_reason=row.rejection_reason,
        description=row.description,
        aliases=tuple(sorted(aliases)),
        parent_version=row.parent_version,
    )


def _event_entity(row: Any) -> AliasEvent:
    return AliasEvent(
        id=row.id, name=row.name, alias=row.alias, from_version=row.from_version, to_version=row.to_version,
        action=row.action, actor=row.actor, reason=row.reason, time=row.time,
    )  # fmt: skip


def _check_name(label: str, value: object, limit: int) -> str:
    # no separator of a path or a reference ('/', '\\', '@'), no control character (NUL is refused by
    # PostgreSQL and cuts C strings), and not '.' or '..': a name is safe wherever it is shown or joined
    if (
        not isinstance(value, str)
        or not value
        or len(value) > limit
        or value in (".", "..")
        or any(c in value for c in "@/\\ ")
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise StoreError(
            f"a {label} is a non-empty string of at most {limit} characters without '@', '/', '\\', spaces or "
            f"control characters, and not '.' or '..', given {value!r}"
        )
    return value


def _is_version_clash(exc: BaseException) -> bool:
    """Two registrations took the same number (a race the unique constraint caught): try again."""
    text_ = str(getattr(exc, "orig", exc))
    return isinstance(exc, IntegrityError) and (
        "uq_model_versions_name_version" in text_ or "model_versions.name, model_versions.version" in text_
    )


class ModelStore:
    """Model versions, aliases and the alias event log: ``store.models`` (see the module docstring).

    Parameters
    ----------
    db : Database
        The shared database.
    artifacts : ArtifactStore
        Where derived artifacts' bytes go.
    """

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts

    # -- versions ----------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        *,
        run_id: str,
        artifact_sha256: str,
        artifact_format: str = "skops",
        status: str = "registered",
        rejection_reason: str | None = None,
        signature: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        importance: Mapping[str, Any] | None = None,
        card: str | None = None,
        dataset_fingerprint: str | None = None,
        description: str | None = None,
        parent_version: int | None = None,
    ) -> ModelVersion:
        """Record the next version of model ``name`` (1 for a new name) and return it.

        The number is chosen inside the inserting transaction, so concurrent callers
        get distinct, gap-free numbers. ``parent_version``, when given, is an existing
        version of the same model: the one this version was retrained or derived from.

        Raises
        ------
        NotFoundError
            When the run does not exist.
        ModelNotFoundError
            When ``parent_version`` is not a version of ``name`` (naming its versions).
        StoreError
            For an invalid name, status, format or parent version.
        """
        _check_name("model name", name, 200)
        if status not in VERSION_STATUSES:
            raise StoreError(f"a model version's status is one of {', '.join(VERSION_STATUSES)}, given {status!r}")
        if artifact_format not in ARTIFACT_FORMATS:
            raise StoreError(
                f"a model artifact's format is one of {', '.join(ARTIFACT_FORMATS)}, given {artifact_format!r}"
            )
        if parent_version is not None and (
            isinstance(parent_version, bool) or not isinstance(parent_version, int) or parent_version < 1
        ):
            raise StoreError(f"a parent version is a version number (1, 2, ...), given {parent_version!r}")
        row: dict[str, Any] = {
            "name": name, "run_id": run_id, "status": status, "rejection_reason": rejection_reason,
            "artifact_sha256": artifact_sha256, "artifact_format": artifact_format,
            "signature": dict(signature) if signature is not None else None,
            "metrics": dict(metrics or {}), "importance": dict(importance) if importance is not None else None,
            "card": card, "dataset_fingerprint": dataset_fingerprint, "description": description,
            "parent_version": parent_version,
        }  # fmt: skip
        runs = SqlRun

        def register(conn: Connection) -> ModelVersion:
            self._db.lock(conn, "model_versions", name)
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError(f"run {run_id!r} does not exist; register a run listed by 'skloop runs'")
            if parent_version is not None:
                parent = select(VERSIONS.c.id).where(VERSIONS.c.name == name, VERSIONS.c.version == parent_version)
                if conn.execute(parent).first() is None:
                    raise self._parent_not_found(conn, name, parent_version)
            current = conn.execute(select(func.max(VERSIONS.c.version)).where(VERSIONS.c.name == name))
            row["version"] = int(current.scalar() or 0) + 1
            row["created"] = utcnow()
            conn.execute(insert(VERSIONS), row)
            self._db.recorded(conn, "version", f"{name}/{row['version']}")
            return _version_entity(_Row(row))

        return self._db.transact(f"registering a version of model {name!r}", register, conflict=_is_version_clash)

    def import_model_version(self, version: ModelVersion) -> ModelVersion:
        """Record ``version`` with its own number (a version brought from another store).

        The run it names must already be in this store, and the number must be free
        (later versions are numbered after the highest, as usual). Aliases are not
        imported: they belong to the store that moved them.

        Raises
        ------
        NotFoundError
            When the run does not exist.
        StoreError
            When ``name`` already has a version of that number, or a field is invalid.
        """
        _check_name("model name", version.name, 200)
        if version.status not in VERSION_STATUSES or version.artifact_format not in ARTIFACT_FORMATS:
            raise StoreError(
                f"cannot import {version.ref}: status {version.status!r} or format {version.artifact_format!r} "
                f"is not one of {', '.join(VERSION_STATUSES)} / {', '.join(ARTIFACT_FORMATS)}"
            )
        row: dict[str, Any] = {
            "name": version.name, "version": int(version.version), "run_id": version.run_id,
            "status": version.status, "rejection_reason": version.rejection_reason,
            "artifact_sha256": version.artifact_sha256, "artifact_format": version.artifact_format,
            "signature": version.signature, "metrics": dict(version.metrics), "importance": version.importance,
            "card": version.card, "dataset_fingerprint": version.dataset_fingerprint,
            "description": version.description, "parent_version": None, "created": version.created,
        }  # fmt: skip
        runs = SqlRun

        def record(conn: Connection) -> ModelVersion:
            self._db.lock(conn, "model_versions", version.name)
            if conn.execute(select(runs.c.id).where(runs.c.id == version.run_id)).first() is None:
                raise NotFoundError(f"run {version.run_id!r} of {version.ref} is not in this store; import it first")
            taken = select(VERSIONS.c.artifact_sha256).where(
                VERSIONS.c.name == version.name, VERSIONS.c.version == version.version
            )
            if conn.execute(taken).first() is not None:
                raise StoreError(f"{version.ref} already exists in this store; it cannot be imported over")
            conn.execute(insert(VERSIONS), row)
            return _version_entity(_Row(row))

        return self._db.transact(f"importing model version {version.ref}", record)

    def model_names(self) -> list[str]:
        """Every model name with at least one version, sorted."""
        stmt = select(VERSIONS.c.name).distinct().order_by(VERSIONS.c.name)
        return self._db.transact("listing model names", lambda conn: list(conn.execute(stmt).scalars()), read=True)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of model ``name``.

        Raises
        ------
        ModelNotFoundError
            Naming the known models, or the versions of ``name``.
        """

        def read(conn: Connection) -> ModelVersion:
            row = conn.execute(
                select(VERSIONS).where(VERSIONS.c.name == name, VERSIONS.c.version == int(version))
            ).first()
            if row is None:
                raise self._not_found(conn, name, version)
            return _version_entity(row, self._aliases(conn, name).get(row.version, ()))

        return self._db.transact(f"reading model {name}/{version}", read, read=True)

    def _not_found(self, conn: Connection, name: str, version: int | None = None) -> ModelNotFoundError:
        versions = list(
            conn.execute(
                select(VERSIONS.c.version).where(VERSIONS.c.name == name).order_by(VERSIONS.c.version)
            ).scalars()
        )
        if not versions:
            names = list(conn.execute(select(VERSIONS.c.name).distinct().order_by(VERSIONS.c.name)).scalars())
            return ModelNotFoundError(
                f"model {name!r} is not in the registry; known models: {', '.join(names) or 'none'} "
                "(register one by training with registry.enabled, or list them with 'skloop models')"
            )
        return ModelNotFoundError(
            f"model {name!r} has no version {version}; its versions are {', '.join(map(str, versions))}"
        )

    def _parent_not_found(self, conn: Connection, name: str, parent: int) -> ModelNotFoundError:
        versions = conn.execute(select(VERSIONS.c.version).where(VERSIONS.c.name == name).order_by(VERSIONS.c.version))
        known = ", ".join(map(str, versions.scalars())) or f"none: {name!r} is a new model"
        return ModelNotFoundError(
            f"parent version {parent} is not a version of {name!r} (its versions: {known}); a parent is the "
            "version of the same model this one was retrained or derived from"
        )

    def _aliases(self, conn: Connection, name: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for alias, version in conn.execute(select(ALIASES.c.alias, ALIASES.c.version).where(ALIASES.c.name == name)):
            out.setdefault(version, []).append(alias)
        return out

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of model ``name``, oldest first (empty for an unknown name)."""
        with self._db.session(f"listing versions of model {name!r}", read=True) as conn:
            rows = conn.execute(select(VERSIONS).where(VERSIONS.c.name == name).order_by(VERSIONS.c.version)).all()
            aliases = self._aliases(conn, name)
            return [_version_entity(r, aliases.get(r.version, ())) for r in rows]

    def list_models(self) -> list[ModelSummary]:
        """Every model: its latest version (status, run, dataset, metrics) and its aliases."""
        latest = (
            select(VERSIONS.c.name, func.max(VERSIONS.c.version).label("v"), func.count().label("n"))
            .group_by(VERSIONS.c.name)
            .subquery()
        )
        stmt = (
            select(VERSIONS, latest.c.n)
            .join(latest, (latest.c.name == VERSIONS.c.name) & (latest.c.v == VERSIONS.c.version))
            .order_by(VERSIONS.c.name)
        )
        with self._db.session("listing models", read=True) as conn:
            rows = conn.execute(stmt).all()
            aliases: dict[str, dict[str, int]] = {}
            for name, alias, version in conn.execute(select(ALIASES.c.name, ALIASES.c.alias, ALIASES.c.version)):
                aliases.setdefault(name, {})[alias] = version
        return [
            ModelSummary(
                name=r.name,
                n_versions=r.n,
                latest_version=r.version,
                latest_status=r.status,
                created=r.created,
                run_id=r.run_id,
                dataset_fingerprint=r.dataset_fingerprint,
                metrics=dict(r.metrics or {}),
                aliases=dict(sorted(aliases.get(r.name, {}).items())),
            )
            for r in rows
        ]

    def versions_for_dataset(self, fingerprint: str) -> list[ModelVersion]:
        """Every model version trained on this dataset (fingerprint or unique prefix), oldest first."""
        inputs = SqlRunInput
        with self._db.session(f"finding models trained on dataset {fingerprint}", read=True) as conn:
            fp = resolve_dataset(conn, fingerprint).fingerprint
            runs = select(inputs.c.run_id).where(inputs.c.fingerprint == fp)
            rows = conn.execute(
                select(VERSIONS)
                .where(or_(VERSIONS.c.dataset_fingerprint == fp, VERSIONS.c.run_id.in_(runs)))
                .order_by(VERSIONS.c.created, VERSIONS.c.name, VERSIONS.c.version)
            ).all()
            by_name: dict[str, dict[int, list[str]]] = {}
            names = sorted({r.name for r in rows})
            if names:  # one query for every model's aliases, however many models
                held = select(ALIASES.c.name, ALIASES.c.alias, ALIASES.c.version).where(ALIASES.c.name.in_(names))
                for name, alias, version in conn.execute(held):
                    by_name.setdefault(name, {}).setdefault(version, []).append(alias)
            return [_version_entity(r, by_name.get(r.name, {}).get(r.version, ())) for r in rows]

    # -- aliases -----------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        actor: str,
        reason: str | None = None,
        action: str = "set",
        expected_current: int | None = ANY_VERSION,
    ) -> AliasEvent:
        """Point ``alias`` of model ``name`` at ``version`` and log the move, atomically.

        Parameters
        ----------
        name, alias : str
            The model and the alias (``champion``, ``challenger``, ...).
        version : int or None
            The new holder; ``None`` deletes the alias (action ``delete``).
        actor, reason : str
            Who moved it and why, kept in the history.
        action : {"set", "rollback"}
            How the move is recorded.
        expected_current : int or None, optional
            Refuse the move unless the alias holds this version now (``None``: unset),
            so that a decision based on a read cannot overwrite a newer move.

        Raises
        ------
        ModelNotFoundError
            When the version (or, for a delete, the alias) does not exist.
        StoreError
            When ``expected_current`` does not hold.
        """
        _check_name("model name", name, 200)
        _check_name("alias", alias, 100)
        if version is None:
            action = "delete"
        elif action not in ("set", "rollback"):
            raise StoreError(f"an alias move is 'set' or 'rollback', given {action!r}")
        if not isinstance(actor, str) or not actor:
            raise StoreError(f"an alias move needs an actor (who moved it), given {actor!r}")
        a, e = ALIASES.c, EVENTS.c

        def move(conn: Connection) -> AliasEvent:
            self._db.lock(conn, "aliases", name, alias)
            current = conn.execute(select(a.version).where(a.name == name, a.alias == alias).with_for_update()).scalar()
            if expected_current is not ANY_VERSION and current != expected_current:
                raise StoreError(
                    f"alias {name}@{alias} now holds {_v(current)}, not {_v(expected_current)} as expected; "
                    "another move happened meanwhile: look at 'skloop aliases' and try again"
                )
            now = utcnow()
            if version is None:
                if current is None:
                    raise ModelNotFoundError(f"model {name!r} has no alias {alias!r} to delete")
                conn.execute(delete(ALIASES).where(a.name == name, a.alias == alias))
            else:
                exists = conn.execute(
                    select(VERSIONS.c.id).where(VERSIONS.c.name == name, VERSIONS.c.version == int(version))
                ).first()
                if exists is None:
                    raise self._not_found(conn, name, version)
                if current is None:
                    conn.execute(insert(ALIASES), {"name": name, "alias": alias, "version": version, "updated": now})
                else:
                    conn.execute(
                        update(ALIASES).where(a.name == name, a.alias == alias).values(version=version, updated=now)
                    )
            # keep the log's times in the order of the moves, even if the clock stepped back
            last = conn.execute(select(func.max(e.time)).where(e.name == name, e.alias == alias)).scalar()
            event = {
                "name": name, "alias": alias, "from_version": current, "to_version": version, "action": action,
                "actor": actor, "reason": reason, "time": max(now, last) if last is not None else now,
            }  # fmt: skip
            event_id = conn.execute(insert(EVENTS).returning(e.id), event).scalar_one()
            self._db.recorded(conn, "alias", f"{name}@{alias}#{event_id}")
            return _event_entity(_Row({"id": event_id, **event}))

        # not idempotent (the move is logged): a commit whose answer was lost is reported, not redone
        return self._db.transact(f"moving alias {name}@{alias}", move)

    def get_aliases(self, name: str) -> dict[str, int]:
        """The aliases of model ``name`` and the versions they hold now."""
        stmt = select(ALIASES.c.alias, ALIASES.c.version).where(ALIASES.c.name == name).order_by(ALIASES.c.alias)
        return self._db.transact(
            f"reading aliases of model {name!r}",
            lambda conn: {alias: version for alias, version in conn.execute(stmt)},
            read=True,
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The moves of ``alias`` (or of every alias) of model ``name``, oldest first."""
        e = EVENTS.c
        stmt = select(EVENTS).where(e.name == name)
        if alias is not None:
            stmt = stmt.where(e.alias == alias)
        with self._db.session(f"reading the alias history of model {name!r}", read=True) as conn:
            return [_event_entity(r) for r in conn.execute(stmt.order_by(e.time, e.id))]

    def alias_at(self, name: str, alias: str, when: datetime) -> int | None:
        """The version ``alias`` of model ``name`` held at time ``when`` (``None``: unset then)."""
        e = EVENTS.c
        stmt = (
            select(e.to_version)
            .where(e.name == name, e.alias == alias, e.time <= when)
            .order_by(e.time.desc(), e.id.desc())
            .limit(1)
        )
        with self._db.session(f"reading {name}@{alias} at {when.isoformat()}", read=True) as conn:
            return conn.execute(stmt).scalar()

    # -- derived artifacts -------------------------------------------------------

    def get_version_artifact(self, name: str, version: int, kind: str) -> VersionArtifact | None:
        """What was stored for ``kind`` of ``name/version``, or ``None`` if nothing yet."""
        with self._db.session(f"reading the {kind} artifact of {name}/{version}", read=True) as conn:
            row = conn.execute(
                select(DERIVED).where(DERIVED.c.name == name, DERIVED.c.version == int(version), DERIVED.c.kind == kind)
            ).first()
        return None if row is None else _derived_entity(row)

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
        blob = None if data is None else self._artifacts.put_bytes(bytes(data))
        key = (DERIVED.c.name == name, DERIVED.c.version == int(version), DERIVED.c.kind == kind)

        def work(conn: Connection) -> Any:
            self._db.lock(conn, "version_artifacts", name, str(version), kind)
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
            return row

        row = self._db.transact(f"storing the {kind} artifact of {name}/{version}", work)
        return _derived_entity(row)


class _Row:
    """Attribute access over a dict, so freshly written rows become entities like read ones."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _v(version: object) -> str:
    return "nothing" if version is None else f"version {version}"


def _derived_entity(row: Any) -> VersionArtifact:
    return VersionArtifact(
        name=row.name,
        version=row.version,
        kind=row.kind,
        sha256=row.sha256,
        size=row.size,
        meta=dict(row.meta or {}),
        created=row.created,
    )
