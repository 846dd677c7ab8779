"""Monitor a registered model: registry + store + monitor, for ``skloop monitor`` and ``skloop explain``.

The reference is the version's training data: its snapshot in the artifact store (or a
file given with ``reference``), else the profile recorded with the dataset. The
training run's spec gives the monitoring settings and the holdout split, which is
rebuilt from the snapshot to calibrate the performance estimate (CBPE) on rows the
model did not train on.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from skloop.core import DataError, MonitoringSpec, Settings, SkloopError, UsageError, spec_from_dict
from skloop.data import DatasetProfile, Schema, class_name, class_names, read_table
from skloop.monitor import (
    CBPE,
    DLE,
    Explanation,
    MonitorReport,
    ReferenceSummary,
    explain_rows,
    monitor_frame,
    window_cut,
)
from skloop.registry import Registry, Signature, Trust, coerce_frame
from skloop.store import DEFAULT_PAGE_SIZE, ModelVersion, Store, StoredReport

if TYPE_CHECKING:
    from skloop.integrations import DaskCluster

__all__ = [
    "MonitorInputs",
    "explain_model",
    "load_monitor_inputs",
    "model_input_columns",
    "monitor_model",
    "save_report",
]

logger = logging.getLogger(__name__)
MAX_CALIBRATION_ROWS = 20_000


@dataclass(frozen=True)
class MonitorInputs:
    """What monitoring a version needs, gathered from the registry and the store.

    Attributes
    ----------
    version : ModelVersion
    model : estimator
        The loaded pipeline.
    signature : Signature or None
    schema : Schema or None
        The training schema (kinds and roles of the columns).
    reference : DataFrame or DatasetProfile
        The training rows, or their stored profile.
    reference_name : str
    config : MonitoringSpec
        The training spec's ``monitoring`` section (defaults when absent).
    target : str or None
    estimator : CBPE or DLE or None
        A classifier's CBPE, calibrated on the training holdout (with a data snapshot),
        or a regressor's loss models (DLE), fitted on the holdout at training.
    columns : tuple of str or None
        The model's input columns (:func:`model_input_columns`): the only columns
        monitored. ``None`` when the version records none (then the schema's features).
    time_column : str or None
        The training spec's ``data.time``: what time windows of a table cut by.
    estimate_reason : str or None
        Why there is no ``estimator``.
    reference_rows : DataFrame or None
        The training rows (snapshot) or the ``--reference`` file: what multivariate
        drift compares with. ``None`` when only a summary or profile is recorded.
    """

    version: ModelVersion
    model: Any
    signature: Signature | None
    schema: Schema | None
    reference: pd.DataFrame | DatasetProfile | ReferenceSummary
    reference_name: str
    config: MonitoringSpec
    target: str | None
    estimator: CBPE | DLE | None
    columns: tuple[str, ...] | None = None
    time_column: str | None = None
    estimate_reason: str | None = None
    reference_rows: pd.DataFrame | None = None


def model_input_columns(store: Store, version: ModelVersion) -> tuple[str, ...] | None:
    """The columns the model reads: what monitoring tests, and what a retrain keeps of the traffic.

    The version's signature inputs (the training table's resolved features: never the
    target, the id, the time column or ``features.drop``); for a version registered
    without a signature, the run's ``features.json``; else ``None``.
    """
    if version.signature:
        return tuple(c.name for c in Signature.from_dict(version.signature).inputs)
    try:
        features = json.loads(store.runs.load_artifact(version.run_id, "features.json"))
    except (SkloopError, ValueError):
        return None
    return tuple(str(c) for kind in ("numeric", "categorical", "boolean", "datetime", "text")
                 for c in features.get(kind, ()))  # fmt: skip


def _spec(store: Store, version: ModelVersion) -> Any:
    try:
        run = store.runs.get_run(version.run_id)
        return spec_from_dict(run.spec) if run.spec else None
    except SkloopError as exc:
        logger.warning("the spec of run %s cannot be read (%s); monitoring with defaults", version.run_id, exc)
        return None


def _with_rows(frame: pd.DataFrame, name: str, purpose: str) -> pd.DataFrame:
    """``frame``, refused when it has no rows (a CSV holding only its header)."""
    if frame.empty:
        raise DataError(f"{name} has no rows ({len(frame.columns)} columns, 0 rows); nothing to {purpose}")
    return frame


def _stored_reference(store: Store, version: ModelVersion) -> ReferenceSummary | None:
    """The compact reference training kept with the run (``None`` for older runs)."""
    from skloop.workflows._train import REFERENCE_ARTIFACT

    try:
        return ReferenceSummary.from_json(store.runs.load_artifact(version.run_id, REFERENCE_ARTIFACT).decode())
    except SkloopError:
        return None


PREDATES_LOSS_MODELS = "the model version predates loss models: retrain it to estimate MAE and RMSE without labels"


def _loss_model(store: Store, version: ModelVersion) -> tuple[DLE | None, str | None]:
    """A regressor's loss models recorded at training, or why there are none."""
    summary = _stored_reference(store, version)
    if summary is None or (summary.loss_model is None and summary.loss_reason is None):
        return None, PREDATES_LOSS_MODELS
    if summary.loss_model is None:
        return None, summary.loss_reason
    try:
        return DLE.from_bytes(store.runs.load_artifact(version.run_id, summary.loss_model)), None
    except SkloopError as exc:
        logger.warning("no performance estimate: the loss model of %s cannot be loaded (%s)", version.ref, exc)
        return None, f"the loss model cannot be loaded ({exc}); retrain the version"


def _estimator(
    store: Store,
    version: ModelVersion,
    model: Any,
    frame: pd.DataFrame | None,
    spec: Any,
    settings: Settings,
    target: str | None,
    positive: Any,
) -> tuple[CBPE | DLE | None, str | None]:
    """The version's performance estimator (CBPE for a classifier, DLE for a regressor), or why there is none."""
    if not hasattr(model, "classes_"):
        return _loss_model(store, version)
    if not hasattr(model, "predict_proba"):
        return None, f"{type(model).__name__} has no predict_proba: CBPE needs the model's probabilities"
    if frame is None:
        return None, (
            "no training rows to calibrate CBPE on (the dataset was not snapshotted); pass --reference FILE "
            "with the target column"
        )  # fmt: skip
    if target is None or target not in frame.columns:
        return None, f"the reference rows have no target column {target!r} to calibrate CBPE on"
    cbpe = _calibrate(model, frame, spec, settings, target, positive)
    return cbpe, None if cbpe is not None else "the calibration of CBPE on the training holdout failed (see the log)"


def _calibrate(
    model: Any, frame: pd.DataFrame, spec: Any, settings: Settings, target: str | None, positive: Any = None
) -> CBPE | None:
    """A CBPE fitted on the training holdout rebuilt from the snapshot (else on a sample of it)."""
    if target is None or target not in frame.columns or not hasattr(model, "predict_proba"):
        return None
    X = y = None
    if spec is not None:
        from skloop.workflows._train import prepare_data

        try:
            data = prepare_data(spec, settings.base_dir, frame)
            X, y = data.X_holdout, data.y_holdout
        except SkloopError as exc:
            logger.warning("the training holdout cannot be rebuilt (%s); calibrating on the training rows", exc)
    if X is None or y is None or len(X) < 50:
        sample = frame.sample(min(len(frame), MAX_CALIBRATION_ROWS), random_state=0)
        X, y = sample.drop(columns=[target]), sample[target]
    columns = [str(c) for c in getattr(model, "feature_names_in_", X.columns)]
    try:
        cbpe = CBPE(classes=list(model.classes_), positive=positive)
        return cbpe.fit(model.predict_proba(X[columns]), y.to_numpy())
    except (SkloopError, KeyError, ValueError) as exc:
        logger.warning("no performance estimate: calibration failed (%s)", exc)
        return None


def load_monitor_inputs(
    store: Store,
    ref: str,
    settings: Settings,
    *,
    reference: str | os.PathLike[str] | pd.DataFrame | None = None,
    trust: Trust | None = None,
) -> MonitorInputs:
    """Gather the version, model, reference, schema, settings and estimator of ``ref``.

    The model loads with ``trust`` and ``settings.trust`` (never the trust recorded in
    the training run's spec snapshot, which anyone who can write to the store could set).

    Raises
    ------
    ModelNotFoundError
        ``ref`` names no version.
    DataError
        No reference: no file given, and the version has no recorded training dataset.
    """
    registry = Registry(store)
    version = registry.resolve(ref)
    model = registry.load_model(version.ref, trust=Trust.of(settings) | (trust or Trust()))
    signature = Signature.from_dict(version.signature) if version.signature else None
    spec = _spec(store, version)
    config = spec.monitoring if spec is not None else MonitoringSpec()
    target = spec.data.target if spec is not None else None
    record = store.datasets.get_dataset(version.dataset_fingerprint) if version.dataset_fingerprint else None
    schema = Schema.from_dict(record.schema) if record is not None and record.schema else None
    frame: pd.DataFrame | None = None
    summary = None if reference is not None else _stored_reference(store, version)
    fp = (version.dataset_fingerprint or "")[:12]
    if isinstance(reference, pd.DataFrame):
        frame, name = reference, "reference data"
    elif reference is not None:
        frame, name = read_table(reference), os.fspath(reference)
        _with_rows(frame, name, "compare with")
    elif record is not None and record.snapshot_sha256:
        data = store.artifacts.get_bytes(record.snapshot_sha256, name=f"training data of {version.ref}")
        frame, name = pd.read_parquet(io.BytesIO(data)), f"training data ({fp})"
    elif summary is None and not (record is not None and record.profile):
        raise DataError(f"{version.ref} has no recorded training dataset to compare with; pass --reference FILE")
    positive = signature.output.positive_class if signature is not None else None
    estimator, reason = _estimator(store, version, model, frame, spec, settings, target, positive)
    # the reference training recorded (with holdout predictions, for prediction drift) wins,
    # unless the user gave one; the rows, when snapshotted, still calibrate the estimate
    ref_data: pd.DataFrame | DatasetProfile | ReferenceSummary
    if summary is not None:
        ref_data, name = summary, f"training reference ({fp})"
    elif frame is not None:
        ref_data = frame
    else:
        ref_data, name = DatasetProfile.from_dict(record.profile), f"training profile ({fp})"  # type: ignore[union-attr]
    return MonitorInputs(
        version=version, model=model, signature=signature, schema=schema, reference=ref_data, reference_name=name,
        config=config, target=target, estimator=estimator, columns=model_input_columns(store, version),
        time_column=spec.data.time if spec is not None else None, estimate_reason=reason, reference_rows=frame,
    )  # fmt: skip


def score_frame(inputs: MonitorInputs, current: pd.DataFrame) -> pd.DataFrame:
    """A log frame of ``current``: its columns, the model's ``prediction`` and ``proba_*``, ``label``."""
    columns = inputs.columns
    X = current
    if inputs.signature is not None:
        missing = [c for c in columns or () if c not in current.columns]
        if missing:
            raise DataError(f"the current data lacks the model's input columns {missing}")
        X = coerce_frame(current[list(columns or ())], inputs.signature).frame
    out = current.drop(columns=[inputs.target], errors="ignore").copy()
    out["prediction"] = np.asarray(inputs.model.predict(X))
    if hasattr(inputs.model, "predict_proba"):
        proba = np.asarray(inputs.model.predict_proba(X), dtype=np.float64)
        for j, label in enumerate(class_names(inputs.model.classes_)):
            out[f"proba_{label}"] = proba[:, j]
    if inputs.target is not None and inputs.target in current.columns:
        out["label"] = current[inputs.target].to_numpy()
    return out


def monitor_model(
    store: Store,
    ref: str,
    settings: Settings,
    *,
    current: str | os.PathLike[str] | pd.DataFrame | None = None,
    reference: str | os.PathLike[str] | pd.DataFrame | None = None,
    from_log: bool = False,
    since: str | None = None,
    window: str | int | None = None,
    period: str | None = None,
    judge_partial: bool = False,
    time_column: str | None = None,
    now: datetime | None = None,
    n_boot: int = 200,
    seed: int = 0,
    trust: Trust | None = None,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    dask: DaskCluster | None = None,
    multivariate: bool | None = None,
    shadow: bool = False,
    tz: str | None = None,
) -> MonitorReport:
    """Monitor the version ``ref`` on new data (``current``) or on its served traffic (``from_log``).

    Parameters
    ----------
    store : Store
    ref : str
        ``name@alias``, ``name/version`` or ``name``.
    settings : Settings
        Where relative paths of the training spec resolve.
    current : path or DataFrame, optional
        New rows (with the target column, if known, for realised performance).
    reference : path or DataFrame, optional
        Compare with this instead of the version's training data.
    from_log : bool
        Monitor the prediction log of the model's name instead of ``current``.
    since : str, optional
        With ``from_log``: only predictions of the last ``since`` (``7d``, ``12h``).
    window : str or int, optional
        Also compute everything per window (``1d``, ``500`` rows; durations aligned on
        the Unix epoch, UTC).
    period : str, optional
        Instead of ``window``: per calendar period, ``day``, ``week``, ``month``,
        ``quarter``, ``year`` or a pandas period alias (UTC). A file is cut by its time
        column (``time_column``, else the training spec's ``data.time``), the log by the
        prediction time.
    judge_partial : bool
        Judge partial first and last windows like full ones (by default they are
        marked and left out of the windows' verdict and alerts).
    time_column : str, optional
        With ``current``: the column time windows cut by, instead of the training spec's
        ``data.time``.
    now : datetime, optional
        With ``from_log``: the time the log is read at (default: now), where ``since``
        counts back from and up to which the log observes its windows.
    n_boot, seed : int
        Bootstrap resamples and seed of the intervals.
    trust : Trust, optional
        What loading the model may trust besides ``settings.trust``: ``Trust(pickle=True)``
        for a joblib model (only for sources you trust), ``types`` for skops.
    page_size : int or None, default=10000
        With ``from_log``: predictions read from the store at a time (``None``: all at
        once). The log is streamed page by page into the monitor's accumulators
        (:func:`~skloop.monitor.monitor_pages`), so memory is bounded by the page size,
        not by the history; the report does not depend on it.
    dask : DaskCluster, optional
        Score ``current``, a Parquet file or folder (a path or an fsspec URL the workers
        read), on this cluster one partition at a time, streamed into the same
        accumulators as the log (:mod:`skloop.workflows._monitor_dask`); no ``window``.
    multivariate : bool, optional
        Also multivariate drift, overall and per window, with the training spec's
        ``monitoring.multivariate`` settings; default: its ``enabled``. Needs the
        reference rows (a data snapshot or ``reference``).
    shadow : bool
        With ``from_log``: also compare the shadow model's logged outputs (``skloop serve
        --shadow``) with the served model's on the same rows, in the same pass over the
        pages (:attr:`MonitorReport.shadow`: agreement, output drift, and both models'
        realised metrics with the loop's paired test once labels have arrived); with
        ``window`` or ``period``, the same per window (:attr:`ShadowReport.windows`).
    tz : str, optional
        With ``period``: cut the calendar periods in this IANA time zone
        (``"Europe/Paris"``) instead of UTC.

    Returns
    -------
    MonitorReport

    Raises
    ------
    DataError
        Neither or both of ``current`` and ``from_log``; no logged prediction; with
        ``shadow``, no logged row the shadow answered.
    """
    if shadow and not from_log:
        raise UsageError("the shadow's outputs are in the prediction log only: monitor it with --from-log --shadow")
    if (current is None) == (not from_log):
        raise DataError("monitor needs either current data (--current FILE) or the prediction log (--from-log)")
    cut = window_cut(window, period, tz=tz)  # a bad window or period fails before anything loads
    if time_column is not None and from_log:
        raise UsageError("a time column applies to --current (a table); the log is cut by its prediction time")
    inputs = load_monitor_inputs(store, ref, settings, reference=reference, trust=trust)
    version = inputs.version
    cuts: dict[str, Any] = {"window": window, "period": period, "judge_partial": judge_partial, "tz": tz}
    mv = inputs.config.multivariate
    if multivariate is None:
        multivariate = mv.enabled
    if multivariate and inputs.reference_rows is None:
        raise DataError(
            f"multivariate drift needs the training rows of {version.ref}, but only a summary was recorded "
            "(no data snapshot); pass --reference FILE, or turn monitoring.multivariate.enabled off"
        )
    mv_args: dict[str, Any] = {"multivariate": mv if multivariate else None, "reference_rows": inputs.reference_rows}
    if from_log:
        from skloop.workflows._monitor_log import monitor_log

        return monitor_log(
            store, inputs, _report_args(inputs), cuts, since=since, now=now, page_size=page_size, n_boot=n_boot,
            seed=seed, mv_args=mv_args, shadow=shadow,
        )  # fmt: skip
    if dask is not None and current is not None and not isinstance(current, pd.DataFrame):
        from skloop.workflows._monitor_dask import monitor_partitions

        if period is not None:
            raise UsageError("--period is not computed on dask; monitor the whole table, or drop --dask for windows")
        if multivariate:
            raise UsageError("multivariate drift is not computed on a Dask cluster yet; drop --dask or --multivariate")

        return monitor_partitions(dask, inputs, current, _report_args(inputs), window=window, n_boot=n_boot, seed=seed)
    frame = current if isinstance(current, pd.DataFrame) else read_table(current)  # type: ignore[arg-type]
    current_name = "current data" if isinstance(current, pd.DataFrame) else os.fspath(current)  # type: ignore[arg-type]
    _with_rows(frame, current_name, "monitor")
    # the table's own time column, as training declared it (or as the caller names it)
    column = time_column or inputs.time_column or "time"
    if cut is not None and cut.by_time and column not in frame.columns:
        raise DataError(_no_time_column(version.ref, current_name, column, time_column, inputs.time_column, frame))
    log = score_frame(inputs, frame)
    return monitor_frame(
        log, inputs.reference, **_report_args(inputs), **cuts, n_boot=n_boot, seed=seed,
        current_name=current_name, time_column=column,
        multivariate=mv if multivariate else False, reference_rows=inputs.reference_rows,
    )  # fmt: skip


def _no_time_column(
    ref: str, name: str, column: str, given: str | None, declared: str | None, frame: pd.DataFrame
) -> str:
    """Why a table cannot be cut by time: which column was looked for, where that came from, what it has."""
    has = [str(c) for c in frame.columns]
    if given is not None:
        where = f"the time column given ({given!r})"
    elif declared is not None:
        where = f"its time column {declared!r} (data.time of the spec {ref} was trained with)"
    else:
        where = f"a {column!r} column: the spec {ref} was trained with sets no data.time"
    return (
        f"time windows of {name} need {where}, but it has no such column; it has {has}. "
        "Name the table's time column with --time-column (or set data.time in the spec and retrain), "
        "or cut by rows (--window 500)"
    )


def _report_args(inputs: MonitorInputs) -> dict[str, Any]:
    """What a report of ``inputs``' version takes besides the rows (model, task, reference, ...)."""
    version = inputs.version
    return {
        "schema": inputs.schema, "config": inputs.config,
        "task": inputs.signature.output.task if inputs.signature is not None else None,
        "classes": list(inputs.model.classes_) if hasattr(inputs.model, "classes_") else None,
        "reference_metrics": version.metrics, "importance": version.importance, "estimator": inputs.estimator,
        "model": version.ref, "reference_name": inputs.reference_name, "columns": inputs.columns,
        "positive": inputs.signature.output.positive_class if inputs.signature is not None else None,
        "estimate_reason": inputs.estimate_reason,
    }  # fmt: skip


def save_report(
    store: Store,
    report: MonitorReport,
    *,
    source_kind: str,
    source: str,
    window: str | int | None = None,
    replace: bool = False,
) -> StoredReport:
    """Keep ``report`` in the store (``store.reports``), where the UI's monitoring page reads it.

    Parameters
    ----------
    store : Store
    report : MonitorReport
        From :func:`monitor_model` (its ``model`` names the version, ``name/version``).
    source_kind : {"file", "data", "log", "loop"}
    source : str
        The file monitored, ``log`` (with its ``--since``), or a loop decision id.
    window : str or int, optional
        The window setting the report was cut by.
    replace : bool
        Replace the model's earlier report of the same source (the loop: one per decision).

    Returns
    -------
    StoredReport

    Raises
    ------
    DataError
        The report names no model version.
    """
    name, _, number = (report.model or "").rpartition("/")
    if not name or not number.isdigit():
        raise DataError(f"the report names no model version (model={report.model!r}); only a model's report is kept")
    d = report.drift
    alerts = report.performance_alerts()
    label = None if window is None else report.windows.window if report.windows is not None else str(window)
    return store.reports.add_report(
        name, int(number), report.to_json(), source_kind=source_kind, source=source, window=label,
        drifted=report.drifted, n_features=len(d.features), n_drifted=len(d.drifted_features), drift_share=d.share,
        performance_alert=bool(alerts), n_quality_issues=len(d.quality.issues), n_rows=d.n_current,
        summary=report.summary(), replace=replace,
    )  # fmt: skip


def explain_model(
    store: Store,
    ref: str,
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    trust: Trust | None = None,
    class_: Any = None,
) -> tuple[ModelVersion, Explanation]:
    """Per-row contributions by input column of the version ``ref`` on ``data``.

    The model loads with the caller's ``trust`` (default: skloop's own types, no pickle).
    A classifier's output for ``class_`` is explained (matched by
    :func:`skloop.data.class_name`, so ``"1"`` names ``1.0``); by default the positive
    class of a binary model (inferred or ``data.positive_class``, as recorded in its
    signature), else the last class.

    Raises
    ------
    DataError
        ``class_`` is not one of the model's classes, or the data lacks an input column.
    MissingExtraError
        ``shap`` is not installed (``pip install 'skloop[explain]'``).
    """
    registry = Registry(store)
    version = registry.resolve(ref)
    model = registry.load_model(version.ref, trust=trust)
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    _with_rows(frame, "the data" if isinstance(data, pd.DataFrame) else os.fspath(data), "explain")
    X = frame
    signature = Signature.from_dict(version.signature) if version.signature else None
    if signature is not None:
        columns = [c.name for c in signature.inputs]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"the data lacks the model's input columns {missing}")
        X = coerce_frame(frame[columns], signature).frame
    return version, explain_rows(model, X, class_index=_class_index(model, signature, class_))


def _class_index(model: Any, signature: Signature | None, wanted: Any) -> int | None:
    """Where ``wanted`` (default: the recorded positive class) is in the model's classes."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        if wanted is not None:
            raise DataError(f"class {wanted!r} was given, but {type(model).__name__} is not a classifier")
        return None
    names = class_names(classes)
    if wanted is None:
        wanted = signature.output.positive_class if signature is not None else None
        if wanted is None:
            return None
    try:
        return names.index(class_name(wanted))
    except ValueError:
        raise DataError(f"class {wanted!r} is not one of the model's classes {names}") from None
