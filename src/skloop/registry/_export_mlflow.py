"""Export a fitted model as an MLflow model directory.

The directory is written by MLflow itself (:func:`mlflow.sklearn.save_model`), so
``mlflow.pyfunc.load_model`` and ``mlflow models serve`` read it as any other. The model
is stored with skops (MLflow's default format) and the list of non-default types it
needs, the signature comes from skloop's (or is inferred from the example), and the
pip requirements are pinned to the versions running the export, so that MLflow does
not start a subprocess to guess them.

The model accepts what skloop's server accepts. MLflow's schema enforcement is stricter
than skloop's coercion (it refuses a pandas ``category`` column for text, date strings
in a pandas 3 string column for datetimes, ``"yes"`` for a boolean), so the input
columns are declared ``Any`` in the MLflow signature (names and required-ness are
kept), and the ``python_function`` flavor loads through
:mod:`skloop.registry._mlflow_pyfunc`, which casts every input with
:func:`~skloop.registry.coerce_frame` and the skloop signature saved beside the model
(``skloop_signature.json``) before predicting. The ``sklearn`` flavor is unchanged.

MLflow is the ``mlflow`` extra, imported when :func:`export_mlflow` runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from skloop.core import ExportError, optional_import
from skloop.registry._mlflow_pyfunc import SIGNATURE_FILE, SkloopPyfuncModel
from skloop.registry._signature import Signature, infer_signature

logger = logging.getLogger(__name__)

__all__ = ["MLFLOW_TYPES", "export_mlflow", "mlflow_signature"]

MLFLOW_TYPES: dict[str, str] = {
    "int64": "long",
    "float64": "double",
    "bool": "boolean",
    "string": "string",
    "datetime64": "datetime",
}
"""MLflow column type of each canonical skloop signature dtype (the output's type)."""

_REQUIREMENTS = ("skloop", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def _as_dict(signature: Any) -> dict[str, Any]:
    return dict(signature.to_dict()) if hasattr(signature, "to_dict") else dict(signature)


def mlflow_signature(signature: Mapping[str, Any] | Any) -> Any:
    """An MLflow ``ModelSignature`` from a skloop signature.

    Parameters
    ----------
    signature : Signature or mapping
        skloop's signature, or its ``to_dict()``.

    Returns
    -------
    mlflow.models.ModelSignature
        One column per input, of type ``Any`` (``required`` unless the training
        column had missing values or the pipeline fills them in, ``accepts_missing``); the output is the predicted label
        (classification) or value. The inputs are ``Any`` because MLflow's type
        checks refuse values skloop's server accepts (a ``category`` column for text,
        date strings for datetimes, ``"yes"`` for a boolean); the exported pyfunc
        model casts and checks them with the skloop signature instead.

    Raises
    ------
    ExportError
        The signature has a dtype MLflow has no column type for.
    """
    schema_mod = optional_import("mlflow.types.schema", "mlflow")
    models = optional_import("mlflow.models", "mlflow")
    data = _as_dict(signature)
    columns = []
    for column in data.get("inputs", []):
        dtype = column.get("dtype")
        if dtype not in MLFLOW_TYPES:
            raise ExportError(
                f"signature column {column.get('name')!r} has dtype {dtype!r}; "
                f"MLflow export supports {list(MLFLOW_TYPES)}"
            )
        # Any: skloop's coercion (the pyfunc loader) types the column, not MLflow's checks
        # a column may be left out where a missing value is accepted (seen in training or filled in)
        required = not (column.get("nullable", False) or column.get("accepts_missing", False))
        columns.append(schema_mod.ColSpec(schema_mod.AnyType(), column["name"], required=required))
    output = data.get("output") or {}
    out_type = MLFLOW_TYPES.get(str(output.get("dtype")), "double")
    outputs = schema_mod.Schema([schema_mod.ColSpec(out_type)])
    return models.ModelSignature(inputs=schema_mod.Schema(columns), outputs=outputs)


def _requirements() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def _trusted_types(model: Any) -> list[str]:
    sio = optional_import("skops.io", "mlflow")
    return sorted(sio.get_untrusted_types(data=sio.dumps(model)))


def _skloop_signature(model: Any, signature: Any, input_example: pd.DataFrame | None) -> Signature | None:
    if signature is not None:
        return signature if isinstance(signature, Signature) else Signature.from_dict(_as_dict(signature))
    if input_example is None:
        return None
    task = "classification" if hasattr(model, "classes_") else "regression"
    return infer_signature(input_example, task=task, model=model)


def _load_through_skloop(model_dir: Path, signature: Signature) -> None:
    """Point the pyfunc flavor at skloop's loader, and save the signature it casts inputs with."""
    models = optional_import("mlflow.models", "mlflow")
    (model_dir / SIGNATURE_FILE).write_text(json.dumps(signature.to_dict(), indent=2), encoding="utf-8")
    mlmodel = models.Model.load(str(model_dir / "MLmodel"))
    mlmodel.flavors["python_function"]["loader_module"] = SkloopPyfuncModel.__module__
    mlmodel.save(str(model_dir / "MLmodel"))


def export_mlflow(
    model: Any,
    out_dir: str | os.PathLike[str],
    *,
    signature: Mapping[str, Any] | Any = None,
    input_example: pd.DataFrame | None = None,
) -> Path:
    """Write ``model`` as an MLflow model directory.

    Parameters
    ----------
    model : estimator
        A fitted scikit-learn estimator or pipeline.
    out_dir : str or os.PathLike
        The directory to create; it must not exist, or be empty.
    signature : Signature or mapping, optional
        skloop's signature. Without it, one is inferred from ``input_example``
        (classification when the model has ``classes_``); without either, the model
        has no signature and MLflow's own pyfunc loader.
    input_example : pandas.DataFrame, optional
        A few input rows, stored with the model (``input_example.json``).

    Returns
    -------
    Path
        ``out_dir``, holding ``MLmodel``, ``model.skops``, ``requirements.txt``,
        ``python_env.yaml``, ``conda.yaml`` and the input example.

    Raises
    ------
    ExportError
        ``out_dir`` exists and is not empty, or MLflow fails to save the model.
    MissingExtraError
        MLflow is not installed (``pip install 'skloop[mlflow]'``).

    Examples
    --------
    >>> path = export_mlflow(pipe, "churn-mlflow", input_example=df.head(5))  # doctest: +SKIP
    >>> import mlflow; mlflow.pyfunc.load_model(str(path)).predict(df.head(5))  # doctest: +SKIP
    """
    mlflow_sklearn = optional_import("mlflow.sklearn", "mlflow")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty directory; choose another --out or remove it")
    skloop_sig = _skloop_signature(model, signature, input_example)
    mlflow_sig = None if skloop_sig is None else mlflow_signature(skloop_sig)
    if input_example is not None and mlflow_sig is not None:
        names = [c.name for c in mlflow_sig.inputs.inputs if c.name is not None]
        input_example = input_example[[c for c in names if c in input_example.columns]]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    target = staging / "model"
    try:
        with warnings.catch_warnings():
            # MLflow 3.17 compares the columns with a range when saving the example,
            # which pandas 3 deprecates; harmless here, and not ours to fix.
            warnings.filterwarnings("ignore", message="Operation with range is deprecated")
            mlflow_sklearn.save_model(
                model,
                str(target),
                serialization_format="skops",
                skops_trusted_types=_trusted_types(model),
                signature=mlflow_sig,
                input_example=input_example,
                pip_requirements=_requirements(),
            )
        if skloop_sig is not None:
            _load_through_skloop(target, skloop_sig)
        if out.exists():
            out.rmdir()
        os.replace(target, out)
    except ExportError:
        raise
    except Exception as exc:  # MLflow raises MlflowException, ValueError, TypeError...
        raise ExportError(f"MLflow could not save the model to {out}: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote MLflow model %s", out)
    return out
