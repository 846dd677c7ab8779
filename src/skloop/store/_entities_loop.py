"""Entities of the loop's records: decisions, step records and locks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Decision", "LoopLock", "StepRecord"]


@dataclass(frozen=True)
class Decision:
    """One evaluation of a model's loop policy, and what came of it.

    Parameters
    ----------
    id : str
        32 hex characters.
    name : str
        The model.
    status : {"running", "finished", "failed"}
        ``running`` until its last step ends (a killed loop leaves it so; the next run
        resumes it).
    outcome : str or None
        ``none`` (no trigger fired), ``blocked`` (a guard rail held a retrain back),
        ``kept`` (the challenger was not promoted), ``promoted``, ``rolled_back``, or
        ``failed``.
    reason : str or None
        Why, in a sentence.
    evaluated_at : datetime
        The time the policy was evaluated at (windows end there).
    started, ended : datetime
    champion_version, challenger_version : int or None
    retrain_run_id : str or None
    triggers : list of dict
        Every trigger evaluated: ``name``, ``fired``, ``value``, ``threshold``, ``detail``.
    fired : tuple of str
        Names of the triggers that fired.
    comparison : dict or None
        Champion against challenger (see :class:`skloop.monitor.ModelComparison`).
    details : dict
        Everything else the steps recorded (windows, rows, guard rails, probation).
    """

    id: str
    name: str
    status: str
    outcome: str | None
    reason: str | None
    evaluated_at: datetime
    started: datetime
    ended: datetime | None = None
    champion_version: int | None = None
    challenger_version: int | None = None
    retrain_run_id: str | None = None
    triggers: list[dict[str, Any]] = field(default_factory=list)
    fired: tuple[str, ...] = ()
    comparison: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    hostname: str | None = None

    @property
    def promoted(self) -> bool:
        """Whether this decision moved the alias to the challenger."""
        return self.outcome == "promoted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601)."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            out[key] = value.isoformat() if isinstance(value, datetime) else list(value) if key == "fired" else value
        return out


@dataclass(frozen=True)
class StepRecord:
    """One step of one decision.

    Parameters
    ----------
    decision_id, name, step : str
    inputs_hash : str or None
        SHA-256 of the step's inputs (canonical JSON).
    status : {"running", "finished", "failed", "skipped"}
    outputs : dict
    error : str or None
    cached_from : str or None
        The decision whose finished step with the same inputs was reused.
    started, ended : datetime
    """

    decision_id: str
    name: str
    step: str
    inputs_hash: str | None
    status: str
    outputs: dict[str, Any]
    error: str | None
    cached_from: str | None
    started: datetime
    ended: datetime | None


@dataclass(frozen=True)
class LoopLock:
    """The process that runs a model's loop, until ``expires`` unless renewed."""

    name: str
    owner: str
    pid: int | None
    hostname: str | None
    acquired: datetime
    expires: datetime
