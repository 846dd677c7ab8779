"""The continuous-training loop: probation → monitor → decide → retrain → evaluate → promote.

:func:`run_loop` evaluates a model's ``loop:`` policy once and returns the
:class:`~skloop.store.Decision` it recorded. The steps run through
:func:`~skloop.workflows._steps.run_steps`, each recorded in the store, so a loop
killed mid-way resumes its unfinished decision on the next call (same evaluation
time, same champion, finished steps reused) and never promotes twice: the promotion
checks the alias before moving it (``expected_current``) and recognises its own
earlier move by the decision id in the alias event's reason. One loop per model runs
at a time (the store's loop lock).

The steps:

``ingest``
    Moves the project's prediction log into the store (what the server and
    ``skloop predict --log`` wrote).
``probation``
    If the champion was promoted by the loop less than ``probation.window`` ago, its
    live metric on labelled traffic since then is compared with what the old champion
    scored at the comparison; worse by more than ``probation.margin`` rolls the alias
    back, and the decision ends there.
``monitor``
    Drift, data quality and realised performance of the latest window of traffic
    (``monitor_window``: a duration or a row count), which the triggers judge, and of
    the long view next to it: all traffic since the champion took over (at most
    ``monitor_history``), recorded but not judged, since fresh drift is diluted there.
``decide``
    Which triggers fired, and whether a guard rail (cooldown, retrains per day, too
    few labelled rows) holds the retrain back.
``retrain``
    Trains the spec on the retraining window (see :mod:`skloop.workflows._loop_data`)
    as a ``retrain`` run tagged with its window, registered, not promoted.
``evaluate``
    Champion and challenger on the window's newest rows, which the challenger never
    trained on (:func:`skloop.monitor.compare_models`); promote only when the
    challenger is better by the margin at the confidence, and passed its gates.
``promote``
    Moves the alias to the challenger.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import (
    Settings,
    SkloopError,
    Spec,
    StoreError,
    parse_duration,
    parse_window_length,
)
from skloop.data import class_name
from skloop.monitor import MonitorReport, compare_models, monitor_pages
from skloop.registry import Registry, Signature, Trust, default_actor
from skloop.store import Decision, ModelVersion, Store
from skloop.workflows._loop_data import BASE_TAG, hours, load_window, retrain_spec, training_frame_for, typed_inputs
from skloop.workflows._loop_log import drift_summary, labelled_log, log_pages, newest_key, realised_metric, rows_digest
from skloop.workflows._loop_policy import (
    conclusion,
    evaluate_guards,
    evaluate_triggers,
    holder_after,
    last_retrain,
    marker,
    open_decision,
    resolve_metric,
    retrains_since,
)
from skloop.workflows._progress import NullProgress, Progress
from skloop.workflows._steps import Step, StepOutcome, hash_inputs, run_steps

__all__ = ["LOOP_STEPS", "run_loop"]

logger = logging.getLogger(__name__)

#: The loop's steps, in order.
LOOP_STEPS = ("ingest", "probation", "monitor", "decide", "retrain", "evaluate", "promote")
_ACTOR = "skloop loop"


def _vtext(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"


@dataclass
class _Loop:
    """One decision's state while its steps run."""

    spec: Spec
    settings: Settings
    store: Store
    decision: Decision
    progress: Progress
    name: str
    trust: Trust
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.decision.evaluated_at

    @property
    def alias(self) -> str:
        return self.spec.loop.alias

    @property
    def registry(self) -> Registry:
        return Registry(self.store)

    def version(self, number: int) -> ModelVersion:
        return self.store.models.get_model_version(self.name, number)

    def load(self, version: ModelVersion) -> Any:
        # the caller's trust only: a version's recorded format says how to read it, not whether to
        return self.registry.load_model(version.ref, trust=self.trust)

    def champion(self) -> ModelVersion:
        assert self.decision.champion_version is not None
        return self.version(self.decision.champion_version)

    def task_of(self, version: ModelVersion, model: Any) -> tuple[str, list[Any] | None]:
        signature = Signature.from_dict(version.signature) if version.signature else None
        if signature is not None:
            task = signature.output.task
        else:
            task = "classification" if hasattr(model, "classes_") else "regression"
        classes = list(model.classes_) if task == "classification" and hasattr(model, "classes_") else None
        return task, classes

    @staticmethod
    def positive_of(version: ModelVersion) -> Any:
        """The positive class recorded with the version (binary classifiers; else ``None``)."""
        return Signature.from_dict(version.signature).output.positive_class if version.signature else None

    def champion_since(self) -> datetime:
        """When the champion took over: the loop decision that moved it there, else the alias move."""
        v = self.decision.champion_version
        moves = [
            d for d in self.store.loop.list_decisions(self.name, status="finished")
            if d.outcome in ("promoted", "rolled_back") and d.evaluated_at <= self.now
        ]  # fmt: skip
        if moves and holder_after(moves[-1]) == v:
            return moves[-1].evaluated_at
        events = [
            e
            for e in self.store.models.alias_history(self.name, self.alias)
            if e.to_version == v and e.time <= self.now
        ]
        return events[-1].time if events else self.now - parse_duration(self.spec.loop.monitor_history)

    def monitor_start(self) -> datetime:
        """Where the long view starts: when the champion took over, at most ``monitor_history`` ago."""
        if "monitor_start" not in self._memo:
            since = max(self.now - parse_duration(self.spec.loop.monitor_history), self.champion_since())
            self._memo["monitor_start"] = since
        return self._memo["monitor_start"]  # type: ignore[no-any-return]

    def latest_bounds(self) -> tuple[datetime, tuple[datetime, int] | None, int]:
        """The window the triggers judge, the last ``monitor_window`` (time or rows) of the long view.

        Its start, the ``(time, id)`` of its first row for a window of rows (else
        ``None``), and its row count.
        """
        if "latest" not in self._memo:
            start = self.monitor_start()
            length = parse_window_length(self.spec.loop.monitor_window)
            count = self.store.predictions.count_predictions
            if isinstance(length, int):
                key = newest_key(self.store, self.name, start=start, end=self.now, n=length)
                n = min(length, count(self.name, start=start, end=self.now)) if key is not None else 0
                self._memo["latest"] = (key[0] if key is not None else start, key, n)
            else:
                start = max(start, self.now - length)
                self._memo["latest"] = (start, None, count(self.name, start=start, end=self.now))
        return self._memo["latest"]  # type: ignore[no-any-return]

    # -- steps -------------------------------------------------------------------

    def ingest(self, _: Mapping[str, Any]) -> dict[str, Any]:
        from skloop.serve import default_log_dir, ingest_once

        folder = default_log_dir(self.settings)
        n = ingest_once(folder, self.store) if folder.is_dir() else 0
        return {"ingested": n, "log_dir": str(folder)}

    def probation(self, _: Mapping[str, Any]) -> dict[str, Any]:
        policy = self.spec.loop.probation
        mine = [
            e
            for e in self.store.models.alias_history(self.name, self.alias)
            if marker(self.decision.id) in (e.reason or "")
        ]
        if any(e.action == "rollback" for e in mine):  # this decision rolled back before it was killed
            e = next(e for e in mine if e.action == "rollback")
            return {"checked": True, "rolled_back": True, "from_version": e.from_version, "to_version": e.to_version,
                    "reason": e.reason, "stop": True}  # fmt: skip
        if policy.window is None:
            return {"checked": False, "reason": "probation is off (loop.probation.window: null)"}
        current = self.store.models.get_aliases(self.name).get(self.alias)
        promos = [] if current is None else [
            d for d in self.store.loop.list_decisions(self.name, status="finished", challenger_version=current)
            if d.outcome == "promoted" and d.comparison
        ]  # fmt: skip
        if current is None or not promos:
            return {"checked": False, "reason": f"{self.name}@{self.alias} was not promoted by the loop"}
        promo = promos[-1]
        since = promo.evaluated_at
        age = self.now - since
        if age > parse_duration(policy.window):
            return {"checked": False, "reason": f"v{current} passed probation ({policy.window} since its promotion)"}
        old = promo.comparison or {}
        metric, old_value, old_version = old.get("metric"), old.get("champion"), promo.champion_version
        rows = labelled_log(self.store, self.name, start=since, end=self.now, version=current)
        base = {"checked": True, "version": current, "old_version": old_version, "metric": metric,
                "old_value": old_value, "n_labeled": len(rows), "since": since.isoformat()}  # fmt: skip
        if len(rows) < policy.min_labels or metric is None or old_value is None or old_version is None:
            reason = f"{len(rows)} labelled rows of v{current} since its promotion, {policy.min_labels} needed"
            return {**base, "judged": False, "rolled_back": False, "reason": reason}
        version = self.version(current)
        model = self.load(version)
        task, classes = self.task_of(version, model)
        live = realised_metric(rows, metric, task, classes, positive=self.positive_of(version))
        greater = bool(old.get("greater_is_better", True))
        worse = live is not None and (live < old_value - policy.margin if greater else live > old_value + policy.margin)
        base.update(judged=True, live=live)
        if not worse:
            reason = f"v{current} live {metric} {live:.4f} holds against v{old_version}'s {old_value:.4f}"
            return {**base, "rolled_back": False, "reason": reason}
        reason = (
            f"{marker(self.decision.id)}: probation failed: v{current} live {metric} {live:.4f} on {len(rows)} "
            f"labelled rows is below v{old_version}'s {old_value:.4f} - margin {policy.margin:g}; rolled back"
        )
        event = self.store.models.set_alias(
            self.name, self.alias, old_version, actor=f"{_ACTOR} ({default_actor()})", reason=reason,
            action="rollback", expected_current=current,
        )  # fmt: skip
        return {**base, "rolled_back": True, "from_version": event.from_version, "to_version": event.to_version,
                "reason": reason, "stop": True}  # fmt: skip

    def monitor_inputs(self, _: Mapping[str, Any]) -> Any:
        rows = rows_digest(self.store, self.name, start=self.monitor_start(), end=self.now)
        return {
            "champion": self.decision.champion_version, "rows": rows,
            "monitoring": self.spec.monitoring.model_dump(mode="json"),
            "triggers": self.spec.loop.triggers.model_dump(mode="json"),
            "window": self.spec.loop.monitor_window, "history": self.spec.loop.monitor_history,
        }  # fmt: skip

    def monitor(self, _: Mapping[str, Any]) -> dict[str, Any]:
        from skloop.workflows._monitor import load_monitor_inputs

        history_start = self.monitor_start()
        n_history = self.store.predictions.count_predictions(self.name, start=history_start, end=self.now)
        start, after, n_latest = self.latest_bounds()
        champ = self.champion()
        out: dict[str, Any] = {"champion": champ.version, "window": self.spec.loop.monitor_window,
                               "start": start.isoformat(), "end": self.now.isoformat(), "n_rows": n_latest,
                               "drift": None, "performance": None, "long_view": None}  # fmt: skip
        if not n_history:
            return out
        inputs = load_monitor_inputs(self.store, champ.ref, self.settings, trust=self.trust)
        task, classes = self.task_of(champ, inputs.model)
        positive = self.positive_of(champ)

        def report_of(begin: datetime, key: tuple[datetime, int] | None) -> MonitorReport:
            return monitor_pages(
                log_pages(self.store, self.name, start=begin, end=self.now, after=key), inputs.reference,
                schema=inputs.schema, config=inputs.config, task=task, classes=classes,
                reference_metrics=champ.metrics, importance=champ.importance, model=champ.ref, n_boot=0,
                columns=inputs.columns, positive=positive, **mv_args,
            )  # fmt: skip

        # multivariate drift when the trigger wants it, with the loop spec's settings; a
        # version without training rows gets the trigger "not judged" instead of a failure
        mv_args: dict[str, Any] = {}
        if self.spec.loop.triggers.multivariate and inputs.reference_rows is not None:
            mv_args = {"multivariate": self.spec.monitoring.multivariate, "reference_rows": inputs.reference_rows}
        latest = report_of(start, after) if n_latest else None
        if latest is not None:
            out.update(drift_summary(latest))
            out["report_id"] = self.save(latest)
        if latest is not None and self.spec.loop.triggers.multivariate and not mv_args:
            out["multivariate"] = {"reason": f"{champ.ref} has no training rows (data snapshot) to compare with"}
        mv_args = {}  # the long view is recorded, not judged: no domain classifier over all of it
        longer = latest if latest is not None and n_history == n_latest else report_of(history_start, None)
        out["long_view"] = {"start": history_start.isoformat(), "n_rows": n_history, **drift_summary(longer)}
        trigger = self.spec.loop.triggers.performance
        has_proba = hasattr(inputs.model, "predict_proba")
        metric = resolve_metric(trigger.metric if trigger is not None else "auto", task, len(classes or ()), has_proba)
        # the latest window's labelled rows when there are enough to judge; labels come
        # late, so else the champion's labelled rows since it took over
        mine = labelled_log(self.store, self.name, start=start, end=self.now, version=champ.version, after=after)
        scope = "latest"
        if trigger is None or len(mine) < trigger.min_labels:
            mine = labelled_log(self.store, self.name, start=history_start, end=self.now, version=champ.version)
            scope = "since_champion"
        value = (
            realised_metric(mine, metric, task, classes, reference=champ.metrics, positive=positive)
            if len(mine)
            else None
        )
        out["performance"] = {"metric": metric, "n_labeled": len(mine), "value": value[0] if value else None,
                              "reference": value[1] if value else None, "scope": scope,
                              "greater_is_better": value[2] if value else True}  # fmt: skip
        return out

    def save(self, report: MonitorReport) -> str | None:
        """Keep the report the triggers judge, with this decision as its source (one per decision)."""
        from skloop.workflows._monitor import save_report

        try:
            stored = save_report(self.store, report, source_kind="loop", source=self.decision.id,
                                 window=self.spec.loop.monitor_window, replace=True)  # fmt: skip
        except SkloopError as exc:  # the decision does not depend on it; the page just misses one
            logger.warning("the monitoring report of loop decision %s was not stored: %s", self.decision.id, exc)
            return None
        return stored.id

    def decide_inputs(self, outputs: Mapping[str, Any]) -> Any:
        return {"monitor": outputs["monitor"], "facts": self.facts(), "policy": self.spec.loop.model_dump(mode="json")}

    def facts(self) -> dict[str, Any]:
        if "facts" not in self._memo:
            past = [d for d in self.store.loop.list_decisions(self.name) if d.id != self.decision.id]
            last = last_retrain(past, self.now)
            since = None if last is None else self.now - last.evaluated_at
            data_start = self.now - parse_duration(self.spec.loop.data.window)
            new_start = data_start if last is None else max(data_start, last.evaluated_at)
            count = self.store.predictions.count_predictions
            self._memo["facts"] = {
                "since_retrain_hours": hours(since), "last_retrain": None if last is None else last.id,
                "retrains_24h": retrains_since(past, self.now - timedelta(days=1), self.now),
                "window_rows": count(self.name, start=data_start, end=self.now, labeled=True),
                "new_labels": count(self.name, start=new_start, end=self.now, labeled=True),
            }  # fmt: skip
        return self._memo["facts"]  # type: ignore[no-any-return]

    def decide(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        facts = self.facts()
        triggers = evaluate_triggers(
            self.spec.loop, outputs["monitor"], since_retrain_hours=facts["since_retrain_hours"],
            new_labels=facts["new_labels"],
        )  # fmt: skip
        fired = [t["name"] for t in triggers if t["fired"]]
        blocked = evaluate_guards(
            self.spec.loop, since_retrain_hours=facts["since_retrain_hours"], retrains_24h=facts["retrains_24h"],
            window_rows=facts["window_rows"],
        ) if fired else []  # fmt: skip
        return {"triggers": triggers, "fired": fired, "blocked": blocked, "facts": facts,
                "retrain": bool(fired) and not blocked, "stop": not fired or bool(blocked)}  # fmt: skip

    def window(self) -> Any:
        if "window" not in self._memo:
            self._memo["window"] = load_window(self.store, self.name, self.spec.loop.data, self.now)
        return self._memo["window"]

    def retrain_inputs(self, outputs: Mapping[str, Any]) -> Any:
        return {"champion": self.decision.champion_version, "window": self.window().fingerprint(),
                "fired": outputs["decide"]["fired"], "spec": hash_inputs(self.spec.to_dict())}  # fmt: skip

    def retrain(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        from skloop.workflows._train import train

        champ = self.champion()
        window = self.window()
        model = self.load(champ)
        task, classes = self.task_of(champ, model)
        frame, info = training_frame_for(self.store, self.spec, window, champ, task=task, classes=classes, now=self.now)
        spec = self.spec
        positive = self.positive_of(champ)
        if spec.data.positive_class is None and positive is not None:
            # the challenger is about the champion's positive class, whatever the window's minority
            spec = spec.model_copy(update={"data": spec.data.model_copy(update={"positive_class": positive})})
        result = train(
            retrain_spec(spec, frame), self.settings, store=self.store, frame=frame, kind="retrain",
            parent_run_id=champ.run_id, register=True, parent_version=champ.version, progress=self.progress,
        )  # fmt: skip
        fired = outputs["decide"]["fired"]
        tags = {
            "loop.decision": self.decision.id, "loop.window_start": window.start.isoformat(),
            "loop.window_end": window.end.isoformat(), "loop.window_rows": window.n_rows,
            "loop.train_rows": len(window.train), "loop.holdout_rows": len(window.holdout),
            "loop.holdout_from": window.describe()["holdout_from"], "loop.triggers": ",".join(fired),
            "loop.parent_version": champ.version, "loop.window_fingerprint": window.fingerprint(),
            "loop.rows": info["rows"], "loop.weighting": info["weighting"],
        }  # fmt: skip
        if info["base_dataset"]:
            tags[BASE_TAG] = info["base_dataset"]
        self.store.runs.set_tags(result.run_id, tags)
        return {"run_id": result.run_id, "version": result.model_version, "gate_failures": result.gate_failures,
                "window": window.describe(), "data": info, "holdout": result.holdout}  # fmt: skip

    def evaluate_inputs(self, outputs: Mapping[str, Any]) -> Any:
        r = outputs["retrain"]
        compare = self.spec.loop.compare.model_dump(mode="json")
        return {"champion": self.decision.champion_version, "challenger": r["version"], "run": r["run_id"],
                "window": self.window().fingerprint(), "compare": compare}  # fmt: skip

    def evaluate(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        config = self.spec.loop.compare
        champ = self.champion()
        chall = self.version(outputs["retrain"]["version"])
        holdout = self.window().holdout
        if len(holdout) < 2:
            return {"promote": False, "stop": True,
                    "reason": f"the evaluation holdout has {len(holdout)} rows; too few to compare"}  # fmt: skip
        models = [self.load(champ), self.load(chall)]
        task, classes = self.task_of(champ, models[0])
        preds, probas = [], []
        for version, model in zip((champ, chall), models, strict=True):
            X = typed_inputs(holdout, Signature.from_dict(version.signature) if version.signature else None)
            preds.append(np.asarray(model.predict(X)))
            if task == "classification" and hasattr(model, "predict_proba"):
                probas.append(pd.DataFrame(model.predict_proba(X), columns=[class_name(c) for c in model.classes_]))
        has_proba = len(probas) == 2
        metric = resolve_metric(config.metric, task, len(classes or ()), has_proba)
        result = compare_models(
            holdout.rows["label"].astype(object).tolist(), preds[0], preds[1],
            champion_proba=probas[0] if has_proba else None, challenger_proba=probas[1] if has_proba else None,
            metric=metric, method=config.method, margin=config.margin, confidence=config.confidence,
            classes=[class_name(c) for c in classes] if classes else None, task=task, n_boot=config.n_boot,
            seed=self.spec.seed, positive=self.positive_of(champ),
        )  # fmt: skip
        gates_ok = not chall.is_rejected
        promote = result.better and gates_ok
        if promote:
            reason = f"v{chall.version} beats v{champ.version}: {result.summary()}"
        elif not result.better:
            reason = f"kept v{champ.version}: {result.summary()}"
        else:
            reason = (
                f"kept v{champ.version}: v{chall.version} is better but failed its gates ({chall.rejection_reason})"
            )
        return {"comparison": result.to_dict(), "gates": {"passed": gates_ok, "failures": chall.rejection_reason},
                "promote": promote, "reason": reason, "stop": not promote}  # fmt: skip

    def promote(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        champ = self.decision.champion_version
        chall = int(outputs["retrain"]["version"])
        mark = marker(self.decision.id)
        current = self.store.models.get_aliases(self.name).get(self.alias)
        if current == chall:
            done = [e for e in self.store.models.alias_history(self.name, self.alias)
                    if e.to_version == chall and mark in (e.reason or "")]  # fmt: skip
            if done:
                return {"promoted": True, "already": True, "from_version": champ, "to_version": chall,
                        "reason": done[-1].reason}  # fmt: skip
        if current != champ:
            return {"promoted": False, "from_version": champ, "to_version": chall,
                    "reason": f"kept: {self.name}@{self.alias} moved to {_vtext(current)} since this decision began "
                              f"(from v{champ}); the loop does not override another move"}  # fmt: skip
        reason = f"{mark}: {outputs['evaluate']['reason']}"
        try:
            self.store.models.set_alias(
                self.name, self.alias, chall, actor=f"{_ACTOR} ({default_actor()})", reason=reason,
                expected_current=champ,
            )  # fmt: skip
        except StoreError as exc:
            return {"promoted": False, "from_version": champ, "to_version": chall, "reason": f"kept: {exc}"}
        return {"promoted": True, "already": False, "from_version": champ, "to_version": chall, "reason": reason}

    def steps(self) -> list[Step]:
        return [
            Step("ingest", self.ingest, cache=False, inputs=lambda o: {"time": self.now.isoformat()}),
            Step("probation", self.probation, after=("ingest",), cache=False,
                 inputs=lambda o: {"time": self.now.isoformat()}),
            Step("monitor", self.monitor, after=("probation",), inputs=self.monitor_inputs),
            Step("decide", self.decide, after=("monitor",), inputs=self.decide_inputs),
            Step("retrain", self.retrain, after=("decide",), inputs=self.retrain_inputs),
            Step("evaluate", self.evaluate, after=("retrain",), inputs=self.evaluate_inputs),
            Step("promote", self.promote, after=("evaluate",), cache=False,
                 inputs=lambda o: {"challenger": o["retrain"]["version"], "champion": self.decision.champion_version}),
        ]  # fmt: skip

    # -- the record ----------------------------------------------------------------

    def record(self, step: str, out: Mapping[str, Any]) -> None:
        fields: dict[str, Any] = {}
        if step == "probation" and out.get("checked"):
            fields["details"] = {"probation": {k: v for k, v in out.items() if k != "stop"}}
        elif step == "monitor":
            keys = ("window", "start", "end", "n_rows", "drift", "performance", "verdict", "long_view", "report_id",
                    "multivariate")  # fmt: skip
            fields["details"] = {"monitor": {k: out.get(k) for k in keys}}
        elif step == "decide":
            fields.update(triggers=out["triggers"], fired=out["fired"],
                          details={"guards": out["blocked"], "facts": out["facts"]})  # fmt: skip
        elif step == "retrain":
            fields.update(retrain_run_id=out["run_id"], challenger_version=out["version"],
                          details={"window": out["window"], "data": out["data"]})  # fmt: skip
        elif step == "evaluate" and "comparison" in out:
            fields.update(comparison=out["comparison"], details={"gates": out["gates"]})
        elif step == "promote":
            fields["details"] = {"promotion": dict(out)}
        if fields:
            self.decision = self.store.loop.update_decision(self.decision.id, **fields)

    def conclude(self, outcome: StepOutcome) -> tuple[str, str]:
        return conclusion(outcome.outputs, self.decision)


def run_loop(
    spec: Spec,
    settings: Settings,
    *,
    store: Store,
    name: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    on_step: Callable[[str, str, dict[str, Any]], None] | None = None,
    trust: Trust | None = None,
) -> Decision:
    """Evaluate the spec's ``loop:`` policy once for model ``name`` and record the decision.

    Parameters
    ----------
    spec : Spec
        The spec (its ``loop`` section is the policy; a retrain trains it).
    settings : Settings
        Where the project lives (its prediction log is ingested first).
    store : Store
    name : str, optional
        The registered model (default: ``spec.name``).
    now : datetime, optional
        The evaluation time (default: now); windows, cooldowns and probation are
        measured from it. A resumed decision keeps its own.
    progress : Progress, optional
        Told each step (``"monitor: ran"``) and the retrain's progress.
    on_step : callable, optional
        ``on_step(step, event, outputs)`` after each step (``event``: ran, resumed,
        cached, skipped).
    trust : Trust, optional
        What loading the champion and the challenger may trust, on top of the spec's
        ``registry.trusted_types`` and ``settings.trust``: a loop whose versions are
        joblib needs ``Trust(pickle=True)`` (``--trust``) or ``SKLOOP_TRUST=1``.

    Returns
    -------
    Decision
        Finished, with its outcome (``none``, ``blocked``, ``kept``, ``promoted``,
        ``rolled_back``) and reason.

    Raises
    ------
    LoopLockedError
        Another live process runs this model's loop.
    ModelNotFoundError
        The model has no version under ``loop.alias``: promote one first.
    SkloopError
        A step failed; the decision is recorded ``failed`` with the error.

    Examples
    --------
    >>> decision = run_loop(spec, settings, store=store)  # doctest: +SKIP
    >>> decision.outcome, decision.reason  # doctest: +SKIP
    ('promoted', 'v3 beats v2: challenger roc_auc 0.8412 vs champion 0.5530 ...')
    """
    name = name or spec.name
    progress = progress or NullProgress()
    lease = parse_duration(spec.loop.lease)
    owner = uuid.uuid4().hex
    store.loop.acquire_loop_lock(name, owner, lease=lease)
    try:
        store.runs.reap_stale_runs()
        decision = open_decision(store, spec, name, now)
        loop = _Loop(
            spec=spec, settings=settings, store=store, decision=decision, progress=progress, name=name,
            trust=Trust.of(settings, spec) | (trust or Trust()),
        )  # fmt: skip

        def hook(step: str, event: str, out: dict[str, Any]) -> None:
            store.loop.acquire_loop_lock(name, owner, lease=lease)  # renews the lease
            if event != "skipped":
                loop.record(step, out)
            progress.step(f"{step}: {event}")
            if on_step is not None:
                on_step(step, event, out)

        try:
            outcome = run_steps(loop.steps(), store=store, decision_id=decision.id, name=name, on_step=hook)
        except Exception as exc:
            message = str(exc) if isinstance(exc, SkloopError) else f"{type(exc).__name__}: {exc}"
            store.loop.finish_decision(
                decision.id, status="failed", outcome="failed", reason=f"a step failed: {message}"
            )
            raise
        result, reason = loop.conclude(outcome)
        return store.loop.finish_decision(decision.id, outcome=result, reason=reason)
    finally:
        store.loop.release_loop_lock(name, owner)
