"""Register a finished training run after the fact (``skloop register RUN``).

Used when training and registration are separate steps, as in the Kubeflow pipeline:
the holdout is rebuilt from the run's data snapshot with the same seed, so the
signature, importance and card are the ones ``skloop train`` would have recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skloop.core import Settings, UsageError, spec_from_dict
from skloop.registry import Registry, Trust, check_gates, load_model
from skloop.store import Store
from skloop.workflows._reproduce import training_frame
from skloop.workflows._train import MODEL_ARTIFACT, TrainResult, prepare_data
from skloop.workflows._train_register import check_parent_version, register_result

__all__ = ["RegisterOutcome", "register_run"]


@dataclass(frozen=True)
class RegisterOutcome:
    """What ``register_run`` did: the version made (or, dry, what the gates say)."""

    run_id: str
    name: str
    version: int | None
    gate_failures: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def passed(self) -> bool:
        """Whether every gate passed."""
        return not self.gate_failures


def register_run(
    run_id: str,
    settings: Settings,
    *,
    store: Store,
    dry_run: bool = False,
    force: bool = False,
    trust: Trust | None = None,
    parent_version: int | None = None,
) -> RegisterOutcome:
    """Check the gates of a finished ``train`` run and, unless ``dry_run``, register its model.

    The run's model loads with the caller's ``trust`` (``--trust-type``, the project's
    ``registry.trusted_types``), never with the types its own spec snapshot lists.
    ``parent_version`` (``--parent``) records the version of the model the new one was
    retrained or derived from; it must be an existing version of the run's model.

    Raises
    ------
    UsageError
        When the run is not a finished training run.
    RegistryError
        When the run is already a version of its model (``skloop train`` registers
        it), unless ``force`` asks for another version of it.
    """
    run = store.runs.get_run(run_id)
    if run.kind != "train" or run.status != "finished" or run.spec is None:
        raise UsageError(f"run {run.id} is a {run.status} {run.kind} run; only finished training runs are registered")
    spec = spec_from_dict(run.spec, file=f"spec snapshot of run {run.id}")
    if dry_run:
        return RegisterOutcome(run.id, spec.name, None, check_gates(spec.gates, run.metrics), dry_run=True)
    if not force:  # before rebuilding the holdout and the importance for nothing
        Registry(store).check_not_registered(run.id, spec.name)
    if parent_version is not None:  # likewise: a wrong parent is an error before the work
        check_parent_version(store, spec.name, parent_version)
    frame, fingerprint = training_frame(store, run, settings, spec)
    data = prepare_data(spec, settings.base_dir, frame)
    model = load_model(
        store.runs.load_artifact(run.id, MODEL_ARTIFACT),
        "skops",
        trust=Trust.of(settings) | (trust or Trust()),
        name=f"the model artifact of run {run.id}",
    )
    result = TrainResult(
        run_id=run.id,
        task=data.task,
        best_params={k.removeprefix("best."): v for k, v in run.params.items() if k.startswith("best.")},
        cv={},
        holdout={},
        refit_metric=run.params.get("search.refit", ""),
        n_candidates=0,
        dataset_fingerprint=fingerprint,
        duration_s=0.0,
        model=model,
        positive_class=data.positive,
    )
    registered = register_result(
        spec, store, result, data, result.refit_metric, force=force, parent_version=parent_version
    )
    return RegisterOutcome(run.id, spec.name, registered.model_version, registered.gate_failures)
