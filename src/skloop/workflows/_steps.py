"""A small step runner: named steps in dependency order, each recorded in the store.

Each step gets the outputs of the steps before it and returns a JSON-able dict. Before
it runs, its inputs are hashed (SHA-256 of canonical JSON); then

* a finished record of the same step of the same decision with the same hash is
  *resumed*: its outputs are reused (a loop killed mid-way picks up after the last
  finished step);
* otherwise, for a step marked ``cache``, a finished record of the same step of any
  earlier decision of the model with the same hash is reused (*cached*): an unchanged
  step is not run again;
* otherwise the step runs, recorded ``running`` first, then ``finished`` with its
  outputs or ``failed`` with the error.

A step whose outputs hold ``"stop": true`` ends the run: the steps after it are
recorded ``skipped``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skloop.core import SkloopError
from skloop.store import Store

__all__ = ["STEP_EVENTS", "Step", "StepOutcome", "hash_inputs", "run_steps"]

logger = logging.getLogger(__name__)

#: What :func:`run_steps` tells ``on_step`` happened to a step.
STEP_EVENTS = ("ran", "resumed", "cached", "skipped")

Outputs = dict[str, Any]


def hash_inputs(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys; other objects as text).

    Examples
    --------
    >>> hash_inputs({"b": 1, "a": [1, 2]}) == hash_inputs({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Step:
    """One step of a run.

    Parameters
    ----------
    name : str
    run : callable
        ``run(outputs)`` with the outputs of the earlier steps by name; returns a
        JSON-able dict (``"stop": True`` ends the run after this step).
    after : tuple of str
        Steps that must finish first.
    inputs : callable, optional
        ``inputs(outputs)`` returns what identifies the step's work (hashed); default:
        the outputs of the ``after`` steps.
    cache : bool
        Reuse a finished record of an earlier decision with the same inputs. Leave it
        off for steps whose effect is outside the store's view (ingesting a log,
        moving an alias).
    """

    name: str
    run: Callable[[Mapping[str, Outputs]], Outputs]
    after: tuple[str, ...] = ()
    inputs: Callable[[Mapping[str, Outputs]], Any] | None = None
    cache: bool = True


@dataclass(frozen=True)
class StepOutcome:
    """What :func:`run_steps` did: the outputs and the event of each step, and where it stopped."""

    outputs: dict[str, Outputs] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    stopped_at: str | None = None


def _order(steps: Sequence[Step]) -> list[Step]:
    by_name = {s.name: s for s in steps}
    if len(by_name) != len(steps):
        raise SkloopError("two steps share a name; step names must be unique")
    done: list[Step] = []
    seen: set[str] = set()

    def visit(step: Step, path: tuple[str, ...]) -> None:
        if step.name in seen:
            return
        if step.name in path:
            raise SkloopError(f"the steps form a cycle: {' -> '.join((*path, step.name))}")
        for dep in step.after:
            if dep not in by_name:
                raise SkloopError(f"step {step.name!r} runs after {dep!r}, which is not a step")
            visit(by_name[dep], (*path, step.name))
        seen.add(step.name)
        done.append(step)

    for step in steps:
        visit(step, ())
    return done


def run_steps(
    steps: Sequence[Step],
    *,
    store: Store,
    decision_id: str,
    name: str,
    on_step: Callable[[str, str, Outputs], None] | None = None,
) -> StepOutcome:
    """Run ``steps`` in dependency order for one decision, recording each in the store.

    Parameters
    ----------
    steps : sequence of Step
    store : Store
    decision_id : str
        The decision the records belong to.
    name : str
        The model (cached records are looked up among its decisions).
    on_step : callable, optional
        ``on_step(step, event, outputs)`` after each step; ``event`` is one of
        :data:`STEP_EVENTS`.

    Returns
    -------
    StepOutcome

    Raises
    ------
    Exception
        Whatever a step raised, after its record is marked ``failed``.
    """
    previous = {r.step: r for r in store.loop.list_steps(decision_id)}
    outputs: dict[str, Outputs] = {}
    events: dict[str, str] = {}
    stopped_at: str | None = None
    for step in _order(steps):
        if stopped_at is not None or any(events.get(d) == "skipped" for d in step.after):
            store.loop.record_step(decision_id, step.name, name=name, status="skipped")
            events[step.name] = "skipped"
            if on_step is not None:
                on_step(step.name, "skipped", {})
            continue
        inputs = step.inputs(outputs) if step.inputs is not None else {d: outputs[d] for d in step.after}
        digest = hash_inputs({"step": step.name, "inputs": inputs})
        record = previous.get(step.name)
        if record is not None and record.status == "finished" and record.inputs_hash == digest:
            out, event = record.outputs, "resumed"
        else:
            cached = store.loop.cached_step(name, step.name, digest) if step.cache else None
            if cached is not None:
                out, event = cached.outputs, "cached"
                store.loop.record_step(
                    decision_id, step.name, name=name, status="finished", inputs_hash=digest, outputs=out,
                    cached_from=cached.decision_id,
                )  # fmt: skip
            else:
                store.loop.record_step(decision_id, step.name, name=name, status="running", inputs_hash=digest)
                try:
                    out = step.run(outputs)
                except BaseException as exc:
                    text = "".join(traceback.format_exception_only(exc)).strip()
                    store.loop.record_step(
                        decision_id, step.name, name=name, status="failed", inputs_hash=digest, error=text
                    )
                    raise
                store.loop.record_step(
                    decision_id, step.name, name=name, status="finished", inputs_hash=digest, outputs=out
                )
                event = "ran"
        outputs[step.name] = out
        events[step.name] = event
        logger.info("step %s of decision %s: %s", step.name, decision_id[:8], event)
        if on_step is not None:
            on_step(step.name, event, out)
        if out.get("stop"):
            stopped_at = step.name
    return StepOutcome(outputs=outputs, events=events, stopped_at=stopped_at)
