"""A model version's ONNX export, derived once and kept as an artifact of the version.

Exporting to ONNX and checking parity costs seconds; the result depends only on the
version (its model and signature) and on the tools (the opset, skl2onnx, onnxruntime,
skloop's own converters). So the first load of a version exports it and stores the
bytes and the parity report (or the refusal) with the version
(:meth:`~skloop.store.ModelStore.put_version_artifact`, content-addressed); every later load,
and every hot swap back to it, reads them back verified. A tool upgrade changes the
kind, and the version is exported again.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from skloop.core import ExportError
from skloop.registry._export_onnx import ONNX_OPSET, export_onnx
from skloop.store import ModelVersion, Store

logger = logging.getLogger(__name__)

__all__ = ["onnx_kind", "stored_onnx"]


def _version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def onnx_kind(opset: int = ONNX_OPSET) -> str:
    """The kind an ONNX export is stored under: the opset and the tools that made and checked it."""
    tools = ";".join(f"{p}={_version_of(p)}" for p in ("skl2onnx", "onnxruntime", "skloop"))
    return f"onnx:opset={opset};{tools}"


def stored_onnx(
    store: Store,
    version: ModelVersion,
    model: Any,
    sample: Callable[[], pd.DataFrame],
    *,
    signature: dict[str, Any] | None = None,
) -> bytes:
    """The ONNX bytes of ``version``: stored ones, else exported now and stored.

    Parameters
    ----------
    store : Store
    version : ModelVersion
    model : estimator
        The version's loaded model (exported only when nothing is stored yet).
    sample : callable
        Makes the parity sample (called only when exporting).
    signature : dict, optional
        Stored in the ONNX metadata.

    Returns
    -------
    bytes
        The ONNX model, verified against its content address.

    Raises
    ------
    ExportError
        The export was refused (now, or when it was first tried: the same message).
    MissingExtraError
        The ``onnx`` extra is needed to export and is not installed (nothing is stored).
    """
    kind = onnx_kind()
    kept = store.models.get_version_artifact(version.name, version.version, kind)
    if kept is None:
        kept = _export_and_keep(store, version, model, sample(), signature, kind)
    if kept.sha256 is None:
        raise ExportError(str(kept.meta.get("refusal") or "the ONNX export was refused"))
    return store.artifacts.get_bytes(kept.sha256, name=f"the ONNX export of {version.ref}")


def _export_and_keep(
    store: Store,
    version: ModelVersion,
    model: Any,
    sample: pd.DataFrame,
    signature: dict[str, Any] | None,
    kind: str,
) -> Any:
    with tempfile.TemporaryDirectory(prefix="skloop-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        try:
            report = export_onnx(model, path, sample=sample, signature=signature)
        except ExportError as exc:  # the version's own: the same every time with these tools
            # (a MissingExtraError is the environment's: not kept, so it is tried again once installed)
            return store.models.put_version_artifact(version.name, version.version, kind, None, {"refusal": str(exc)})
        data = path.read_bytes()
    parity = {k: v for k, v in asdict(report).items() if k != "path"}
    logger.info("exported %s to ONNX (max |Δ %s| %.3g)", version.ref, report.output, report.max_abs_diff)
    return store.models.put_version_artifact(version.name, version.version, kind, data, {"parity": parity})
