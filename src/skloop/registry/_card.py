"""The model card: what a model version is, how it was made, and where not to trust it.

:func:`build_card` gathers everything from what the store recorded (the run, its
training dataset) and from the fitted pipeline, signature and importance; the
"known limits" are sentences generated from those facts (rare classes, columns with
many missing values, categories grouped as rare, the range of the training data).
:func:`render_markdown` and :func:`render_html` (implemented in
:mod:`skloop.registry._card_render`) turn it into documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from skloop.registry._card_render import render_html, render_markdown
from skloop.registry._signature import Signature

__all__ = [
    "FEW_CLASS_EXAMPLES",
    "MANY_MISSING_SHARE",
    "ModelCard",
    "build_card",
    "known_limits",
    "render_html",
    "render_markdown",
]

FEW_CLASS_EXAMPLES = 50
"""A class with fewer training rows than this gets a "few examples" limit."""
FEW_CLASS_SHARE = 0.05
"""... as does a class holding less than this share of the rows."""
MANY_MISSING_SHARE = 0.2
"""A feature missing in at least this share of training rows gets a limit."""
SMALL_DATASET_ROWS = 1000
MAX_RANGE_COLUMNS = 12
MAX_CANDIDATES = 10


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return _jsonable_dict(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def _jsonable_dict(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in value.items()}


@dataclass(frozen=True)
class ModelCard:
    """Everything a reader needs to judge a model version.

    Every field is plain JSON-able data (:meth:`to_dict` / :meth:`from_dict`).

    Attributes
    ----------
    task : str
        ``classification`` or ``regression``.
    name : str or None
    version : int or None
    data : dict
        ``fingerprint``, ``source``, ``rows``, ``columns``, ``time_column`` and
        ``time_range`` (``[first, last]``) when the data has a time column,
        ``target``, ``class_balance`` (class → rows, classification) and
        ``target_range`` (regression).
    features : dict of str to list of str
        Input columns by kind (``numeric``, ``categorical``, ...).
    pipeline : dict
        ``repr`` (scikit-learn's text form) and ``params`` (its JSON-able
        parameters, ``get_params(deep=True)``).
    search : dict
        ``strategy``, ``space``, ``refit``, ``best_params``, ``n_candidates`` and
        ``candidates`` (the best few, with their scores) when known.
    cv_metrics : dict
        Metric → ``{"mean": ..., "std": ...}`` over the cross-validation folds.
    holdout_metrics : dict
        Metric → score on the holdout rows.
    importance : dict
        Input column → ``{"mean": ..., "std": ...}``, largest first.
    limits : list of str
        Known limits, one sentence each.
    lineage : dict
        ``run_id``, ``parent_version``, ``dataset_fingerprint``, ``code_commit``, ``code_dirty``,
        ``python`` and ``packages``.
    signature : dict or None
        :meth:`Signature.to_dict` output.
    """

    task: str
    name: str | None = None
    version: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    features: dict[str, list[str]] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    cv_metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    importance: dict[str, dict[str, float]] = field(default_factory=dict)
    limits: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return _jsonable_dict(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Rebuild a card from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------- gathering


def _column_entry(entries: Any, name: str) -> dict[str, Any] | None:
    for entry in entries or ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return dict(entry)
    return None


def _data_section(dataset: Any, task: str) -> dict[str, Any]:
    if dataset is None:
        return {}
    schema_cols = (dataset.schema or {}).get("columns", [])
    profile_cols = (dataset.profile or {}).get("columns", [])
    out: dict[str, Any] = {
        "fingerprint": dataset.fingerprint,
        "source": dataset.source,
        "rows": int(dataset.n_rows),
        "columns": int(dataset.n_columns),
    }
    for col in schema_cols:
        role = col.get("role")
        if role == "time":
            out["time_column"] = col["name"]
            out["time_range"] = [col.get("min"), col.get("max")]
        elif role == "target":
            out["target"] = col["name"]
            prof = _column_entry(profile_cols, col["name"]) or {}
            if task == "classification" and prof.get("frequencies"):
                out["class_balance"] = {str(v): int(n) for v, n in prof["frequencies"]}
            elif task == "regression" and prof.get("min") is not None:
                out["target_range"] = [prof.get("min"), prof.get("max")]
    return out


def _search_section(run: Any, cv_results: Mapping[str, Any] | None) -> dict[str, Any]:
    spec_search = (run.spec or {}).get("search", {}) or {}
    out: dict[str, Any] = {
        "strategy": spec_search.get("strategy"),
        "space": spec_search.get("space") or {},
        "refit": run.params.get("search.refit", spec_search.get("refit")),
        "best_params": {k.removeprefix("best."): v for k, v in run.params.items() if k.startswith("best.")},
    }
    if cv_results:
        candidates = list(cv_results.get("candidates", []))
        refit = cv_results.get("refit") or out["refit"]
        out["refit"] = refit
        out["n_candidates"] = len(candidates)
        rank_key = f"rank_test_{refit}" if refit else None
        if rank_key and all(rank_key in c for c in candidates):  # unranked (a pruned trial) last
            candidates.sort(key=lambda c: (c[rank_key] is None, c[rank_key] if c[rank_key] is not None else 0))
        out["candidates"] = candidates[:MAX_CANDIDATES]
    return out


def _metrics(run: Any) -> tuple[dict[str, dict[str, float | None]], dict[str, float]]:
    cv: dict[str, dict[str, float | None]] = {}
    holdout: dict[str, float] = {}
    for key, value in sorted(run.metrics.items()):
        if key.startswith("cv_") and key.endswith(("_mean", "_std")):
            metric, _, stat = key[3:].rpartition("_")
            cv.setdefault(metric, {"mean": None, "std": None})[stat] = float(value)
        elif key.startswith("holdout_"):
            holdout[key.removeprefix("holdout_")] = float(value)
    return cv, holdout


def _pipeline_section(pipeline: Any) -> dict[str, Any]:
    if pipeline is None:
        return {}
    params: dict[str, Any] = {}
    if hasattr(pipeline, "get_params"):
        for key, value in pipeline.get_params(deep=True).items():
            if isinstance(value, np.generic):
                value = value.item()
            if value is None or isinstance(value, (str, int, float, bool)):
                params[key] = _jsonable(value)
    return {"class": type(pipeline).__name__, "repr": repr(pipeline), "params": params}


def _grouped_categories(pipeline: Any, signature: Signature | None) -> dict[str, list[str]]:
    """Per input column: training categories that a fitted RareCategoryGrouper groups."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from skloop.pipelines import RareCategoryGrouper

    if signature is None or not isinstance(pipeline, Pipeline):
        return {}
    pre = pipeline.steps[0][1]
    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "transformers_"):
        return {}
    out: dict[str, list[str]] = {}
    for _, transformer, columns in pre.transformers_:
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
        for _, step in steps:
            if not isinstance(step, RareCategoryGrouper) or not hasattr(step, "categories_"):
                continue
            names = list(getattr(step, "feature_names_in_", columns if isinstance(columns, list) else []))
            for name, kept in zip(names, step.categories_, strict=False):
                name = str(name)
                categories = signature[name].categories if name in signature.names else None
                if categories is None:
                    continue
                kept_set = {str(k) for k in kept}
                grouped = [str(c) for c in categories if str(c) not in kept_set]
                if grouped:
                    out[name] = grouped
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _list(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def known_limits(
    *,
    task: str,
    data: Mapping[str, Any],
    dataset: Any,
    signature: Signature | None,
    grouped: Mapping[str, list[str]],
) -> list[str]:
    """The known-limits sentences of a card, generated from what was recorded.

    Parameters
    ----------
    task : str
    data : dict
        The card's ``data`` section.
    dataset : DatasetRecord or None
        For the per-column missing shares in its profile.
    signature : Signature or None
        For the training ranges of numeric and datetime inputs.
    grouped : dict
        Input column → training categories grouped as rare.

    Returns
    -------
    list of str
    """
    limits: list[str] = []
    rows = data.get("rows")
    if rows is not None and rows < SMALL_DATASET_ROWS:
        limits.append(f"Trained on only {rows} rows; scores may vary more than the cross-validation suggests.")
    balance = data.get("class_balance") or {}
    total = sum(balance.values())
    for label, count in balance.items():
        if total and (count < FEW_CLASS_EXAMPLES or count / total < FEW_CLASS_SHARE):
            limits.append(
                f"Class {label!r} has only {count} training examples ({count / total:.1%}); "
                "predictions of this class are less reliable."
            )
    inputs = set(signature.names) if signature is not None else None
    for col in (dataset.profile or {}).get("columns", []) if dataset is not None else []:
        share = col.get("missing_share") or 0.0
        if share >= MANY_MISSING_SHARE and (inputs is None or col.get("name") in inputs):
            limits.append(
                f"{col['name']!r} is missing in {share:.0%} of the training rows; missing values are "
                "imputed, so predictions for such rows rely on the other features."
            )
    for name, categories in grouped.items():
        some = "1 category" if len(categories) == 1 else f"{len(categories)} categories"
        verb = "was" if len(categories) == 1 else "were"
        limits.append(
            f"In {name!r}, {some} seen in training ({_list([repr(c) for c in categories])}) {verb} too rare "
            "to learn from and are treated as one rare group; categories never seen in training are treated "
            "the same way."
        )
    if signature is not None:
        ranges = [
            f"{c.name!r} {_fmt(c.min)} to {_fmt(c.max)}"
            for c in signature.inputs
            if c.kind in ("numeric", "datetime") and c.min is not None and c.max is not None
        ]
        if ranges:
            more = len(ranges) - MAX_RANGE_COLUMNS
            listed = "; ".join(ranges[:MAX_RANGE_COLUMNS]) + (f"; and {more} more columns" if more > 0 else "")
            limits.append(
                f"The training data covered {listed}. Predictions for values outside these ranges are extrapolations."
            )
    target_range = data.get("target_range")
    if task == "regression" and target_range and None not in target_range:
        limits.append(
            f"Training targets ranged from {_fmt(target_range[0])} to {_fmt(target_range[1])}; "
            "predictions far from this range deserve suspicion."
        )
    return limits


def build_card(
    *,
    name: str | None,
    version: int | None,
    run: Any,
    dataset: Any,
    importance: Mapping[str, Mapping[str, float]] | None,
    signature: Signature | None,
    pipeline: Any,
    cv_results: Mapping[str, Any] | None = None,
    parent_version: int | None = None,
) -> ModelCard:
    """Build the model card of a version from what was recorded about it.

    Parameters
    ----------
    name : str or None
        The registered model's name.
    version : int or None
        Its version number.
    run : skloop.store.Run
        The training run: its spec snapshot (search space), params (``task``,
        ``best.*``, ``search.refit``), metrics (``cv_<m>_mean``, ``cv_<m>_std``,
        ``holdout_<m>``), code version and environment.
    dataset : skloop.store.DatasetRecord or None
        The training dataset, with its schema (roles) and profile.
    importance : dict or None
        :func:`column_importance` output.
    signature : Signature or None
        The model's signature (features by kind, training ranges).
    pipeline : estimator or None
        The fitted pipeline (its repr, parameters and rare-category grouping).
    cv_results : dict, optional
        The run's ``cv_results.json`` (``refit``, ``candidates``), for the candidates.
    parent_version : int, optional
        The version of ``name`` this one was retrained or derived from.

    Returns
    -------
    ModelCard
    """
    task = run.params.get("task") or (signature.output.task if signature is not None else "unknown")
    data = _data_section(dataset, task)
    cv, holdout = _metrics(run)
    features: dict[str, list[str]] = {}
    if signature is not None:
        for col in signature.inputs:
            features.setdefault(col.kind, []).append(col.name)
    grouped = _grouped_categories(pipeline, signature)
    fingerprint = dataset.fingerprint if dataset is not None else None
    if fingerprint is None:
        train = [d for d in getattr(run, "datasets", ()) if d.role == "train"]
        fingerprint = train[0].fingerprint if train else None
    env = run.environment or {}
    lineage = {
        "run_id": run.id,
        "parent_version": parent_version,
        "project": run.project,
        "dataset_fingerprint": fingerprint,
        "code_commit": run.code_commit,
        "code_dirty": run.code_dirty,
        "seed": run.seed,
        "python": env.get("python"),
        "packages": {k: v for k, v in (env.get("packages") or {}).items() if v is not None},
    }
    return ModelCard(
        task=task,
        name=name,
        version=version,
        data=_jsonable(data),
        features=features,
        pipeline=_pipeline_section(pipeline),
        search=_jsonable(_search_section(run, cv_results)),
        cv_metrics=cv,
        holdout_metrics=holdout,
        importance={str(k): {"mean": float(v["mean"]), "std": float(v["std"])} for k, v in (importance or {}).items()},
        limits=known_limits(task=task, data=data, dataset=dataset, signature=signature, grouped=grouped),
        lineage=_jsonable(lineage),
        signature=signature.to_dict() if signature is not None else None,
    )
