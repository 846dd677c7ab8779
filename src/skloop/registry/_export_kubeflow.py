"""Compile the training workflow of a spec into a Kubeflow Pipelines (v2) YAML.

The pipeline has three container steps that run the skloop CLI: ``train`` (search and
track a run; its run id is the step's output), ``evaluate`` (check the spec's gates
against that run) and ``register`` (register the run's model), in that order. The spec
travels as a pipeline parameter (one line of JSON, defaulting to the exported spec), as do
the store URL and artifact root that the three pods share (a PostgreSQL URL and an
object-store path in a cluster) and the pip requirement that installs skloop.

kfp is the ``kubeflow`` extra, imported when :func:`export_kubeflow` runs.
"""

# No ``from __future__ import annotations`` here: kfp reads the component functions'
# annotations as real types (``dsl.OutputPath(str)``), not as strings.

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from skloop.core import ExportError, Spec, SpecError, optional_import, parse_spec

logger = logging.getLogger(__name__)

__all__ = ["KUBEFLOW_IMAGE", "KUBEFLOW_STEPS", "export_kubeflow"]

KUBEFLOW_IMAGE = "python:3.11-slim"
"""Default container image of the steps; skloop is pip-installed in it at start."""

KUBEFLOW_STEPS: dict[str, str] = {
    "train": "skloop train --spec skloop.yaml --no-register --json --quiet > train.json && "
    "python -c \"import json; print(json.load(open('train.json'))['run_id'], end='')\" > \"$RUN_ID_OUT\"",
    "evaluate": 'skloop register --spec skloop.yaml --dry-run "$RUN_ID"',
    "register": 'skloop register --spec skloop.yaml "$RUN_ID"',
}
"""The shell command of each step (after installing skloop and writing the spec)."""

# Positional arguments of ``sh -c SCRIPT sh ARGS...``: $1 spec text, $2 store URL,
# $3 artifact root, $4 pip requirement, $5 run id (input) or its output file.
_PRELUDE = (
    "set -eu\n"
    'pip install --quiet --disable-pip-version-check "$4"\n'
    "mkdir -p /tmp/skloop && cd /tmp/skloop\n"
    "printf '%s' \"$1\" > skloop.yaml\n"
    'export SKLOOP_STORE_URL="$2" SKLOOP_ARTIFACT_ROOT="$3"\n'
)


def _spec_text(spec: str | os.PathLike[str] | Spec) -> tuple[str, str]:
    """The spec's YAML text and name, validated."""
    if isinstance(spec, Spec):
        text = yaml.safe_dump(spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False)
        return text, spec.name
    path = Path(spec)
    if not path.is_file() and isinstance(spec, str) and "\n" in spec:
        text = spec  # YAML text given directly
    else:
        if path.is_dir():
            path = path / "skloop.yaml"
        if not path.is_file():
            raise SpecError(f"spec file {path} not found; pass the path of a skloop.yaml")
        text = path.read_text(encoding="utf-8")
    return text, parse_spec(text, str(spec) if not isinstance(spec, str) or "\n" not in spec else "<spec>").name


# kfp has no types: its decorators turn a function into a component (or pipeline) object.
_Decorator = Callable[[Callable[..., Any]], Any]

# The ignores below: kfp reads these annotations at run time, refuses any return annotation
# but its own ContainerSpec (known only once the extra is imported), and declares an output
# by calling dsl.OutputPath(str) in the annotation; neither is a type mypy can see.


def _components(image: str) -> dict[str, Any]:
    dsl = optional_import("kfp.dsl", "kubeflow")
    container_component: _Decorator = dsl.container_component

    @container_component
    def train(spec: str, store_url: str, artifact_root: str, package: str, run_id: dsl.OutputPath(str)):  # type: ignore[no-untyped-def, valid-type]
        script = _PRELUDE + 'RUN_ID_OUT="$5"; mkdir -p "$(dirname "$5")"\n' + KUBEFLOW_STEPS["train"]
        return dsl.ContainerSpec(
            image=image, command=["sh", "-c", script, "sh"], args=[spec, store_url, artifact_root, package, run_id]
        )

    @container_component
    def evaluate(spec: str, store_url: str, artifact_root: str, package: str, run_id: str):  # type: ignore[no-untyped-def]
        script = _PRELUDE + 'RUN_ID="$5"\n' + KUBEFLOW_STEPS["evaluate"]
        return dsl.ContainerSpec(
            image=image, command=["sh", "-c", script, "sh"], args=[spec, store_url, artifact_root, package, run_id]
        )

    @container_component
    def register(spec: str, store_url: str, artifact_root: str, package: str, run_id: str):  # type: ignore[no-untyped-def]
        script = _PRELUDE + 'RUN_ID="$5"\n' + KUBEFLOW_STEPS["register"]
        return dsl.ContainerSpec(
            image=image, command=["sh", "-c", script, "sh"], args=[spec, store_url, artifact_root, package, run_id]
        )

    return {"train": train, "evaluate": evaluate, "register": register}


def export_kubeflow(
    spec: str | os.PathLike[str] | Spec,
    out_path: str | os.PathLike[str],
    *,
    image: str = KUBEFLOW_IMAGE,
    package: str = "skloop",
    store_url: str = "",
    artifact_root: str = "",
) -> Path:
    """Compile a train → evaluate → register pipeline for ``spec`` with kfp v2.

    Parameters
    ----------
    spec : path, YAML text or Spec
        The spec (a ``skloop.yaml`` path or its folder); validated, then embedded as the
        default of the pipeline parameter ``spec``.
    out_path : str or os.PathLike
        The pipeline YAML to write.
    image : str, default=KUBEFLOW_IMAGE
        Container image of the three steps (needs ``sh``, Python and pip, or skloop).
    package : str, default="skloop"
        Default of the ``package`` parameter: the pip requirement that installs skloop
        (e.g. ``"skloop[postgres]==0.1.0"``).
    store_url, artifact_root : str, default=""
        Defaults of the parameters of the same names, shared by the steps
        (``SKLOOP_STORE_URL`` and ``SKLOOP_ARTIFACT_ROOT``); empty means each pod's own
        default, which only suits a single-step test.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    SpecError
        The spec is invalid.
    ExportError
        kfp fails to compile the pipeline.
    MissingExtraError
        kfp is not installed (``pip install 'skloop[kubeflow]'``).

    Examples
    --------
    >>> export_kubeflow("skloop.yaml", "pipeline.yaml")  # doctest: +SKIP
    PosixPath('pipeline.yaml')
    """
    text, name = _spec_text(spec)
    # One line of JSON (which is YAML): kfp copies parameter defaults into a comment
    # header of the file, and a multi-line default breaks the YAML there.
    text = json.dumps(yaml.safe_load(text), separators=(",", ":"))
    dsl = optional_import("kfp.dsl", "kubeflow")
    compiler = optional_import("kfp.compiler", "kubeflow")
    steps = _components(image)
    as_pipeline: _Decorator = dsl.pipeline(
        name=f"skloop-{name}", description=f"skloop: train, evaluate and register {name!r}"
    )

    @as_pipeline
    def pipeline(
        spec: str = text,
        store_url: str = store_url,
        artifact_root: str = artifact_root,
        package: str = package,
    ) -> None:  # kfp takes None for "no outputs"
        common = {"spec": spec, "store_url": store_url, "artifact_root": artifact_root, "package": package}
        trained = steps["train"](**common).set_display_name("train").set_caching_options(False)
        evaluated = steps["evaluate"](**common, run_id=trained.outputs["run_id"]).set_display_name("evaluate")
        evaluated.set_caching_options(False)
        registered = steps["register"](**common, run_id=trained.outputs["run_id"]).set_display_name("register")
        registered.set_caching_options(False).after(evaluated)

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(out))
    except Exception as exc:  # kfp raises ValueError, TypeError and its own errors
        raise ExportError(f"kfp could not compile the pipeline for spec {name!r}: {type(exc).__name__}: {exc}") from exc
    logger.info("wrote Kubeflow pipeline %s", out)
    return out
