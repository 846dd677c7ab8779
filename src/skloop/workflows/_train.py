"""The training workflow: data → checks → pipeline → cross-validated search → holdout.

Each call is one tracked run: the spec snapshot, the input dataset (fingerprint,
schema, profile and, unless disabled, a Parquet snapshot), code version, environment,
parameters, per-fold and summary metrics and the fitted pipeline are all recorded, and
the run ends ``finished``, ``failed`` or ``killed``, never ``running``.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from skloop.core import (
    DataError,
    PipelineError,
    Settings,
    Spec,
    SqlSource,
    UsageError,
    WorkerCall,
    code_version,
    environment,
    in_worker,
    optional_import,
    wait_for_workers,
    workers_started,
)
from skloop.data import (
    check_training_frame,
    class_name,
    class_names,
    coerce_numbers,
    fingerprint,
    infer_schema,
    positive_class,
    profile,
    read_table,
    redact_url,
)
from skloop.integrations import DASK_EXTRA
from skloop.pipelines import (
    attach_progress,
    build_pipeline,
    build_scorers,
    build_search,
    candidates_table,
    resolve_features,
    summarize_cv,
)
from skloop.store import DatasetRecord, Store
from skloop.workflows._backend import resolve_search_backend, search_backend
from skloop.workflows._progress import NullProgress, Progress
from skloop.workflows._train_register import check_parent_version, importance_of, register_result

logger = logging.getLogger(__name__)

__all__ = ["LOSS_MODEL_ARTIFACT", "NO_HOLDOUT", "REFERENCE_ARTIFACT", "TrainResult", "prepare_data", "train"]

MODEL_ARTIFACT = "model.skops"


@dataclass(frozen=True)
class PreparedData:
    """The training table split for search and holdout, with what was learnt about it."""

    frame: pd.DataFrame
    task: str
    schema: Any
    features: Any
    X_train: pd.DataFrame
    y_train: pd.Series
    X_holdout: pd.DataFrame | None
    y_holdout: pd.Series | None
    groups: pd.Series | None
    fingerprint: str
    source: str
    positive: Any = None
    """The positive class of a binary target (see :func:`skloop.data.positive_class`)."""
    not_numbers: tuple[str, ...] = ()
    """Numeric columns with values that are not numbers, read as missing (served the same way)."""


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    run_id : str
        The tracked run.
    task : str
        ``classification`` or ``regression``.
    best_params : dict
        The winning candidate's parameters.
    cv : dict
        Per metric: ``folds`` (list), ``mean``, ``std`` for the best candidate.
    holdout : dict
        Per metric: the best pipeline's score on the holdout (empty without holdout).
    refit_metric : str
        The metric that chose the best candidate.
    n_candidates : int
        Candidates evaluated.
    dataset_fingerprint : str
        SHA-256 of the training table.
    duration_s : float
        Wall time of the search.
    model : Any
        The fitted best pipeline.
    model_version : int or None
        The registry version made from this run (``None`` when ``registry.enabled``
        is off); it may be a rejected one, see ``gate_failures``.
    gate_failures : list of str
        The gates the run failed (e.g. ``"holdout_roc_auc 0.61 < 0.75"``); empty
        when it passed and the version is promotable.
    positive_class : scalar or None
        The class binary ``f1``/``precision``/``recall`` are about (``None`` for a
        regressor or more than two classes).
    """

    run_id: str
    task: str
    best_params: dict[str, Any]
    cv: dict[str, dict[str, Any]]
    holdout: dict[str, float]
    refit_metric: str
    n_candidates: int
    dataset_fingerprint: str
    duration_s: float
    model: Any = field(repr=False)
    model_version: int | None = None
    gate_failures: list[str] = field(default_factory=list)
    positive_class: Any = None


def _source_text(spec: Spec) -> str:
    train = spec.data.train
    return train if isinstance(train, str) else f"{redact_url(train.url)} :: {train.query}"


def spec_snapshot(spec: Spec) -> dict[str, Any]:
    """The spec as recorded with a run: :meth:`Spec.to_dict` with the database password masked.

    The password of ``data.train.url`` stays out of the store (a run is read by anyone
    who can list runs or see a model card); a run without a data snapshot then cannot
    be re-read from its database by its spec alone (see ``training_frame``).
    """
    snapshot = spec.to_dict()
    if isinstance(spec.data.train, SqlSource):
        snapshot["data"]["train"]["url"] = redact_url(spec.data.train.url)
    return snapshot


def prepare_data(spec: Spec, base_dir: Path, frame: pd.DataFrame | None = None) -> PreparedData:
    """Read (unless ``frame`` is given), check and split the training data."""
    df = read_table(spec.data.train, base_dir) if frame is None else frame
    task = check_training_frame(df, spec.data.target, None if spec.task == "auto" else spec.task)
    for key, col in (
        ("data.id", spec.data.id),
        ("data.time", spec.data.time),
        ("search.cv.group", spec.search.cv.group),
    ):
        if col is not None and col not in df.columns:
            raise DataError(f"{key}: column {col!r} is not in the data; columns are {list(df.columns)}")
    schema = infer_schema(df, target=spec.data.target, id_column=spec.data.id, time_column=spec.data.time)
    exclude = {c for c in (spec.data.target, spec.data.id, spec.data.time, spec.search.cv.group) if c}
    inferred = {kind: schema.by_kind(kind) for kind in ("numeric", "categorical", "boolean", "datetime", "text")}
    features = resolve_features(spec.features, inferred, exclude, columns=list(df.columns))
    if not features.all_columns:
        raise DataError("no feature columns are left to train on; list some under 'features'")
    # a numeric column with a few words in it ("n/a", "?"): those values are missing, and imputed
    X, not_numbers = coerce_numbers(df[list(features.all_columns)], features.numeric)
    for column, count in not_numbers.items():
        if count:
            logger.warning("numeric column %r: %d value(s) are not numbers and are read as missing", column, count)
    y = df[spec.data.target]
    positive = _positive(spec, task, y)
    groups = df[spec.search.cv.group] if spec.search.cv.group else None
    X_hold = y_hold = None
    if spec.data.holdout > 0:
        if spec.data.time or spec.search.cv.time_series:
            order = np.argsort(df[spec.data.time].to_numpy(), kind="stable") if spec.data.time else np.arange(len(df))
            cut = round(len(df) * (1 - spec.data.holdout))
            train_idx, hold_idx = order[:cut], order[cut:]
        else:
            stratify = y if task == "classification" else None
            train_idx, hold_idx = train_test_split(
                np.arange(len(df)), test_size=spec.data.holdout, random_state=spec.seed, stratify=stratify
            )
            train_idx, hold_idx = np.sort(train_idx), np.sort(hold_idx)
        X_train, y_train = X.iloc[train_idx], y.iloc[train_idx]
        X_hold, y_hold = X.iloc[hold_idx], y.iloc[hold_idx]
        if groups is not None:
            groups = groups.iloc[train_idx]
    else:
        X_train, y_train = X, y
    return PreparedData(
        frame=df,
        task=task,
        schema=schema,
        features=features,
        X_train=X_train,
        y_train=y_train,
        X_holdout=X_hold,
        y_holdout=y_hold,
        groups=groups,
        fingerprint=fingerprint(df),
        source=_source_text(spec),
        positive=positive,
        not_numbers=tuple(c for c, count in not_numbers.items() if count),
    )


def _positive(spec: Spec, task: str, y: pd.Series) -> Any:
    """The positive class of a binary target (the spec's ``data.positive_class``, else inferred)."""
    declared = spec.data.positive_class
    if task != "classification":
        if declared is not None:
            raise DataError(
                f"data.positive_class: {declared!r} is given, but the target {spec.data.target!r} is a "
                "regression target; remove the key"
            )
        return None
    values = y.dropna().to_numpy(dtype=object)
    try:
        classes = list(np.unique(values))  # scikit-learn's classes_ order
    except TypeError:  # values of several types: keep their first-seen order
        classes = list(pd.unique(values))
    return positive_class(classes, values, declared)


def _log_dataset(store: Store, run_id: str, spec: Spec, data: PreparedData) -> None:
    snapshot = None
    if spec.data.snapshot:
        buf = io.BytesIO()
        data.frame.to_parquet(buf, index=False)
        snapshot = store.artifacts.put_bytes(buf.getvalue()).sha256
    record = DatasetRecord(
        fingerprint=data.fingerprint,
        source=data.source,
        n_rows=len(data.frame),
        n_columns=data.frame.shape[1],
        schema=data.schema.to_dict(),
        profile=profile(data.frame, data.schema).to_dict(),
        snapshot_sha256=snapshot,
    )
    store.datasets.log_dataset(run_id, record, role="train")


REFERENCE_ARTIFACT = "reference.json"
LOSS_MODEL_ARTIFACT = "loss_model.skops"
NO_HOLDOUT = (
    "no holdout: the version was trained with data.holdout 0, so no rows were left to fit the loss models on; "
    "set data.holdout (e.g. 0.2) and retrain"
)


def _log_reference(store: Store, run_id: str, data: PreparedData, model: Any) -> None:
    """The monitor's compact reference (quantile sketches, bins, category counts).

    Kept with the run so drift can be measured without the rows, even when the
    dataset is not snapshotted. The model's outputs on the holdout (``proba_<class>``,
    or ``prediction`` for a regressor) are the reference of prediction drift; rows the
    model was trained on would look overconfident, so they are left empty.
    """
    from skloop.monitor import reference_summary

    frame = data.frame
    outputs: list[str] = []
    if data.X_holdout is not None and len(data.X_holdout) > 0:
        frame = frame.copy()
        if data.task == "classification" and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(data.X_holdout), dtype=np.float64)
            for j, label in enumerate(class_names(model.classes_)):
                column = f"proba_{label}"
                frame[column] = np.nan
                frame.loc[data.X_holdout.index, column] = proba[:, j]
                outputs.append(column)
        elif data.task == "regression":
            frame["prediction"] = np.nan
            frame.loc[data.X_holdout.index, "prediction"] = np.asarray(model.predict(data.X_holdout), dtype=np.float64)
            outputs.append("prediction")
    summary = reference_summary(frame, data.schema, prediction_columns=outputs)
    if data.task == "regression":
        summary = _with_loss_model(store, run_id, data, model, summary)
    store.runs.log_artifact(run_id, REFERENCE_ARTIFACT, summary.to_json().encode(), media_type="application/json")


def _with_loss_model(store: Store, run_id: str, data: PreparedData, model: Any, summary: Any) -> Any:
    """Fit a regressor's loss models (DLE) on the holdout; the summary names the artifact, or why there is none."""
    from skloop.monitor import DLE

    if data.X_holdout is None or data.y_holdout is None or len(data.X_holdout) == 0:
        return replace(summary, loss_reason=NO_HOLDOUT)
    try:
        dle = DLE().fit(data.X_holdout, model.predict(data.X_holdout), data.y_holdout.to_numpy())
    except DataError as exc:
        return replace(summary, loss_reason=f"no loss model: {exc}")
    store.runs.log_artifact(run_id, LOSS_MODEL_ARTIFACT, dle.to_bytes(), media_type="application/x-skops")
    return replace(summary, loss_model=LOSS_MODEL_ARTIFACT)


def _holdout_scores(model: Any, data: PreparedData, scoring: list[str]) -> dict[str, float]:
    if data.X_holdout is None or data.y_holdout is None or len(data.X_holdout) == 0:
        return {}
    scorers = build_scorers(scoring, data.positive)
    return {name: float(scorers[name](model, data.X_holdout, data.y_holdout)) for name in scoring}


def train(
    spec: Spec,
    settings: Settings,
    *,
    store: Store,
    progress: Progress | None = None,
    n_jobs: int | None = None,
    frame: pd.DataFrame | None = None,
    kind: str = "train",
    parent_run_id: str | None = None,
    register: bool | None = None,
    parent_version: int | None = None,
) -> TrainResult:
    """Train the spec's pipeline with cross-validated search, tracked as one run.

    Parameters
    ----------
    spec : Spec
        The validated spec.
    settings : Settings
        Where the project lives (relative data paths resolve against ``base_dir``).
    store : Store
        The tracking store.
    progress : Progress, optional
        Receives the steps and a tick per (candidate, fold) fit.
    n_jobs : int, optional
        Overrides ``search.n_jobs``.
    frame : DataFrame, optional
        Train on this table instead of reading ``data.train`` (used by reproduce).
    kind, parent_run_id : str
        How the run is recorded.
    register : bool, optional
        Register the model after the run (default: ``registry.enabled`` for ``train`` runs).
    parent_version : int, optional
        The version of ``spec.name`` the new version is retrained or derived from
        (recorded with it; the loop passes its champion). Only with registration.

    Returns
    -------
    TrainResult
    """
    progress = progress or NullProgress()
    if register is None:
        register = spec.registry.enabled and kind == "train"  # reproductions are checks, not new versions
    if parent_version is not None:
        if not register:
            raise UsageError(
                f"parent version {parent_version} is recorded with a registered version, and this run is not "
                "registered; drop the parent, or register (--register, registry.enabled: true)"
            )
        check_parent_version(store, spec.name, parent_version)  # before training, not after
    progress.step("reading and checking the data")
    data = prepare_data(spec, settings.base_dir, frame)
    n_classes = int(data.y_train.nunique()) if data.task == "classification" else 0
    pipeline = build_pipeline(spec, data.features)
    backend = resolve_search_backend(spec.search, settings)
    if backend.is_dask:
        optional_import("distributed", DASK_EXTRA)  # before the run starts: a missing extra fails no run
    if backend.is_dask and n_jobs is None and spec.search.n_jobs == 1:
        n_jobs = -1  # joblib runs n_jobs=1 in the caller, whatever the backend: use every worker
    plan = build_search(
        pipeline, spec.search, task=data.task, seed=spec.seed, n_classes=n_classes, n_jobs=n_jobs,
        positive=data.positive,
    )  # fmt: skip
    code = code_version(settings.base_dir)
    with store.runs.start_run(
        spec.name,
        kind=kind,
        spec=spec_snapshot(spec),
        code_commit=code.commit,
        code_dirty=code.dirty,
        environment=environment(),
        seed=spec.seed,
        parent_run_id=parent_run_id,
    ) as run:
        progress.step("recording the dataset")
        _log_dataset(store, run.id, spec, data)
        store.runs.log_params(
            run.id,
            {
                "task": data.task,
                "model": spec.pipeline.model.class_ if spec.pipeline.model else f"factory:{spec.pipeline.factory}",
                "search.strategy": spec.search.strategy,
                "search.cv.folds": spec.search.cv.folds,
                "search.refit": plan.refit,
                "n_features": len(data.features.all_columns),
                "n_train_rows": len(data.X_train),
                "n_holdout_rows": 0 if data.X_holdout is None else len(data.X_holdout),
                **({"positive_class": class_name(data.positive)} if data.positive is not None else {}),
            },
        )
        started = time.perf_counter()
        total = plan.n_fits
        with (
            progress.task(f"searching {plan.n_candidates or '?'} candidates x {plan.n_folds} folds", total) as advance,
            search_backend(backend) as scheduler,
        ):
            store.runs.log_params(run.id, {"search.backend": backend.name, "search.scheduler": scheduler})
            if not backend.is_dask:  # progress comes over a socket on this host; remote workers cannot reach it
                attach_progress(plan.search, advance)
                wait_for_workers()  # started early by the CLI: ready now, or joined before the search shares them
            fit_params = {"groups": data.groups} if data.groups is not None else {}
            try:
                plan.search.fit(data.X_train, data.y_train, **fit_params)
            except Exception as exc:  # an estimator's own error: name it, keep the cause
                raise PipelineError(
                    f"the search failed while fitting the pipeline: {type(exc).__name__}: {exc}"
                ) from exc
        duration = time.perf_counter() - started
        search = plan.search
        saving = _save_in_worker(search.best_estimator_)  # written by an idle search worker meanwhile
        best = int(search.best_index_)
        cv = summarize_cv(search.cv_results_, plan.scoring, best)
        best_params = {
            k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
            for k, v in search.best_params_.items()
        }
        store.runs.log_params(run.id, {f"best.{k}": v for k, v in best_params.items()})
        metrics: list[tuple[str, float, int]] = []
        for name, summary in cv.items():
            metrics += [(f"cv_{name}_fold", score, i) for i, score in enumerate(summary["folds"])]
            if summary["mean"] is not None:
                metrics.append((f"cv_{name}_mean", summary["mean"], 0))
            metrics.append((f"cv_{name}_std", summary["std"], 0))
        progress.step("scoring the holdout")
        holdout = _holdout_scores(search.best_estimator_, data, plan.scoring)
        metrics += [(f"holdout_{name}", value, 0) for name, value in holdout.items()]
        metrics.append(("search_seconds", duration, 0))
        store.runs.log_batch(run.id, metrics=metrics)
        _log_reference(store, run.id, data, search.best_estimator_)
        importance = importance_of(spec, data, search.best_estimator_, plan.refit) if register else None
        progress.step("saving the pipeline")
        store.runs.log_artifact(
            run.id, MODEL_ARTIFACT, _saved(saving, search.best_estimator_), media_type="application/x-skops"
        )
        store.runs.log_artifact(
            run.id,
            "cv_results.json",
            json.dumps(
                {
                    "refit": plan.refit,
                    "scoring": plan.scoring,
                    "best_index": best,
                    "candidates": candidates_table(search.cv_results_, plan.scoring),
                },
                indent=1,
            ).encode(),
            media_type="application/json",
        )
        store.runs.log_artifact(
            run.id,
            "features.json",
            json.dumps(
                data.features.to_dict()
                if hasattr(data.features, "to_dict")
                else {k: list(v) for k, v in vars(data.features).items()},
                indent=1,
            ).encode(),
            media_type="application/json",
        )
        if spec.registry.enabled and spec.registry.format != "skops":
            from skloop.registry import save_model

            store.runs.log_artifact(
                run.id, f"model.{spec.registry.format}", save_model(search.best_estimator_, spec.registry.format)
            )
        n_candidates = len(search.cv_results_["params"])
        result = TrainResult(
            run_id=run.id,
            task=data.task,
            best_params=best_params,
            cv=cv,
            holdout=holdout,
            refit_metric=plan.refit,
            n_candidates=n_candidates,
            dataset_fingerprint=data.fingerprint,
            duration_s=duration,
            model=search.best_estimator_,
            positive_class=data.positive,
        )
    if register:
        progress.step("registering the model")
        result = register_result(
            spec, store, result, data, plan.refit, parent_version=parent_version, importance=importance
        )
    return result


def _save_in_worker(model: Any) -> WorkerCall | None:
    """The pipeline's skops file, started in an idle search worker (``None``: none is there, or it cannot go).

    Writing skops costs its import (it walks every scikit-learn estimator, ~0.5 s) and
    the dump; done in a worker that the CLI started early, both overlap the holdout,
    the reference and the importance. The model travels pickled, as ``bytes``.
    """
    import pickle

    from skloop.registry import save_pickled_model

    if not workers_started():  # nothing to hand it to: no copy made
        return None
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # e.g. a lambda in a factory's pipeline: saved here instead
        logger.debug("the pipeline does not pickle (%s); it is saved in this process", exc)
        return None
    return in_worker(save_pickled_model, payload)


def _saved(saving: WorkerCall | None, model: Any) -> bytes:
    """The skops bytes from the worker, or written here when there was none or it failed."""
    from skloop.registry import save_model

    if saving is not None:
        try:
            data: bytes = saving.result(timeout=600)
            return data
        except Exception as exc:  # a worker that died or could not import: the same file, written here
            logger.debug("saving in a worker failed (%s: %s); saving in this process", type(exc).__name__, exc)
    return save_model(model, "skops")
