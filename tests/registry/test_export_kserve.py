"""``skloop export --format kserve``: manifests checked against KServe's and Kubernetes' field structure.

Every key at every level must be a field of its type (KServe 0.21's InferenceService,
ServingRuntime and model specs, ``kserve_schema``; Kubernetes' own types from the
``kubernetes`` client, whose deserializer also refuses a missing required field), and
the parts must fit together: the predictor's runtime is the ServingRuntime in the file,
which supports its model format over protocol v2, and the probes are the server's routes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kserve_schema import KSERVE_REQUIRED, KSERVE_TYPES
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import Settings
from skloop.serve._routes import ROUTES
from skloop.store import Store

runner = CliRunner()
k8s = pytest.importorskip("kubernetes.client", reason="the kubernetes client comes with the kubeflow extra")
DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
SCALARS = {"str": str, "int": int, "bool": bool, "float": float}


def check(obj: Any, type_name: str, path: str) -> None:
    """Raise AssertionError naming the path of the first key or value that is not of ``type_name``."""
    if type_name.startswith("list["):
        assert isinstance(obj, list), f"{path}: a list, got {obj!r}"
        for i, item in enumerate(obj):
            check(item, type_name[5:-1], f"{path}[{i}]")
    elif type_name.startswith("dict("):
        assert isinstance(obj, dict), f"{path}: a mapping, got {obj!r}"
        for key, value in obj.items():
            check(value, type_name[5:-1].split(", ", 1)[1], f"{path}.{key}")
    elif type_name in SCALARS:
        assert isinstance(obj, SCALARS[type_name]), f"{path}: a {type_name}, got {obj!r}"
    elif type_name == "object":
        return
    elif type_name in KSERVE_TYPES:
        fields = KSERVE_TYPES[type_name]
        assert isinstance(obj, dict), f"{path}: a {type_name} mapping"
        for key in KSERVE_REQUIRED[type_name]:
            assert key in obj, f"{path}: {type_name} requires {key!r}"
        for key, value in obj.items():
            assert key in fields, f"{path}.{key}: not a field of {type_name}"
            check(value, fields[key], f"{path}.{key}")
    else:
        model = getattr(k8s, type_name)
        fields = {model.attribute_map[a]: t for a, t in model.openapi_types.items()}
        assert isinstance(obj, dict), f"{path}: a {type_name} mapping"
        for key, value in obj.items():
            assert key in fields, f"{path}.{key}: not a field of {type_name}"
            check(value, fields[key], f"{path}.{key}")
        k8s.ApiClient()._ApiClient__deserialize(obj, type_name)  # required fields (ValueError when missing)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with version 1 of ``house-prices`` (a regression), champion."""
    root = tmp_path_factory.mktemp("kserve")
    store = Store.open(Settings.from_env(root, env={}))
    try:
        with store.runs.start_run("house-prices", environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", b"bytes of a model")
        version = store.models.create_model_version("House_Prices", run_id=run.id, artifact_sha256="ab" * 32)
        store.models.set_alias("House_Prices", "champion", version.version, reason="test", actor="test")
    finally:
        store.close()
    return root


def export(project: Path, out: Path, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["export", "House_Prices@champion", "--format", "kserve", "--out", str(out),
                                 "--spec", str(project), *args], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "protocol v2" in result.output and "kubectl apply -f" in " ".join(result.output.split())
    return list(yaml.safe_load_all(out.read_text()))


def test_the_skloop_runtime_fits_kserve(project: Path, tmp_path: Path) -> None:
    runtime, service = export(project, tmp_path / "isvc.yaml", "--secret", "skloop-store", "--namespace", "ml")
    check(runtime, "V1alpha1ServingRuntime", "ServingRuntime")
    check(service, "V1beta1InferenceService", "InferenceService")
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert (runtime["apiVersion"], runtime["kind"]) == ("serving.kserve.io/v1alpha1", "ServingRuntime")
    for obj in (runtime, service):
        name = obj["metadata"]["name"]
        assert DNS_LABEL.fullmatch(name) and len(name) <= 63, name
        assert obj["metadata"]["namespace"] == "ml"
    assert service["metadata"]["name"] == "house-prices"
    assert service["metadata"]["annotations"]["skloop.io/model"] == "House_Prices/1"
    model = service["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2" and model["runtime"] == runtime["metadata"]["name"]
    spec = runtime["spec"]
    assert "v2" in spec["protocolVersions"]
    assert {"name": model["modelFormat"]["name"], "version": model["modelFormat"]["version"]} in [
        {k: f[k] for k in ("name", "version")} for f in spec["supportedModelFormats"]
    ]
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container" and container["image"] == "skloop-house-prices:1"
    port = container["ports"][0]["containerPort"]
    templates = {r.template for r in ROUTES}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == port and container[probe]["httpGet"]["path"] in templates
    env = {e["name"]: e for e in container["env"]}
    assert env["SKLOOP_PORT"]["value"] == str(port)
    for name in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT", "SKLOOP_TOKEN"):  # from the Secret, never a value
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["name"] == "skloop-store"
    assert container["securityContext"]["runAsNonRoot"] is True


def test_the_mlflow_runtime_needs_its_storage_uri(project: Path, tmp_path: Path) -> None:
    (service,) = export(project, tmp_path / "m.yaml", "--runtime", "mlflow", "--storage-uri", "s3://models/hp/1")
    check(service, "V1beta1InferenceService", "InferenceService")
    model = service["spec"]["predictor"]["model"]
    assert model == {"modelFormat": {"name": "mlflow"}, "protocolVersion": "v2", "storageUri": "s3://models/hp/1"}
    args = ["export", "House_Prices/1", "--format", "kserve", "--out", str(tmp_path / "n.yaml"), "--spec", str(project)]
    missing = runner.invoke(app, [*args, "--runtime", "mlflow"])
    assert missing.exit_code == 1 and "--storage-uri" in missing.output
    unknown = runner.invoke(app, [*args, "--runtime", "triton"])
    assert unknown.exit_code == 1 and "one of skloop, mlflow" in " ".join(unknown.output.split())


def test_the_checker_refuses_what_kserve_would(project: Path, tmp_path: Path) -> None:
    _, service = export(project, tmp_path / "isvc.yaml")
    service["spec"]["predictor"]["model"]["protocol"] = "v2"
    with pytest.raises(AssertionError, match=r"model\.protocol: not a field of V1beta1ModelSpec"):
        check(service, "V1beta1InferenceService", "InferenceService")
    runtime, _ = export(project, tmp_path / "again.yaml")
    del runtime["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        check(runtime, "V1alpha1ServingRuntime", "ServingRuntime")
