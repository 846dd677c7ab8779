"""The model card of a registered version, rebuilt from what the registry recorded."""

from __future__ import annotations

import json
from typing import Any

from skloop.core import NotFoundError
from skloop.registry._card import ModelCard, build_card
from skloop.registry._signature import Signature
from skloop.registry._trust import Trust

__all__ = ["version_card"]


def version_card(registry: Any, ref: str, *, trust: Trust | None = None) -> ModelCard:
    """The card of ``ref`` (``name@alias``, ``name/version``), with its version number.

    The card is built from the version's run, dataset, signature and importance, and
    from the model itself, loaded through the same checks as any load: the caller's
    ``trust`` (:class:`~skloop.registry.Trust`; default skloop's own types, no pickle).
    """
    version = registry.resolve(ref)
    store = registry.store
    run = store.runs.get_run(version.run_id)
    try:
        cv_results = json.loads(store.runs.load_artifact(run.id, "cv_results.json"))
    except NotFoundError:
        cv_results = None
    dataset = store.datasets.get_dataset(version.dataset_fingerprint) if version.dataset_fingerprint else None
    signature = Signature.from_dict(version.signature) if version.signature else None
    model = registry.load_model(version.ref, trust=trust)
    return build_card(
        name=version.name,
        version=version.version,
        run=run,
        dataset=dataset,
        importance=version.importance,
        signature=signature,
        pipeline=model,
        cv_results=cv_results,
        parent_version=version.parent_version,
    )
