"""The loop's policy: which triggers fire, and which guard rails hold a retrain back.

Pure functions of what the monitor step saw and what the store remembers, so the
``decide`` step is cheap, deterministic and cacheable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from skloop.core import LoopSpec, ModelNotFoundError, Spec, parse_duration, utcnow
from skloop.store import Decision, Store

logger = logging.getLogger(__name__)

__all__ = [
    "conclusion",
    "evaluate_guards",
    "evaluate_triggers",
    "holder_after",
    "last_retrain",
    "marker",
    "open_decision",
    "resolve_metric",
    "retrains_since",
]


def resolve_metric(metric: str, task: str, n_classes: int, has_proba: bool) -> str:
    """``auto``: ``roc_auc`` for a binary classifier with probabilities, else ``accuracy``; ``rmse``."""
    if metric != "auto":
        return metric
    if task == "regression":
        return "rmse"
    return "roc_auc" if n_classes == 2 and has_proba else "accuracy"


_SCOPES = {"latest": " of the latest window", "since_champion": " since the champion took over"}


def _long_view(monitor: Mapping[str, Any]) -> str:
    """The long view's drift, as a clause (the triggers judge the latest window)."""
    long = monitor.get("long_view") or {}
    drift = long.get("drift")
    if drift is None or long.get("n_rows") == monitor.get("n_rows"):
        return ""
    return (
        f"; since the champion took over, {len(drift['drifted_features'])} of {drift['n_features']} "
        f"over {long['n_rows']} rows"
    )


def _trigger(name: str, fired: bool, value: Any, threshold: Any, detail: str) -> dict[str, Any]:
    return {"name": name, "fired": bool(fired), "value": value, "threshold": threshold, "detail": detail}


def _multivariate_trigger(monitor: Mapping[str, Any]) -> dict[str, Any]:
    """The multivariate trigger: the domain classifier's AUC (else the reconstruction error) of the latest window."""
    mv = monitor.get("multivariate")
    if mv is None or "drifted" not in mv:
        why = (mv or {}).get("reason", "no multivariate result in the latest window")
        return _trigger("multivariate", False, None, None, f"not judged: {why}")
    where = f" in the latest {monitor['window']} ({mv['n_rows']} rows)" if monitor.get("window") else ""
    parts = []
    if mv.get("auc") is not None:
        parts.append(f"domain classifier AUC {mv['auc']:.3f} (drifts at {mv['auc_threshold']:.3f})")
    if mv.get("error") is not None:
        lo, hi = mv["band"]
        parts.append(f"reconstruction error {mv['error']:.3f} (reference band {lo:.3f}–{hi:.3f})")
    by_auc = mv.get("auc") is not None
    value = mv["auc"] if by_auc else mv["error"]
    threshold = mv["auc_threshold"] if by_auc else mv["band"][1]
    return _trigger("multivariate", mv["drifted"], value, threshold, "; ".join(parts) + where)


def evaluate_triggers(
    policy: LoopSpec,
    monitor: Mapping[str, Any],
    *,
    since_retrain_hours: float | None,
    new_labels: int,
) -> list[dict[str, Any]]:
    """Each enabled trigger: ``name``, ``fired``, ``value``, ``threshold`` and a ``detail`` sentence."""
    t = policy.triggers
    out: list[dict[str, Any]] = []
    drift = monitor.get("drift")
    if drift is not None:
        where = f" in the latest {monitor['window']} ({monitor['n_rows']} rows)" if monitor.get("window") else ""
        if t.drift:
            out.append(_trigger(
                "drift", drift["drifted"], round(drift["share"], 4), drift["threshold"],
                f"{len(drift['drifted_features'])} of {drift['n_features']} features drifted{where} "
                f"({100 * drift['share']:.0f}%; the verdict needs {100 * drift['threshold']:.0f}%)"
                + _long_view(monitor),
            ))  # fmt: skip
        if t.top_features is not None:
            top = list(monitor.get("top_features") or [])[: t.top_features.k]
            hit = [f for f in top if f in drift["drifted_features"]]
            out.append(_trigger(
                "top_features", len(hit) >= t.top_features.min_drifted and bool(top), len(hit),
                t.top_features.min_drifted,
                f"{len(hit)} of the {len(top)} most important features drifted{where}"
                + (f" ({', '.join(hit)})" if hit else ""),
            ))  # fmt: skip
        if t.quality:
            issues = list(monitor.get("quality_issues") or [])
            out.append(_trigger("quality", bool(issues), len(issues), 0, f"{len(issues)} data-quality issue(s)"))
    if t.multivariate and (drift is not None or monitor.get("multivariate") is not None):
        out.append(_multivariate_trigger(monitor))
    perf = monitor.get("performance")
    if t.performance is not None:
        if perf is None or perf.get("value") is None:
            n = 0 if perf is None else perf.get("n_labeled", 0)
            out.append(_trigger("performance", False, None, None, f"not judged: {n} labelled rows of the champion"))
        elif perf["n_labeled"] < t.performance.min_labels:
            out.append(_trigger(
                "performance", False, round(perf["value"], 4), None,
                f"not judged: {perf['n_labeled']} labelled rows, {t.performance.min_labels} needed",
            ))  # fmt: skip
        elif perf.get("reference") is None:
            out.append(_trigger(
                "performance", False, round(perf["value"], 4), None,
                f"not judged: the champion has no training holdout {perf['metric']} to compare with",
            ))  # fmt: skip
        else:
            greater = perf["greater_is_better"]
            drop = (perf["reference"] - perf["value"]) if greater else (perf["value"] - perf["reference"])
            limit = perf["reference"] - t.performance.margin if greater else perf["reference"] + t.performance.margin
            scope = _SCOPES.get(perf.get("scope", ""), "")
            out.append(_trigger(
                "performance", drop > t.performance.margin, round(perf["value"], 4), round(limit, 4),
                f"{perf['metric']} {perf['value']:.3f} on {perf['n_labeled']} labelled rows{scope} vs "
                f"{perf['reference']:.3f} on the training holdout (allowed drop {t.performance.margin:g})",
            ))  # fmt: skip
    if t.schedule is not None:
        every = parse_duration(t.schedule).total_seconds() / 3600
        fired = since_retrain_hours is None or since_retrain_hours >= every
        seen = "never retrained" if since_retrain_hours is None else f"last retrain {since_retrain_hours:g}h ago"
        out.append(_trigger("schedule", fired, since_retrain_hours, round(every, 2), f"{seen}; every {t.schedule}"))
    if t.new_labels is not None:
        out.append(_trigger(
            "new_labels", new_labels >= t.new_labels, new_labels, t.new_labels,
            f"{new_labels} new labelled rows since the last retrain",
        ))  # fmt: skip
    return out


def last_retrain(decisions: Sequence[Decision], before: datetime) -> Decision | None:
    """The latest decision evaluated before ``before`` that retrained."""
    done = [d for d in decisions if d.retrain_run_id is not None and d.evaluated_at < before]
    return max(done, key=lambda d: d.evaluated_at) if done else None


def retrains_since(decisions: Sequence[Decision], start: datetime, before: datetime) -> int:
    """How many decisions evaluated in ``[start, before)`` retrained."""
    return sum(1 for d in decisions if d.retrain_run_id is not None and start <= d.evaluated_at < before)


def evaluate_guards(
    policy: LoopSpec, *, since_retrain_hours: float | None, retrains_24h: int, window_rows: int
) -> list[str]:
    """Reasons a retrain is held back now (empty: none)."""
    reasons = []
    g = policy.guards
    if g.cooldown is not None and since_retrain_hours is not None:
        cooldown = parse_duration(g.cooldown).total_seconds() / 3600
        if since_retrain_hours < cooldown:
            reasons.append(f"cooldown: the last retrain was {since_retrain_hours:g}h ago, the cooldown is {g.cooldown}")
    if g.max_per_day is not None and retrains_24h >= g.max_per_day:
        reasons.append(f"max_per_day: {retrains_24h} retrains in the last 24h, at most {g.max_per_day}")
    if window_rows < policy.data.min_rows:
        reasons.append(
            f"not enough data: {window_rows} labelled rows in the last {policy.data.window}, "
            f"{policy.data.min_rows} needed (loop.data.min_rows)"
        )
    return reasons


def holder_after(decision: Decision) -> int | None:
    if decision.outcome == "promoted":
        return decision.challenger_version
    probation = decision.details.get("probation") or {}
    return probation.get("to_version")


def open_decision(store: Store, spec: Spec, name: str, now: datetime | None) -> Decision:
    """The running decision of ``name`` to resume, or a new one with the current champion."""
    running = store.loop.list_decisions(name, status="running")
    for stale in running[:-1]:
        store.loop.finish_decision(stale.id, status="failed", outcome="failed", reason="superseded by a later decision")
    if running:
        logger.info("resuming loop decision %s of %r", running[-1].id, name)
        return running[-1]
    alias = spec.loop.alias
    if name not in store.models.model_names():
        raise ModelNotFoundError(f"model {name!r} is not in the registry; train and promote a version first")
    champion = store.models.get_aliases(name).get(alias)
    if champion is None:
        raise ModelNotFoundError(
            f"model {name!r} has no {alias!r} alias for the loop to watch; promote a version first "
            f"('skloop promote {name} VERSION --alias {alias}')"
        )
    decision = store.loop.create_decision(name, evaluated_at=now or utcnow(), details={"alias": alias})
    return store.loop.update_decision(decision.id, champion_version=champion)


def marker(decision_id: str) -> str:
    return f"loop decision {decision_id}"


def conclusion(o: Mapping[str, Any], decision: Decision) -> tuple[str, str]:
    """A finished decision's outcome and reason, from its steps' outputs ``o``."""
    probation = o.get("probation") or {}
    if probation.get("rolled_back"):
        return "rolled_back", str(probation["reason"]).removeprefix(f"{marker(decision.id)}: ")
    decide = o["decide"]
    if not decide["fired"]:
        names = ", ".join(t["name"] for t in decide["triggers"]) or "none enabled"
        return "none", f"no trigger fired (checked: {names}); v{decision.champion_version} stays"
    if decide["blocked"]:
        return "blocked", f"{', '.join(decide['fired'])} fired, but held back: {'; '.join(decide['blocked'])}"
    promote = o.get("promote")
    if promote is None:
        return "kept", str(o["evaluate"]["reason"])
    reason = str(promote["reason"]).removeprefix(f"{marker(decision.id)}: ")
    return ("promoted", reason) if promote["promoted"] else ("kept", reason)
