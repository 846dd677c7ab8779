"""Registering a training run's model: its signature, importance and card, checked by the gates.

Kept apart from :mod:`skloop.workflows._train` (which calls it at the end of ``train``)
and used again by ``skloop register`` (:mod:`skloop.workflows._register`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from skloop.core import ModelNotFoundError, Spec
from skloop.pipelines import build_scorers
from skloop.store import Store

if TYPE_CHECKING:
    from skloop.workflows._train import PreparedData, TrainResult

__all__ = ["check_parent_version", "importance_of", "register_result"]


def importance_of(spec: Spec, data: PreparedData, model: Any, refit: str) -> Any:
    """Permutation importance of ``model`` on the holdout by the refit metric (``None`` without a holdout)."""
    from skloop.registry import column_importance

    if data.X_holdout is None or data.y_holdout is None or len(data.X_holdout) == 0:
        return None
    scorer = build_scorers([refit], data.positive)[refit]
    return column_importance(model, data.X_holdout, data.y_holdout, scoring=scorer, seed=spec.seed)


_COMPUTE: Any = object()
"""``register_result``'s default ``importance``: compute it there."""


def check_parent_version(store: Store, name: str, parent_version: int) -> None:
    """Raise :class:`ModelNotFoundError` unless ``parent_version`` is a version of ``name``.

    Registration checks it again in its transaction; this names a wrong ``--parent``
    before the search or the importance is computed for nothing.
    """
    try:
        store.models.get_model_version(name, parent_version)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"parent version {parent_version}: {exc}") from None


def register_result(
    spec: Spec,
    store: Store,
    result: TrainResult,
    data: PreparedData,
    refit: str,
    *,
    force: bool = False,
    parent_version: int | None = None,
    importance: Any = _COMPUTE,
) -> TrainResult:
    """Register the finished run's model under ``spec.name``, checked against ``spec.gates``.

    The signature, the permutation importance on the holdout (unless ``importance`` is
    given: the training run computes it while its model is being saved) and the model
    card are computed here and stored with the version (with its ``parent_version``, if
    any). A run already registered under ``spec.name`` is refused unless ``force`` (see
    :meth:`Registry.register`).
    """
    from skloop.registry import Registry, infer_signature

    signature = infer_signature(
        data.X_train, data.y_train, task=data.task, model=result.model, positive_class=data.positive,
        not_numbers=data.not_numbers,
    )  # fmt: skip
    if importance is _COMPUTE:
        importance = importance_of(spec, data, result.model, refit)
    card = _card_markdown(spec, store, result, signature, importance, parent_version)
    version = Registry(store).register(
        result.run_id,
        spec.name,
        gates=spec.gates,
        signature=signature.to_dict(),
        importance=importance,
        card=card,
        format=spec.registry.format,
        force=force,
        parent_version=parent_version,
    )
    failures = version.rejection_reason.split("; ") if version.rejection_reason else []
    return replace(result, model_version=version.version, gate_failures=failures)


def _card_markdown(
    spec: Spec, store: Store, result: TrainResult, signature: Any, importance: Any, parent_version: int | None
) -> str:
    from skloop.registry import build_card, render_markdown

    run = store.runs.get_run(result.run_id)
    cv_results = json.loads(store.runs.load_artifact(run.id, "cv_results.json"))
    card = build_card(
        name=spec.name,
        version=None,  # the number is given by the registry when the version is created
        run=run,
        dataset=store.datasets.get_dataset(result.dataset_fingerprint),
        importance=importance,
        signature=signature,
        pipeline=result.model,
        cv_results=cv_results,
        parent_version=parent_version,
    )
    return render_markdown(card)
