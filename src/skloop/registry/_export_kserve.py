"""Export a KServe ``InferenceService`` (``serving.kserve.io/v1beta1``) for a model version.

Two runtimes, both speaking the Open Inference Protocol (``protocolVersion: v2``):

- ``skloop`` (default): the image of ``skloop export --format docker`` (built and pushed
  by the user), declared as a ``ServingRuntime`` (``serving.kserve.io/v1alpha1``) of the
  model format ``skloop``, and an InferenceService whose predictor names it. The model
  is inside the image, so no ``storageUri``; readiness and liveness probes are the
  server's ``/v2/health/ready`` and ``/v2/health/live``, and the container runs as the
  image's non-root user.
- ``mlflow``: the MLflow model directory of ``skloop export --format mlflow``, uploaded by
  the user to ``storage_uri``, served by KServe's MLServer runtime (model format
  ``mlflow``). Its ``python_function`` flavor loads through skloop, so the runtime's
  environment needs skloop installed.

The store URL, artifact root and token come from a Kubernetes Secret named by the
caller (``store-url``, ``artifact-root``, ``token`` keys, each optional): none is written
into the manifest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from skloop.core import ExportError
from skloop.registry._export_docker import DOCKER_PORT, DOCKER_UID, image_name

if TYPE_CHECKING:
    from skloop.registry._registry import Registry
    from skloop.store import ModelVersion

logger = logging.getLogger(__name__)

__all__ = ["KSERVE_API", "KSERVE_RUNTIMES", "SECRET_KEYS", "export_kserve", "kserve_manifests"]

KSERVE_API = "serving.kserve.io/v1beta1"
KSERVE_RUNTIMES = ("skloop", "mlflow")
SECRET_KEYS: dict[str, str] = {
    "SKLOOP_STORE_URL": "store-url",
    "SKLOOP_ARTIFACT_ROOT": "artifact-root",
    "SKLOOP_TOKEN": "token",
}
"""The environment variable each key of the ``--secret`` Secret sets in the container."""


def _env(secret: str | None, port: int) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "SKLOOP_HOST", "value": "0.0.0.0"},
        {"name": "SKLOOP_PORT", "value": str(port)},
    ]
    if secret:
        env += [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
            for var, key in SECRET_KEYS.items()
        ]
    return env


def _probe(path: str, port: int, delay: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay, "periodSeconds": 10}


def kserve_manifests(
    version: ModelVersion,
    *,
    runtime: str = "skloop",
    image: str | None = None,
    storage_uri: str | None = None,
    namespace: str | None = None,
    secret: str | None = None,
    port: int = DOCKER_PORT,
) -> list[dict[str, Any]]:
    """The Kubernetes objects serving ``version`` on KServe, as dicts (see the module docstring).

    Parameters
    ----------
    version : ModelVersion
    runtime : {"skloop", "mlflow"}
    image : str, optional
        The skloop runtime's image; default ``skloop-NAME:VERSION`` (the tag
        ``skloop export --format docker`` suggests; push it where the cluster pulls from).
    storage_uri : str, optional
        Where the MLflow model directory is (``s3://...``, ``gs://...``, ``pvc://...``);
        required by the ``mlflow`` runtime.
    namespace : str, optional
    secret : str, optional
        A Secret whose ``store-url``, ``artifact-root`` and ``token`` keys set the
        container's ``SKLOOP_*`` settings (skloop runtime).
    port : int, default=8080

    Returns
    -------
    list of dict
        ``[ServingRuntime, InferenceService]`` (skloop) or ``[InferenceService]`` (mlflow).

    Raises
    ------
    ExportError
        An unknown runtime, or the mlflow runtime without ``storage_uri``.
    """
    if runtime not in KSERVE_RUNTIMES:
        raise ExportError(f"--runtime must be one of {', '.join(KSERVE_RUNTIMES)}; got {runtime!r}")
    name = image_name(version.name)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "skloop",
              "skloop.io/version": str(version.version)}  # fmt: skip
    annotations = {"skloop.io/model": version.ref, "skloop.io/artifact-sha256": version.artifact_sha256}
    metadata: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
    if namespace:
        metadata["namespace"] = namespace
    if runtime == "mlflow":
        if not storage_uri:
            raise ExportError(
                "--runtime mlflow needs --storage-uri: where the MLflow model of 'skloop export --format mlflow' "
                "is uploaded (s3://bucket/path, gs://..., pvc://...)"
            )
        model = {"modelFormat": {"name": "mlflow"}, "protocolVersion": "v2", "storageUri": storage_uri}
        return [{"apiVersion": KSERVE_API, "kind": "InferenceService", "metadata": metadata,
                 "spec": {"predictor": {"model": model}}}]  # fmt: skip
    runtime_name = f"skloop-{name}-v{version.version}"
    container = {
        "name": "kserve-container",
        "image": image or f"skloop-{name}:{version.version}",
        "ports": [{"containerPort": port, "protocol": "TCP"}],
        "env": _env(secret, port),
        "readinessProbe": _probe("/v2/health/ready", port, 5),
        "livenessProbe": _probe("/v2/health/live", port, 30),
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": DOCKER_UID, "allowPrivilegeEscalation": False},
    }
    serving_runtime = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {k: v for k, v in {**metadata, "name": runtime_name}.items() if k != "annotations"},
        "spec": {
            "supportedModelFormats": [{"name": "skloop", "version": "1", "autoSelect": False}],
            "protocolVersions": ["v2"],
            "containers": [container],
        },
    }
    model = {"modelFormat": {"name": "skloop", "version": "1"}, "runtime": runtime_name, "protocolVersion": "v2"}
    service = {"apiVersion": KSERVE_API, "kind": "InferenceService", "metadata": metadata,
               "spec": {"predictor": {"model": model}}}  # fmt: skip
    return [serving_runtime, service]


def export_kserve(
    registry: Registry,
    ref: str,
    out_path: str | os.PathLike[str],
    **options: Any,
) -> Path:
    """Write the manifests of :func:`kserve_manifests` for ``ref`` as one YAML file.

    ``options`` go to :func:`kserve_manifests`. Apply the file with ``kubectl apply -f``.

    Examples
    --------
    >>> export_kserve(Registry(store), "churn@champion", "isvc.yaml", image="ghcr.io/acme/churn:3")  # doctest: +SKIP
    PosixPath('isvc.yaml')
    """
    version = registry.resolve(ref)
    documents = kserve_manifests(version, **options)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# KServe manifests for {version.ref}, written by skloop export --format kserve\n"
    out.write_text(header + yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    logger.info("wrote KServe manifests for %s to %s", version.ref, out)
    return out
