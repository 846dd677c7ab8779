"""Bring an MLflow scikit-learn model into skloop's registry (``skloop import-mlflow``).

The model is named by an MLflow URI (``runs:/<run id>/<path>``, ``models:/<name>/<version>``,
``models:/<name>@<alias>``) read from a tracking server, or by a local model directory.
Its ``sklearn`` flavor is loaded under skloop's trust policy
(:class:`~skloop.registry.Trust`): a pickle or cloudpickle model only with
``trust.pickle`` (``--trust``), a skops one with skloop's allow-list and the caller's
types — never the types the ``MLmodel`` file lists, which whoever wrote it chose.

The import is a finished run of kind ``import`` (the MLflow run's params and every
point of its metric histories, the source URI as tags, the model re-saved as skops)
registered as the next version of ``name``, with a skloop signature converted from
MLflow's (column types) or inferred from the saved input example. Optionally a
reference table makes the version monitorable like a trained one.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import MirrorError, RegistryError, UntrustedModelError, optional_import
from skloop.data import fingerprint, infer_schema, profile
from skloop.integrations import MLFLOW_EXTRA
from skloop.registry import InputColumn, OutputSchema, Registry, Signature, Trust, infer_signature, save_model
from skloop.registry import load_model as load_skloop_model
from skloop.store import DatasetRecord, ModelVersion, Store

logger = logging.getLogger(__name__)

__all__ = ["ImportResult", "import_mlflow", "signature_from_mlflow"]

_DTYPES = {"long": "int64", "integer": "int64", "double": "float64", "float": "float64", "boolean": "bool",
           "string": "string", "datetime": "datetime64"}  # fmt: skip
_KINDS = {"int64": "numeric", "float64": "numeric", "bool": "boolean", "string": "categorical",
          "datetime64": "datetime"}  # fmt: skip
_RUNS = re.compile(r"^runs:/([^/]+)(?:/.*)?$")
_MODELS = re.compile(r"^models:/([^/@]+)(?:/(\d+)|@([^/]+))?/?$")


@dataclass(frozen=True)
class ImportResult:
    """An imported MLflow model: the skloop version and the run that records where it came from."""

    version: ModelVersion
    run_id: str
    source: str
    mlflow_run_id: str | None
    signature_from: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "model": self.version.name, "version": self.version.version, "status": self.version.status,
            "run_id": self.run_id, "source": self.source, "mlflow_run_id": self.mlflow_run_id,
            "signature_from": self.signature_from,
        }  # fmt: skip


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def signature_from_mlflow(mlflow_signature: Any, model: Any) -> Signature | None:
    """skloop's signature from an MLflow ``ModelSignature`` of named, typed columns (``None`` if it has none).

    A column of type ``Any``, a tensor signature or no signature gives ``None``: the
    caller then infers one from the input example.
    """
    inputs = getattr(mlflow_signature, "inputs", None)
    specs = getattr(inputs, "inputs", None) if inputs is not None else None
    if not specs or getattr(inputs, "is_tensor_spec", lambda: False)():
        return None
    columns = []
    for spec in specs:
        type_name = str(getattr(getattr(spec, "type", None), "name", getattr(spec, "type", "")))
        dtype = _DTYPES.get(type_name.lower())
        if spec.name is None or dtype is None:
            return None
        missing_ok = not getattr(spec, "required", True)
        columns.append(InputColumn(name=str(spec.name), dtype=dtype, kind=_KINDS[dtype], nullable=missing_ok))  # type: ignore[arg-type]
    return Signature(tuple(columns), _output(model))


def _output(model: Any) -> OutputSchema:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return OutputSchema(task="regression", classes=None, dtype="float64")
    from skloop.registry import canonical_dtype

    values = np.asarray(classes)
    return OutputSchema(task="classification", classes=tuple(_py(c) for c in values), dtype=canonical_dtype(values))


def _local_dir(uri: str, tracking_uri: str | None, scratch: Path) -> tuple[Path, str | None, str | None]:
    """The model's local directory, the MLflow run that logged it, and its registered name, if known."""
    path = Path(uri[len("file://") :] if uri.startswith("file://") else uri).expanduser()
    if path.is_dir():
        return path, None, None
    if not uri.startswith(("runs:/", "models:/")) and "://" not in uri:
        raise RegistryError(
            f"{uri!r} is neither a model directory nor an MLflow model URI; give runs:/RUN_ID/PATH, "
            "models:/NAME/VERSION, models:/NAME@ALIAS or the path of a directory holding an MLmodel file"
        )
    if tracking_uri is None:
        raise RegistryError(
            f"{uri} is on an MLflow tracking server and none is given; pass --tracking-uri, or set "
            "SKLOOP_MLFLOW_URI / tracking.mlflow_uri / MLFLOW_TRACKING_URI"
        )
    tracking = optional_import("mlflow.tracking", MLFLOW_EXTRA)
    artifacts = optional_import("mlflow.artifacts", MLFLOW_EXTRA)
    client = tracking.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run_id = registered = None
    try:
        if (m := _RUNS.match(uri)) is not None:
            run_id = m.group(1)
        elif (m := _MODELS.match(uri)) is not None:
            registered = m.group(1)
            if m.group(2) is not None:
                run_id = client.get_model_version(registered, m.group(2)).run_id
            elif m.group(3) is not None:
                run_id = client.get_model_version_by_alias(registered, m.group(3)).run_id
        # MLflow 3 resolves runs:/ and models:/ (its logged models) through the global URIs, not the argument
        mlflow = optional_import("mlflow", MLFLOW_EXTRA)
        before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        try:
            local = artifacts.download_artifacts(artifact_uri=uri, dst_path=str(scratch), tracking_uri=tracking_uri)
        finally:
            mlflow.set_tracking_uri(before[0])
            mlflow.set_registry_uri(before[1])
    except Exception as exc:  # MlflowException, a server that is down
        raise MirrorError(f"cannot read {uri} from {tracking_uri}: {type(exc).__name__}: {str(exc)[:500]}") from exc
    return Path(local), run_id, registered


def _load(model_dir: Path, flavor: dict[str, Any], trust: Trust, uri: str) -> Any:
    fmt = str(flavor.get("serialization_format", "pickle"))
    data_file = model_dir / str(flavor.get("pickled_model", "model.pkl"))
    if fmt == "skops":
        return load_skloop_model(data_file.read_bytes(), "skops", trust=trust, name=f"the MLflow model {uri}")
    if not trust.pickle:
        raise UntrustedModelError(
            f"refusing to load the MLflow model {uri}: it is saved as {fmt}, and unpickling runs any code it "
            "holds; if you trust where it comes from, pass --trust (or set SKLOOP_TRUST=1; in Python: "
            "Trust(pickle=True))",
            ["pickle"],
        )
    from skloop.registry import TrustedPickleWarning

    warnings.warn(f"loading the MLflow model {uri} ({fmt}) runs any code it contains; the caller trusts it",
                  TrustedPickleWarning, stacklevel=3)  # fmt: skip
    mlflow_sklearn = optional_import("mlflow.sklearn", MLFLOW_EXTRA)
    try:
        return mlflow_sklearn.load_model(str(model_dir))
    except Exception as exc:
        raise RegistryError(f"cannot load the MLflow model {uri}: {type(exc).__name__}: {exc}") from exc


def _signature(mlmodel: Any, model_dir: Path, model: Any, uri: str) -> tuple[Signature, str]:
    converted = signature_from_mlflow(mlmodel.signature, model)
    if converted is not None:
        return converted, "mlflow signature"
    example = None
    try:
        example = mlmodel.load_input_example(str(model_dir))
    except Exception as exc:  # an example MLflow itself cannot read back
        logger.debug("no readable input example in %s: %s", model_dir, exc)
    if isinstance(example, pd.DataFrame) and len(example.columns):
        task = "classification" if hasattr(model, "classes_") else "regression"
        return infer_signature(example, task=task, model=model), "input example"
    raise RegistryError(
        f"the MLflow model {uri} has no signature of named, typed columns and no input example, so skloop cannot "
        "check requests to it; log it with signature=infer_signature(X, y) or input_example=X.head()"
    )


def _mlflow_run(tracking_uri: str | None, run_id: str | None) -> tuple[dict[str, str], list[tuple[str, float, int]]]:
    if tracking_uri is None or run_id is None:
        return {}, []
    tracking = optional_import("mlflow.tracking", MLFLOW_EXTRA)
    client = tracking.MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
        points = [
            (key, float(m.value), int(m.step)) for key in sorted(run.data.metrics)
            for m in client.get_metric_history(run_id, key)
        ]  # fmt: skip
    except Exception as exc:
        raise MirrorError(f"cannot read MLflow run {run_id} from {tracking_uri}: {type(exc).__name__}: {exc}") from exc
    return dict(run.data.params), points


def import_mlflow(
    uri: str,
    store: Store,
    *,
    name: str | None = None,
    trust: Trust | None = None,
    tracking_uri: str | None = None,
    reference: pd.DataFrame | None = None,
) -> ImportResult:
    """Register the MLflow scikit-learn model at ``uri`` as the next version of ``name``.

    Parameters
    ----------
    uri : str
        ``runs:/RUN_ID/PATH``, ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or a
        local MLflow model directory.
    store : Store
        skloop's store.
    name : str, optional
        The skloop model name (default: the MLflow registered model's, else the folder's).
    trust : Trust, optional
        The caller's trust: pickle/cloudpickle models need ``pickle``.
    tracking_uri : str, optional
        The MLflow server of ``runs:/`` and ``models:/`` URIs.
    reference : DataFrame, optional
        Rows like the training data (inputs, and the target if known): recorded as the
        run's dataset and the monitor's reference.

    Raises
    ------
    UntrustedModelError
        A pickled model without ``trust.pickle``, or skops types not trusted.
    RegistryError
        Not a scikit-learn MLflow model, or no usable signature.
    MirrorError
        The tracking server cannot be read.
    """
    mlflow_models = optional_import("mlflow.models", MLFLOW_EXTRA)
    trust = trust or Trust()
    with tempfile.TemporaryDirectory(prefix="skloop-import-") as scratch:
        model_dir, mlflow_run_id, registered = _local_dir(uri, tracking_uri, Path(scratch))
        if not (model_dir / "MLmodel").is_file():
            raise RegistryError(f"{uri}: {model_dir} has no MLmodel file; is it an MLflow model directory?")
        mlmodel = mlflow_models.Model.load(str(model_dir / "MLmodel"))
        flavor = mlmodel.flavors.get("sklearn")
        if flavor is None:
            raise RegistryError(
                f"{uri} is not a scikit-learn MLflow model (its flavors: {', '.join(sorted(mlmodel.flavors))}); "
                "skloop imports models logged with mlflow.sklearn"
            )
        model = _load(model_dir, flavor, trust, uri)
        signature, signature_from = _signature(mlmodel, model_dir, model, uri)
        mlflow_run_id = mlflow_run_id or getattr(mlmodel, "run_id", None)
    params, points = _mlflow_run(tracking_uri, mlflow_run_id)
    model_name = name or registered or _default_name(model_dir, uri)
    with store.runs.start_run(model_name, kind="import") as run:
        tags = {"mlflow.source_uri": uri, "skloop.signature_from": signature_from}
        if mlflow_run_id:
            tags["mlflow.run_id"] = mlflow_run_id
        store.runs.set_tags(run.id, tags)
        store.runs.log_params(run.id, {k[:250]: v for k, v in params.items()})
        if points:
            store.runs.log_batch(run.id, metrics=points)
        if reference is not None:
            _log_reference(store, run.id, reference, uri)
        store.runs.log_artifact(run.id, "model.skops", save_model(model, "skops"), media_type="application/x-skops")
    version = Registry(store).register(run.id, model_name, signature=signature.to_dict(), format="skops",
                                       description=f"imported from MLflow: {uri}")  # fmt: skip
    return ImportResult(version=version, run_id=run.id, source=uri, mlflow_run_id=mlflow_run_id,
                        signature_from=signature_from)  # fmt: skip


def _default_name(model_dir: Path, uri: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_dir.name).strip("-.") or "imported"
    if not text[0].isalnum():
        text = f"m{text}"
    logger.info("no --name for %s: the model is named %s", uri, text[:100])
    return text[:100]


def _log_reference(store: Store, run_id: str, frame: pd.DataFrame, uri: str) -> None:
    from skloop.monitor import reference_summary

    schema = infer_schema(frame)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    record = DatasetRecord(
        fingerprint=fingerprint(frame), source=f"reference of {uri}", n_rows=len(frame), n_columns=frame.shape[1],
        schema=schema.to_dict(), profile=profile(frame, schema).to_dict(),
        snapshot_sha256=store.artifacts.put_bytes(buf.getvalue()).sha256,
    )  # fmt: skip
    store.datasets.log_dataset(run_id, record, role="train")
    summary = reference_summary(frame, schema)
    store.runs.log_artifact(run_id, "reference.json", summary.to_json().encode(), media_type="application/json")
