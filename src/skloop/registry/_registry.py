"""The model registry: versions from runs, gates, aliases with history, lineage.

:class:`Registry` is a thin layer over the store's registry tables; every write is one
store transaction, so two processes promoting at once leave one holder and a log
with both moves in order.
"""

from __future__ import annotations

import getpass
import logging
import re
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from skloop.core import GateError, GatesSpec, ModelNotFoundError, NotFoundError, RegistryError
from skloop.registry._gates import check_gates, format_failures
from skloop.registry._lineage import LineageNode, dataset_lineage, version_lineage
from skloop.registry._trust import Trust
from skloop.store import AliasEvent, ModelSummary, ModelVersion, Store

__all__ = ["DEFAULT_ALIAS", "MODEL_ARTIFACTS", "Registry", "default_actor", "parse_ref"]

logger = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"
#: The run artifact holding the model, per format.
MODEL_ARTIFACTS = {"skops": "model.skops", "joblib": "model.joblib"}
_VERSION = re.compile(r"v?(\d+)")
_HEX = re.compile(r"[0-9a-f]{4,64}")


def default_actor() -> str:
    """``user@host`` of this process, recorded when no actor is given."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """Split ``name@alias``, ``name/version`` or ``name`` into (name, version, alias).

    Examples
    --------
    >>> parse_ref("churn@champion"), parse_ref("churn/3"), parse_ref("churn")
    (('churn', None, 'champion'), ('churn', 3, None), ('churn', None, None))
    """
    text = str(ref).strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        if name and alias:
            return name, None, alias
    elif "/" in text:
        name, _, version = text.partition("/")
        match = _VERSION.fullmatch(version)
        if name and match:
            return name, int(match.group(1)), None
    elif text:
        return text, None, None
    raise ModelNotFoundError(f"{ref!r} is not a model reference; use NAME@ALIAS, NAME/VERSION or NAME (the latest)")


class Registry:
    """Named, versioned models with movable aliases, over a :class:`~skloop.store.Store`.

    Parameters
    ----------
    store : Store
        Where versions, aliases and their history are kept.

    Examples
    --------
    >>> registry = Registry(store)  # doctest: +SKIP
    >>> v = registry.register(run_id, "churn", gates=spec.gates)  # doctest: +SKIP
    >>> registry.promote("churn", v.version, reason="beats v2 on holdout")  # doctest: +SKIP
    >>> registry.resolve("churn@champion").version  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"Registry({self.store!r})"

    # -- registering -------------------------------------------------------------

    def register(
        self,
        run_id: str,
        name: str,
        *,
        gates: GatesSpec | None = None,
        signature: Mapping[str, Any] | None = None,
        importance: Mapping[str, Any] | None = None,
        card: str | None = None,
        format: str = "skops",
        description: str | None = None,
        force: bool = False,
        parent_version: int | None = None,
    ) -> ModelVersion:
        """Register the model of a finished run as the next version of ``name``.

        ``parent_version`` records the version of ``name`` this one was retrained
        (the loop passes its champion) or derived from; lineage links to it.

        The run's metrics are checked against ``gates``; a version that fails them is
        still recorded, with status ``rejected`` and a reason naming each metric, its
        value and the threshold, and cannot be promoted without ``force``.

        A run is registered once per model: registering it again is an error naming
        the version it already is, unless ``force`` asks for another version of it.

        Raises
        ------
        NotFoundError
            When the run does not exist.
        RegistryError
            When the run is not finished, has no model artifact in ``format``, or is
            already a version of ``name`` (and ``force`` is not set).
        ModelNotFoundError
            When ``parent_version`` is not a version of ``name``.
        """
        run = self.store.runs.get_run(run_id)
        if run.status != "finished":
            raise RegistryError(f"run {run.id} is {run.status}; only finished runs can be registered")
        if not force:
            self.check_not_registered(run.id, name)
        artifact = MODEL_ARTIFACTS.get(format)
        if artifact is None:
            raise RegistryError(f"unknown model format {format!r}; use one of {', '.join(MODEL_ARTIFACTS)}")
        if artifact not in run.artifacts:
            known = ", ".join(sorted(run.artifacts)) or "none"
            raise RegistryError(
                f"run {run.id} has no {format} model artifact {artifact!r} (it has: {known}); "
                "register a training run, or pass the format it saved"
            )
        metrics = {k: v for k, v in run.metrics.items() if not k.endswith("_fold")}
        failures = check_gates(gates, run.metrics)
        train = [d.fingerprint for d in run.datasets if d.role == "train"] or [d.fingerprint for d in run.datasets]
        version = self.store.models.create_model_version(
            name,
            run_id=run.id,
            artifact_sha256=run.artifacts[artifact].sha256,
            artifact_format=format,
            status="rejected" if failures else "registered",
            rejection_reason=format_failures(failures) if failures else None,
            signature=signature,
            metrics=metrics,
            importance=importance,
            card=card,
            dataset_fingerprint=train[0] if train else None,
            description=description,
            parent_version=parent_version,
        )
        logger.info("registered %s (%s)", version.ref, version.status)
        return version

    def check_not_registered(self, run_id: str, name: str) -> None:
        """Raise :class:`RegistryError` naming the version(s) of ``name`` made from ``run_id``, if any."""
        existing = [v.ref for v in self.store.models.list_model_versions(name) if v.run_id == run_id]
        if existing:
            raise RegistryError(
                f"run {run_id} is already registered as {', '.join(existing)}; use that version, "
                "or pass force=True (skloop register --force) to make another version of the same run"
            )

    # -- aliases -----------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int,
        alias: str = DEFAULT_ALIAS,
        *,
        reason: str | None,
        actor: str | None = None,
        force: bool = False,
    ) -> AliasEvent:
        """Point ``alias`` of ``name`` at ``version``, recording who and why.

        Raises
        ------
        GateError
            When the version was rejected by its gates and ``force`` is not set.
        ModelNotFoundError
            When the model or version does not exist.
        """
        target = self.store.models.get_model_version(name, version)
        if target.is_rejected:
            if not force:
                raise GateError(
                    f"{target.ref} failed its gates ({target.rejection_reason}) and is not promoted to "
                    f"{alias!r}; pass force=True (--force) to promote it anyway"
                )
            reason = f"{reason or 'no reason given'} [forced past failed gates: {target.rejection_reason}]"
        return self.store.models.set_alias(name, alias, target.version, actor=actor or default_actor(), reason=reason)

    def rollback(
        self, name: str, alias: str = DEFAULT_ALIAS, *, reason: str | None = None, actor: str | None = None
    ) -> AliasEvent:
        """Move ``alias`` back to the version that held it before the current one.

        Successive rollbacks walk further back (a rollback undoes a move, it is not
        itself a move to undo).

        Raises
        ------
        ModelNotFoundError
            When the alias has no history.
        RegistryError
            When no earlier version held it.
        """
        history = self.store.models.alias_history(name, alias)
        if not history:
            raise self._no_alias(name, alias)
        current = self.store.models.get_aliases(name).get(alias)
        target = _previous_holder(history, current)
        if target is None:
            raise RegistryError(
                f"{name}@{alias} has no earlier holder to roll back to (it holds "
                f"{'nothing' if current is None else f'version {current}'}); promote a version instead"
            )
        return self.store.models.set_alias(
            name, alias, target, actor=actor or default_actor(), reason=reason, action="rollback",
            expected_current=current,
        )  # fmt: skip

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None, actor: str | None = None) -> AliasEvent:
        """Remove ``alias`` from ``name`` (recorded as a ``delete`` event)."""
        return self.store.models.set_alias(name, alias, None, actor=actor or default_actor(), reason=reason)

    def aliases(self, name: str) -> dict[str, int]:
        """The aliases of ``name`` and the versions they hold now."""
        self._require_model(name)
        return self.store.models.get_aliases(name)

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """Every move of ``alias`` (or of all aliases) of ``name``, oldest first."""
        self._require_model(name)
        return self.store.models.alias_history(name, alias)

    def alias_at(self, name: str, alias: str, when: datetime) -> int | None:
        """The version ``alias`` held at ``when`` (``None`` if it held none then)."""
        self._require_model(name)
        return self.store.models.alias_at(name, alias, when)

    # -- reading -----------------------------------------------------------------

    def models(self) -> list[ModelSummary]:
        """Every model with its latest version and aliases."""
        return self.store.models.list_models()

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        self._require_model(name)
        return self.store.models.list_model_versions(name)

    def resolve(self, ref: str) -> ModelVersion:
        """The version named by ``name@alias``, ``name/version`` or ``name`` (latest registered).

        Raises
        ------
        ModelNotFoundError
            Naming what exists: the known models, the versions, or the aliases.
        """
        name, version, alias = parse_ref(ref)
        if version is not None:
            return self.store.models.get_model_version(name, version)
        versions = self.versions(name)
        if alias is not None:
            held = self.store.models.get_aliases(name)
            if alias not in held:
                known = ", ".join(f"{a} -> {v}" for a, v in held.items()) or "none"
                raise ModelNotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases are: {known} "
                    f"(promote a version with 'skloop promote {name} VERSION --alias {alias}')"
                )
            return self.store.models.get_model_version(name, held[alias])
        registered = [v for v in versions if not v.is_rejected]
        if not registered:
            raise ModelNotFoundError(
                f"model {name!r} has no registered version: all of {', '.join(v.ref for v in versions)} "
                "failed their gates; name one explicitly as NAME/VERSION"
            )
        return registered[-1]

    def lineage(self, ref_or_fingerprint: str) -> LineageNode:
        """Lineage tree of a model version (``name@alias``, ``name/version``, ``name``) or a dataset.

        For a version: version → run (params, metrics, code commit, environment, spec
        snapshot) → datasets. For a dataset fingerprint (or unique prefix): dataset →
        every version trained on it → its run.
        """
        text = str(ref_or_fingerprint).strip()
        if "@" in text or "/" in text or text in self.store.models.model_names():
            return version_lineage(self.store, self.resolve(text))
        if _HEX.fullmatch(text.lower()):
            try:
                return dataset_lineage(self.store, text)
            except NotFoundError:
                pass
        names = ", ".join(self.store.models.model_names()) or "none"
        raise ModelNotFoundError(
            f"{text!r} is neither a model nor a known dataset fingerprint; known models: {names} "
            "(use NAME@ALIAS, NAME/VERSION, NAME, or a fingerprint from 'skloop datasets')"
        )

    def load(self, ref: str) -> bytes:
        """The verified bytes of the model artifact of ``ref``.

        Raises
        ------
        ArtifactIntegrityError
            When the stored bytes do not match the recorded SHA-256.
        """
        version = self.resolve(ref)
        return self.store.artifacts.get_bytes(version.artifact_sha256, name=f"{version.ref} model")

    def load_model(self, ref: str, *, trust: Trust | None = None) -> Any:
        """The model of ``ref``: its bytes verified against the recorded SHA-256, then loaded.

        The recorded format only says how to read the bytes; what may be loaded is the
        caller's ``trust`` (default: skloop's own types, no pickle), as in :func:`load_model`.

        Raises
        ------
        ArtifactIntegrityError
            The stored bytes do not match the recorded SHA-256 (checked before anything loads).
        UntrustedModelError
            The artifact needs more trust than ``trust`` gives.
        """
        from skloop.registry._persistence import load_model

        version = self.resolve(ref)
        data = self.store.artifacts.get_bytes(version.artifact_sha256, name=f"{version.ref} model")
        return load_model(data, version.artifact_format, trust=trust, name=f"the model artifact of {version.ref}")

    def _require_model(self, name: str) -> None:
        if name not in self.store.models.model_names():
            names = ", ".join(self.store.models.model_names()) or "none"
            raise ModelNotFoundError(f"model {name!r} is not in the registry; known models: {names}")

    def _no_alias(self, name: str, alias: str) -> ModelNotFoundError:
        self._require_model(name)
        known = ", ".join(self.store.models.get_aliases(name)) or "none"
        return ModelNotFoundError(f"model {name!r} has never had alias {alias!r}; its aliases are: {known}")


def _previous_holder(history: Sequence[AliasEvent], current: int | None) -> int | None:
    """Replay the log as a stack (a rollback pops), then skip the current holder."""
    stack: list[int | None] = []
    for event in history:
        if event.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != event.to_version:
                stack.append(event.to_version)
        else:
            stack.append(event.to_version)
    while stack and stack[-1] in (current, None):
        stack.pop()
    return stack[-1] if stack else None
