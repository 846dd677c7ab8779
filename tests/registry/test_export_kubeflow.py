"""Kubeflow export: the pipeline compiles with kfp v2 and loads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from skloop.core import SpecError
from skloop.workflows import init_example

pytest.importorskip("kfp", reason="the kubeflow extra (kfp) is not installed")

from skloop.registry import export_kubeflow


def test_compiles_train_evaluate_register_and_loads_back(tmp_path: Path) -> None:
    spec = init_example(tmp_path, n_rows=50)
    out = export_kubeflow(spec, tmp_path / "pipeline.yaml", image="ghcr.io/acme/skloop:1", package="skloop==0.1.0")
    document = yaml.safe_load(out.read_text())
    tasks = document["root"]["dag"]["tasks"]
    assert set(tasks) == {"train", "evaluate", "register"}
    assert tasks["evaluate"]["dependentTasks"] == ["train"]
    assert set(tasks["register"]["dependentTasks"]) == {"train", "evaluate"}
    # The run id flows from train to the next steps.
    run_id = tasks["register"]["inputs"]["parameters"]["run_id"]["taskOutputParameter"]
    assert run_id == {"outputParameterKey": "run_id", "producerTask": "train"}
    # The spec is a pipeline parameter whose default is the exported spec.
    params = document["root"]["inputDefinitions"]["parameters"]
    assert json.loads(params["spec"]["defaultValue"])["name"] == "churn"
    assert params["package"]["defaultValue"] == "skloop==0.1.0"
    executors = document["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {"ghcr.io/acme/skloop:1"}
    assert any("skloop train" in " ".join(e["container"]["command"]) for e in executors.values())

    from kfp.components import load_component_from_file

    component = load_component_from_file(str(out))
    assert component.name == "skloop-churn"
    assert set(component.component_spec.inputs) == {"spec", "store_url", "artifact_root", "package"}


def test_invalid_spec_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "skloop.yaml"
    bad.write_text("name: x\nunknown_key: 1\n")
    with pytest.raises(SpecError):
        export_kubeflow(bad, tmp_path / "p.yaml")
    assert not (tmp_path / "p.yaml").exists()
