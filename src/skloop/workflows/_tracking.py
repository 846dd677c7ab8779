"""Tracking from a plain script: ``with skloop.start_run(...) as run: run.log_metric(...)``.

A script that trains its own way (no ``skloop.yaml`` spec) records into the same store
as ``skloop train``: the store comes from the project's settings (``SKLOOP_STORE_URL``,
``SKLOOP_ARTIFACT_ROOT``, else ``.skloop/`` under the working directory), the run
records the script's code version and environment, and it shows in ``skloop runs``,
``skloop ui`` and the comparisons like any other run. A crash inside the ``with``
ends the run ``failed`` with the traceback (``killed`` on Ctrl-C); the metrics logged
before it are kept.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from skloop.core import SPEC_FILENAME, Settings, UsageError, code_version, environment
from skloop.store import ArtifactRef, DatasetRecord, Run, Store

__all__ = ["SCRIPT_RUN_KIND", "ActiveRun", "active_run", "estimator_scores", "start_run"]

logger = logging.getLogger(__name__)

SCRIPT_RUN_KIND = "script"
"""The ``kind`` of a run started by :func:`start_run` (``skloop train`` records ``train``)."""
DEFAULT_PROJECT = "default"
SIGNATURE_ARTIFACT = "signature.json"
MAX_PARAM_TEXT = 500

_ACTIVE: list[ActiveRun] = []


def active_run() -> ActiveRun | None:
    """The innermost run started by :func:`start_run` and not yet ended, if any."""
    return _ACTIVE[-1] if _ACTIVE else None


def _script_path() -> Path | None:
    main = sys.argv[0] if sys.argv else ""
    path = Path(main)
    return path.resolve() if main and path.is_file() else None


def _default_project(base: Path) -> str:
    spec_file = base / SPEC_FILENAME
    if spec_file.is_file():
        from skloop.core import load_spec

        return load_spec(spec_file).name
    return DEFAULT_PROJECT


def param_text(value: object) -> str:
    """A parameter value as text: scalars as they are, estimators by class, the rest by ``repr`` (cut)."""
    if value is None or isinstance(value, str | int | float | bool):
        return str(value)
    if hasattr(value, "get_params") and hasattr(value, "fit"):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= MAX_PARAM_TEXT else text[: MAX_PARAM_TEXT - 3] + "..."


def data_frame(X: Any, y: Any = None) -> tuple[Any, str | None]:
    """``X`` (and ``y`` as a last column) as one DataFrame, and the target column's name.

    Arrays get columns ``x0, x1, ...``; a target without a name (or whose name is a
    feature's) is called ``target``.
    """
    import numpy as np
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True).copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        values = np.asarray(X)
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        if values.ndim != 2:
            raise UsageError(f"X must be a table (2 dimensions), given an array of shape {values.shape}")
        frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
    if y is None:
        return frame, None
    target = str(getattr(y, "name", None) or "target")
    while target in frame.columns:
        target = f"{target}_"
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(frame):
        raise UsageError(f"y must be one column with a value per row of X ({len(frame)}), given shape {labels.shape}")
    frame[target] = labels
    return frame, target


def estimator_scores(model: Any, X: Any, y: Any, prefix: str) -> dict[str, float]:
    """The usual scores of a fitted model on ``(X, y)``, named ``<prefix>_<metric>``.

    A classifier: ``accuracy``, weighted ``precision``, ``recall``, ``f1`` and, with
    ``predict_proba``, ``log_loss`` and ``roc_auc`` (one-vs-rest for several classes).
    A regressor: ``mse``, ``rmse``, ``mae``, ``r2``. Both: ``score`` (the model's own).
    """
    import numpy as np
    from sklearn import metrics
    from sklearn.base import is_classifier

    out: dict[str, float] = {"score": float(model.score(X, y))}
    predicted = model.predict(X)
    if is_classifier(model):
        out["accuracy"] = float(metrics.accuracy_score(y, predicted))
        for name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                         ("f1", metrics.f1_score)):  # fmt: skip
            out[name] = float(fn(y, predicted, average="weighted", zero_division=0))
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(X))
            classes = list(model.classes_)
            if len(np.unique(np.asarray(y))) > 1:  # a score of one class is undefined
                out["log_loss"] = float(metrics.log_loss(y, proba, labels=classes))
                if len(classes) == 2:
                    out["roc_auc"] = float(metrics.roc_auc_score(np.asarray(y) == classes[1], proba[:, 1]))
                else:
                    out["roc_auc"] = float(
                        metrics.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes)
                    )
    else:
        mse = float(metrics.mean_squared_error(y, predicted))
        out.update(mse=mse, rmse=mse**0.5, mae=float(metrics.mean_absolute_error(y, predicted)),
                   r2=float(metrics.r2_score(y, predicted)))  # fmt: skip
    return {f"{prefix}_{k}": v for k, v in out.items()}


class ActiveRun:
    """A run of a plain script, recording while it lasts; a context manager.

    Made by :func:`start_run`, which has created the run (status ``running``). The
    ``with`` block ends it ``finished``, ``failed`` (with the traceback, on an
    exception, which propagates) or ``killed`` (on ``KeyboardInterrupt``); outside a
    ``with``, call :meth:`end`.

    Attributes
    ----------
    id : str
        The run's id (what ``skloop show`` takes).
    project : str
        The project it is recorded under.
    store : Store
        The store it writes to.
    model_version : int or None
        The registry version made when the run ended, if :meth:`log_model` was given
        ``registered_model_name``.
    """

    def __init__(self, store: Store, run: Run, *, owns_store: bool, parent: ActiveRun | None) -> None:
        self.store = store
        self.id = run.id
        self.project = run.project
        self.parent = parent
        self.model_version: int | None = None
        self._owns_store = owns_store
        self._ended = False
        self._register: tuple[str, str, dict[str, Any]] | None = None
        self.autologged = False  # set by autolog once a fit has been recorded here

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, project={self.project!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            self.end()
        elif isinstance(exc, KeyboardInterrupt | SystemExit):
            self.end("killed", f"interrupted by {type(exc).__name__}")
        else:
            self.end("failed", "".join(traceback.format_exception(exc)).strip())

    # -- recording ---------------------------------------------------------------

    def log_param(self, key: str, value: object) -> None:
        """Record one parameter (text; it cannot change once set)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record several parameters at once; values that are not scalars are stored as text."""
        self.store.runs.log_params(self.id, {k: param_text(v) for k, v in params.items()})

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        """Record a metric value at ``step`` (buffered and written in batches)."""
        self.store.runs.log_metric(self.id, key, value, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Record several metric values at the same ``step``."""
        self.store.runs.log_metrics(self.id, metrics, step=step)

    def set_tag(self, key: str, value: object) -> None:
        """Set (or overwrite) a tag."""
        self.store.runs.set_tags(self.id, {key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set (or overwrite) several tags."""
        self.store.runs.set_tags(self.id, tags)

    def log_artifact(
        self, path: str | os.PathLike[str] | bytes, name: str | None = None, media_type: str | None = None
    ) -> ArtifactRef:
        """Store a local file (or bytes, with ``name``) as an artifact of the run.

        ``name`` defaults to the file's name; ``media_type`` to a guess from it.
        """
        if isinstance(path, bytes | bytearray):
            if not name:
                raise UsageError("log_artifact of bytes needs a name, e.g. name='report.json'")
            return self.store.runs.log_artifact(self.id, name, bytes(path), media_type=media_type)
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"log_artifact: {str(file)!r} is not a file")
        name = name or file.name
        media_type = media_type or mimetypes.guess_type(name)[0]
        return self.store.runs.log_artifact(self.id, name, file, media_type=media_type)

    def log_dataset(self, X: Any, y: Any = None, *, role: str = "train", source: str | None = None) -> str:
        """Record the table ``X`` (with target ``y``) the run read: fingerprint, schema, profile.

        The fingerprint is :func:`skloop.data.fingerprint` of ``X`` with ``y`` as its
        last column, so the same rows give the same dataset whatever the script. Returns it.
        """
        from skloop.data import fingerprint, infer_schema, profile

        frame, target = data_frame(X, y)
        schema = infer_schema(frame, target=target)
        record = DatasetRecord(
            fingerprint=fingerprint(frame),
            source=source or f"in-memory {type(X).__name__} ({role})",
            n_rows=len(frame),
            n_columns=frame.shape[1],
            schema=schema.to_dict(),
            profile=profile(frame, schema).to_dict(),
        )
        self.store.datasets.log_dataset(self.id, record, role=role)
        return record.fingerprint

    def log_model(
        self,
        model: Any,
        X_sample: Any,
        y_sample: Any = None,
        *,
        registered_model_name: str | None = None,
        format: str = "skops",
    ) -> ArtifactRef:
        """Store the fitted ``model`` (skops by default) with its signature inferred from ``X_sample``.

        With ``registered_model_name``, the run's model becomes the next version of that
        registered model when the run ends ``finished`` (:attr:`model_version`), ready for
        ``skloop promote`` and ``skloop serve``. One model per run.

        Raises
        ------
        UsageError
            The model is not fitted.
        """
        from sklearn.base import is_classifier
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        from skloop.registry import MODEL_ARTIFACTS, infer_signature, save_model

        try:
            check_is_fitted(model)
        except (NotFittedError, TypeError) as exc:
            raise UsageError(f"log_model needs a fitted estimator: {exc}") from exc
        if format not in MODEL_ARTIFACTS:
            raise UsageError(f"log_model: unknown format {format!r}; use one of {', '.join(MODEL_ARTIFACTS)}")
        frame, target = data_frame(X_sample, y_sample)
        X_frame = frame.drop(columns=[target]) if target else frame
        y_series = frame[target] if target else None
        signature = infer_signature(
            X_frame, y_series, task="classification" if is_classifier(model) else "regression", model=model
        ).to_dict()
        ref = self.store.runs.log_artifact(
            self.id, MODEL_ARTIFACTS[format], save_model(model, format), media_type=f"application/x-{format}"
        )
        self.store.runs.log_artifact(
            self.id, SIGNATURE_ARTIFACT, json.dumps(signature, indent=1).encode(), media_type="application/json"
        )
        if registered_model_name is not None:
            self._register = (registered_model_name, format, signature)
        return ref

    def evaluate(self, model: Any, X: Any, y: Any, *, prefix: str = "eval") -> dict[str, float]:
        """Score the fitted ``model`` on ``(X, y)``, record the scores as metrics and return them.

        See :func:`estimator_scores` for the metrics (``eval_accuracy``, ``eval_r2``, ...).
        """
        scores = estimator_scores(model, X, y, prefix)
        self.log_metrics(scores)
        return scores

    def read(self) -> Run:
        """The run as the store has it now (params, metrics, tags, artifacts, ...)."""
        return self.store.runs.get_run(self.id)

    # -- ending ------------------------------------------------------------------

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """End the run (``finished``, ``failed`` or ``killed``); later calls do nothing.

        A run that ends ``finished`` with a model to register is registered then.
        """
        if self._ended:
            return
        self._ended = True
        try:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            self.store.runs.finish_run(self.id, status, error)
            if status == "finished" and self._register is not None:
                from skloop.registry import Registry

                name, fmt, signature = self._register
                version = Registry(self.store).register(self.id, name, signature=signature, format=fmt)
                self.model_version = version.version
        finally:
            if self._owns_store:
                self.store.close()


def start_run(
    project: str | None = None,
    *,
    name: str | None = None,
    tags: Mapping[str, object] | None = None,
    nested: bool = False,
    settings: Settings | None = None,
    store: Store | None = None,
) -> ActiveRun:
    """Start a tracked run for a plain script; use it as a context manager.

    Parameters
    ----------
    project : str, optional
        The project the run belongs to (what ``skloop runs`` lists by). Default: the
        ``name`` of ``skloop.yaml`` in the working directory, else ``"default"``.
    name : str, optional
        A name for the run.
    tags : mapping, optional
        Tags set at the start.
    nested : bool, default=False
        Start a child run of the active run (same store, ``parent_run_id`` set).
        Without it, starting a run while another is active is an error.
    settings : Settings, optional
        Where the store is; default :meth:`Settings.from_env` of the working directory
        (``SKLOOP_STORE_URL`` and ``SKLOOP_ARTIFACT_ROOT`` win), as every command does.
    store : Store, optional
        An open store to write to (left open when the run ends).

    Returns
    -------
    ActiveRun

    Raises
    ------
    UsageError
        Another run is active and ``nested`` is not set.

    Examples
    --------
    >>> import skloop
    >>> with skloop.start_run(project="churn", name="baseline") as run:   # doctest: +SKIP
    ...     run.log_params({"C": 1.0})
    ...     for epoch, loss in enumerate(losses):
    ...         run.log_metric("loss", loss, step=epoch)
    """
    parent = active_run()
    if parent is not None and not nested:
        raise UsageError(
            f"run {parent.id} is still active; end it first, or pass nested=True to start a child run of it"
        )
    base = Path.cwd() if settings is None else settings.base_dir
    script = _script_path()
    owns = False
    if parent is not None and store is None:
        store = parent.store
    elif store is None:
        store = Store.open(settings or Settings.from_env(base))
        owns = True
    try:
        code = code_version(script.parent if script else base)
        all_tags: dict[str, object] = {"source": str(script) if script else "interactive"}
        all_tags.update(tags or {})
        run = store.runs.create_run(
            project or (parent.project if parent else _default_project(base)),
            SCRIPT_RUN_KIND,
            name=name,
            code_commit=code.commit,
            code_dirty=code.dirty,
            environment=environment(),
            parent_run_id=parent.id if parent else None,
            tags=all_tags,
        )
    except BaseException:
        if owns:
            store.close()
        raise
    active = ActiveRun(store, run, owns_store=owns, parent=parent)
    _ACTIVE.append(active)
    logger.info("started run %s of %s", run.id, run.project)
    return active
