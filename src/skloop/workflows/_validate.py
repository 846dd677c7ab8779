"""``skloop validate``: a model's gates, champion comparison, behaviour and data contract, as tests.

Every check is a :class:`CheckResult` (family, name, pass/fail/skip, message,
duration) in one :class:`ValidationReport`, which the CLI renders as a table, JSON or
JUnit XML (:mod:`skloop.workflows._junit`) so that CI shows each check as a test.

The families:

- ``gates``: the spec's ``gates`` against the version's recorded metrics, and the
  gated ``holdout_*`` metrics recomputed on the holdout rebuilt from the training
  snapshot (same spec snapshot and seed, so the same rows);
- ``champion``: the candidate must score at least the champion's score minus
  ``validate.champion.tolerance``, both on that holdout;
- ``behaviour``: the tests of ``validate.behaviour`` (see :mod:`._behaviour`);
- ``contract``: the data ``data.train`` reads now against the version's signature
  and ``validate.contract``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from skloop.core import GatesSpec, Settings, Spec, UsageError, spec_from_dict
from skloop.registry import Registry, Signature, Trust, check_gates, infer_signature, load_model, parse_ref
from skloop.store import Store
from skloop.workflows._behaviour import behaviour_name, check_behaviour_spec, run_behaviour
from skloop.workflows._contract import contract_checks
from skloop.workflows._reproduce import training_frame
from skloop.workflows._train import MODEL_ARTIFACT, PreparedData, prepare_data

__all__ = ["FAMILIES", "CheckResult", "ValidationReport", "validate_model"]

FAMILIES = ("gates", "champion", "behaviour", "contract")
"""The check families, in the order they run (a JUnit ``testsuite`` each)."""

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    """One check, reported as one test case.

    Attributes
    ----------
    family : {"gates", "champion", "behaviour", "contract"}
    name : str
    status : {"pass", "fail", "skip"}
    message : str
        What was measured and against what; for a failure, what broke.
    duration_s : float
    """

    family: str
    name: str
    status: Status
    message: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class ValidationReport:
    """Every check of one model.

    Attributes
    ----------
    name : str
        The model's name.
    version : int or None
        The version checked (``None`` for an unregistered run, ``--run``).
    run_id : str
        The training run of the model.
    champion_version : int or None
        The version compared with, when there was one.
    checks : tuple of CheckResult
    duration_s : float
    """

    name: str
    version: int | None
    run_id: str
    champion_version: int | None
    checks: tuple[CheckResult, ...]
    duration_s: float

    @property
    def ref(self) -> str:
        """``name/version``, or ``name (run <id>)`` for an unregistered run."""
        return f"{self.name}/{self.version}" if self.version is not None else f"{self.name} (run {self.run_id[:8]})"

    @property
    def passed(self) -> bool:
        """Whether no check failed (skipped checks do not fail)."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [c for c in self.checks if c.status == "fail"]

    def counts(self) -> dict[str, int]:
        """How many checks passed, failed and were skipped."""
        return {s: sum(c.status == s for c in self.checks) for s in ("pass", "fail", "skip")}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "model": self.ref,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "champion_version": self.champion_version,
            "passed": self.passed,
            "counts": self.counts(),
            "duration_s": self.duration_s,
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class _Candidate:
    name: str
    version: int | None
    run: Any
    model: Any
    metrics: dict[str, float]
    signature: Signature
    data: PreparedData


def _timed(family: str, name: str, fn: Callable[[], tuple[Status, str]]) -> CheckResult:
    started = time.perf_counter()
    try:
        status, message = fn()
    except UsageError:
        raise
    except Exception as exc:  # a check that crashes is a failed check, named, with its cause
        status, message = "fail", f"the check raised {type(exc).__name__}: {exc}"
    return CheckResult(family, name, status, message, time.perf_counter() - started)


def _load_candidate(
    spec: Spec, settings: Settings, store: Store, ref: str | None, run_id: str | None, trust: Trust
) -> _Candidate:
    if ref is not None and run_id is not None:
        raise UsageError("give --model REF or --run RUN_ID, not both")
    registry = Registry(store)
    if run_id is not None:
        run = store.runs.get_run(run_id)
        if run.kind != "train" or run.status != "finished":
            raise UsageError(f"run {run.id} is a {run.status} {run.kind} run; validate a finished training run")
        artifact = store.runs.load_artifact(run.id, MODEL_ARTIFACT)
        model = load_model(artifact, "skops", trust=trust, name=f"the model artifact of run {run.id}")
        name, version, metrics, signature = spec.name, None, dict(run.metrics), None
    else:
        target = ref or spec.name
        name, number, alias = parse_ref(target)
        # a bare name means the newest version, rejected or not: a rejected one fails its gates here
        found = registry.resolve(target) if number is not None or alias is not None else registry.versions(name)[-1]
        run = store.runs.get_run(found.run_id)
        model = registry.load_model(found.ref, trust=trust)
        name, version, metrics, signature = found.name, found.version, dict(found.metrics), found.signature
    train_spec = spec_from_dict(run.spec, file=f"spec snapshot of run {run.id}") if run.spec else spec
    frame, _ = training_frame(store, run, settings, train_spec)
    data = prepare_data(train_spec, settings.base_dir, frame)
    sig = (
        Signature.from_dict(signature)
        if signature
        else infer_signature(data.X_train, data.y_train, task=data.task, model=model)
    )
    return _Candidate(name, version, run, model, metrics, sig, data)


def _holdout_score(model: Any, data: PreparedData, metric: str) -> float:
    from skloop.pipelines import build_scorer

    # the positive class training chose (the spec's, else inferred): the same class the gates measured
    return float(build_scorer(metric, data.positive)(model, data.X_holdout, data.y_holdout))


def _gate_checks(spec: Spec, cand: _Candidate) -> list[CheckResult]:
    bounds = [("min", k, v) for k, v in sorted(spec.gates.min.items())]
    bounds += [("max", k, v) for k, v in sorted(spec.gates.max.items())]
    if not bounds:
        return [CheckResult("gates", "gates", "skip", "the spec has no gates (gates.min / gates.max)")]
    has_holdout = cand.data.X_holdout is not None and len(cand.data.X_holdout) > 0
    out = []
    for bound, key, threshold in bounds:
        op = ">=" if bound == "min" else "<="
        one = GatesSpec(**{bound: {key: threshold}})

        def recorded(
            one: GatesSpec = one, key: str = key, op: str = op, threshold: float = threshold
        ) -> tuple[Status, str]:
            failed = check_gates(one, cand.metrics)
            if failed:
                return "fail", failed[0] + " (recorded)"
            return "pass", f"{key} {cand.metrics[key]:.4g} {op} {threshold:g} (recorded)"

        out.append(_timed("gates", f"recorded {key} {op} {threshold:g}", recorded))
        if not (spec.validate_.holdout and key.startswith("holdout_")):
            continue

        def recomputed(
            one: GatesSpec = one, key: str = key, op: str = op, threshold: float = threshold
        ) -> tuple[Status, str]:
            if not has_holdout:
                return "skip", "the training run kept no holdout (data.holdout: 0)"
            value = _holdout_score(cand.model, cand.data, key.removeprefix("holdout_"))
            failed = check_gates(one, {key: value})
            n = len(cand.data.X_holdout)  # type: ignore[arg-type]
            if failed:
                return "fail", f"{failed[0]} (recomputed on the {n} holdout rows)"
            return "pass", f"{key} {value:.4g} {op} {threshold:g} (recomputed on the {n} holdout rows)"

        out.append(_timed("gates", f"holdout {key} {op} {threshold:g}", recomputed))
    return out


def _champion_check(spec: Spec, store: Store, cand: _Candidate, trust: Trust) -> tuple[CheckResult, int | None]:
    cfg = spec.validate_.champion
    name = f"no regression vs {cand.name}@{cfg.alias}"
    if not cfg.enabled:
        return CheckResult("champion", name, "skip", "validate.champion.enabled is false"), None
    held = store.models.get_aliases(cand.name) if cand.name in store.models.model_names() else {}
    champion = held.get(cfg.alias)
    if champion is None:
        return CheckResult("champion", name, "skip", f"no version holds {cand.name}@{cfg.alias} yet"), None
    if champion == cand.version:
        return CheckResult("champion", name, "skip", f"the candidate is {cand.name}@{cfg.alias} itself"), champion
    if cand.data.X_holdout is None or len(cand.data.X_holdout) == 0:
        return CheckResult("champion", name, "skip", "the training run kept no holdout to compare on"), champion
    metric = cfg.metric or cand.run.params.get("search.refit") or (spec.search.scorers or ["accuracy"])[0]

    def compare() -> tuple[Status, str]:
        version = store.models.get_model_version(cand.name, champion)
        model = Registry(store).load_model(version.ref, trust=trust)
        mine = _holdout_score(cand.model, cand.data, metric)
        theirs = _holdout_score(model, cand.data, metric)
        text = (
            f"{metric} {mine:.4f} vs champion v{champion} {theirs:.4f} on the same "
            f"{len(cand.data.X_holdout)} holdout rows (tolerance {cfg.tolerance:g})"  # type: ignore[arg-type]
        )
        if mine < theirs - cfg.tolerance:
            return "fail", f"{text}: {theirs - mine:.4f} worse"
        return "pass", text

    return _timed("champion", name, compare), champion


def validate_model(
    spec: Spec,
    settings: Settings,
    *,
    store: Store,
    ref: str | None = None,
    run_id: str | None = None,
    trust: Trust | None = None,
) -> ValidationReport:
    """Run every check of ``validate`` on a model version (or a training run's model).

    Parameters
    ----------
    spec : Spec
        The spec whose ``gates`` and ``validate`` sections are checked.
    settings : Settings
        Where the project lives.
    store : Store
        The tracking store and registry.
    ref : str, optional
        ``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS``; default: the newest version of
        ``spec.name``, rejected or not (a bare name also means the newest version).
    run_id : str, optional
        Check the model of this finished training run instead of a version.
    trust : Trust, optional
        What loading the candidate and the champion may trust on top of the spec's
        ``registry.trusted_types`` and ``settings.trust``: joblib versions need
        ``Trust(pickle=True)`` (``--trust``), whatever ``registry.format`` says.

    Returns
    -------
    ValidationReport
        ``passed`` is false when any check failed.

    Raises
    ------
    UsageError
        Both ``ref`` and ``run_id``; a run that is not a finished training run; a
        behavioural test naming a column the model does not take.
    ModelNotFoundError
        No such model, version or alias.

    Examples
    --------
    >>> report = validate_model(spec, settings, store=store)  # doctest: +SKIP
    >>> report.passed, report.counts()  # doctest: +SKIP
    (True, {'pass': 9, 'fail': 0, 'skip': 1})
    """
    started = time.perf_counter()
    trust = Trust.of(settings, spec) | (trust or Trust())
    cand = _load_candidate(spec, settings, store, ref, run_id, trust)
    check_behaviour_spec(list(spec.validate_.behaviour), cand.signature, cand.model)
    checks = _gate_checks(spec, cand)
    champion_check, champion = _champion_check(spec, store, cand, trust)
    checks.append(champion_check)
    data = cand.data
    pool = data.X_holdout if data.X_holdout is not None and len(data.X_holdout) > 0 else data.X_train
    for i, test in enumerate(spec.validate_.behaviour):

        def behave(test: Any = test, i: int = i) -> tuple[Status, str]:
            ok, message = run_behaviour(test, i, cand.model, pool, cand.signature, spec.seed)
            return ("pass" if ok else "fail"), message

        checks.append(_timed("behaviour", behaviour_name(test, i), behave))
    if not spec.validate_.behaviour:
        checks.append(CheckResult("behaviour", "behaviour", "skip", "the spec declares no validate.behaviour tests"))
    checks += [_timed("contract", name, fn) for name, fn in contract_checks(spec, settings, cand.signature)]
    return ValidationReport(
        name=cand.name,
        version=cand.version,
        run_id=cand.run.id,
        champion_version=champion,
        checks=tuple(checks),
        duration_s=time.perf_counter() - started,
    )
