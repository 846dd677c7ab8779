"""Retention of the prediction log: ``skloop db prune``, from ``monitoring.retention`` or a given age.

The store deletes (:meth:`skloop.store.PredictionStore.prune`); this module says how
old is too old and which rows the loop still needs: for a decision of the spec's model
that has not finished, the traffic its steps read back from its ``evaluated_at`` (the
longest of ``loop.data.window``, ``loop.monitor_history`` and ``loop.probation.window``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from skloop.core import Spec, UsageError, parse_duration, utcnow
from skloop.store import PruneResult, Store

__all__ = ["loop_reach", "prune_log"]


def loop_reach(spec: Spec) -> timedelta:
    """How far back from a decision's time the loop of ``spec`` reads the log."""
    loop = spec.loop
    lengths = [loop.data.window, loop.monitor_history, loop.probation.window]
    return max(parse_duration(t) for t in lengths if t is not None)


def prune_log(
    store: Store,
    spec: Spec | None,
    *,
    older_than: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = 5_000,
) -> PruneResult:
    """Delete the logged predictions older than ``older_than`` (default: the spec's ``monitoring.retention``).

    Parameters
    ----------
    store : Store
    spec : Spec or None
        The project's spec: its retention, and what its loop reads back. Without one,
        a running decision of any model keeps all of that model's rows.
    older_than : str, optional
        A duration such as ``90d``; overrides ``monitoring.retention``.
    dry_run : bool
        Count what would be deleted; delete nothing.
    now : datetime, optional
        The time the age is counted from (default: now).
    batch_size : int
        Predictions deleted per transaction.

    Raises
    ------
    UsageError
        No age given and the spec sets no ``monitoring.retention``, or a bad duration.
    """
    text = older_than if older_than is not None else (spec.monitoring.retention if spec is not None else None)
    if text is None:
        raise UsageError("no retention: pass --older-than 90d, or set monitoring.retention (e.g. 90d) in the spec")
    try:
        age = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    now = now or utcnow()
    try:
        cutoff = now - age
    except OverflowError:
        raise UsageError(f"--older-than {text} reaches back before the year 1; give a shorter duration") from None
    protect = {spec.name: loop_reach(spec)} if spec is not None else None
    return store.predictions.prune(cutoff, protect=protect, dry_run=dry_run, batch_size=batch_size)
