"""Registry: model persistence, signatures, model cards, importance and export.

Everything here is re-exported from private modules:

- ``_persistence``: :func:`save_model` / :func:`load_model` (skops with an allow-list
  of types; joblib only when trusted);
- ``_trust``: :class:`Trust`, the caller's trust that every load path takes;
- ``_signature``: the input/output :class:`Signature` of a model;
- ``_validator``: :class:`Validator`, the one columnar check of incoming rows against a
  signature (the server's and :func:`coerce_frame`'s), with ``_cells`` (what a cell of
  each dtype may hold) and ``_issues`` (:class:`ValidationIssue`); ``_coerce``:
  :func:`coerce_frame`, which types a table in any shape like the training data;
- ``_importance``: permutation importance per input column;
- ``_card``: the :class:`ModelCard` and its Markdown and HTML renderings;
- ``_bundle``: :func:`write_bundle` / :func:`load_bundle`, one version with its artifact
  and run in a folder that travels alone (a Docker image's model);
- ``_export_docker``: :func:`export_docker`, a Docker build context serving a version;
- ``_export_kserve``: :func:`export_kserve`, KServe InferenceService manifests;
- ``_export_kubeflow``: :func:`export_kubeflow`, a train → evaluate → register
  Kubeflow pipeline;
- ``_export_mlflow``: :func:`export_mlflow`, an MLflow model directory;
- ``_export_onnx``: :func:`export_onnx` (skl2onnx, with skloop's converters and a
  parity check) and :func:`onnx_predict_proba`;
- ``_onnx_cache``: :func:`stored_onnx`, a version's ONNX export derived once and kept
  with the version (under :func:`onnx_kind`).


Every name loads on first use (a ``_LAZY`` map, as in :mod:`skloop.store`): a search
worker handed :func:`save_pickled_model` imports persistence alone, not the exports,
the lineage and the store they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skloop.core import lazy_names as _lazy_names

if TYPE_CHECKING:
    from skloop.registry._bundle import BUNDLE_FILE, Bundle, load_bundle, read_bundle, write_bundle
    from skloop.registry._card import ModelCard, build_card, render_html, render_markdown
    from skloop.registry._coerce import (
        DATE_MAX,
        DATE_MIN,
        INT64_MAX,
        INT64_MIN,
        MISSING_IMPUTED,
        CoercionResult,
        ValidationIssue,
        brief,
        canonical_text,
        coerce_frame,
    )
    from skloop.registry._export_docker import DOCKER_PORT, DockerContext, docker_requirements, export_docker
    from skloop.registry._export_kserve import KSERVE_RUNTIMES, export_kserve, kserve_manifests
    from skloop.registry._export_kubeflow import KUBEFLOW_IMAGE, export_kubeflow
    from skloop.registry._export_mlflow import export_mlflow, mlflow_signature
    from skloop.registry._export_onnx import OnnxReport, export_onnx, onnx_input_columns, onnx_predict_proba
    from skloop.registry._gates import check_gates
    from skloop.registry._importance import column_importance
    from skloop.registry._lineage import LineageNode
    from skloop.registry._onnx_cache import onnx_kind, stored_onnx
    from skloop.registry._persistence import (
        MODEL_FORMATS,
        TRUSTED_TYPES,
        TrustedPickleWarning,
        load_model,
        model_format_from_name,
        save_model,
        save_pickled_model,
    )
    from skloop.registry._registry import DEFAULT_ALIAS, MODEL_ARTIFACTS, Registry, default_actor, parse_ref
    from skloop.registry._signature import (
        InputColumn,
        OutputSchema,
        Signature,
        canonical_dtype,
        infer_signature,
    )
    from skloop.registry._trust import Trust
    from skloop.registry._validator import ColumnRule, Validated, Validator
    from skloop.registry._version_card import version_card

__all__ = [
    "BUNDLE_FILE",
    "DATE_MAX",
    "DATE_MIN",
    "DEFAULT_ALIAS",
    "DOCKER_PORT",
    "INT64_MAX",
    "INT64_MIN",
    "KSERVE_RUNTIMES",
    "KUBEFLOW_IMAGE",
    "MISSING_IMPUTED",
    "MODEL_ARTIFACTS",
    "MODEL_FORMATS",
    "TRUSTED_TYPES",
    "Bundle",
    "CoercionResult",
    "ColumnRule",
    "DockerContext",
    "InputColumn",
    "LineageNode",
    "ModelCard",
    "OnnxReport",
    "OutputSchema",
    "Registry",
    "Signature",
    "Trust",
    "TrustedPickleWarning",
    "Validated",
    "ValidationIssue",
    "Validator",
    "brief",
    "build_card",
    "canonical_dtype",
    "canonical_text",
    "check_gates",
    "coerce_frame",
    "column_importance",
    "default_actor",
    "docker_requirements",
    "export_docker",
    "export_kserve",
    "export_kubeflow",
    "export_mlflow",
    "export_onnx",
    "infer_signature",
    "kserve_manifests",
    "load_bundle",
    "load_model",
    "mlflow_signature",
    "model_format_from_name",
    "onnx_input_columns",
    "onnx_kind",
    "onnx_predict_proba",
    "parse_ref",
    "read_bundle",
    "render_html",
    "render_markdown",
    "save_model",
    "save_pickled_model",
    "stored_onnx",
    "version_card",
    "write_bundle",
]

_LAZY = {
    "BUNDLE_FILE": "skloop.registry._bundle",
    "Bundle": "skloop.registry._bundle",
    "load_bundle": "skloop.registry._bundle",
    "read_bundle": "skloop.registry._bundle",
    "write_bundle": "skloop.registry._bundle",
    "ModelCard": "skloop.registry._card",
    "build_card": "skloop.registry._card",
    "render_html": "skloop.registry._card",
    "render_markdown": "skloop.registry._card",
    "DATE_MAX": "skloop.registry._coerce",
    "DATE_MIN": "skloop.registry._coerce",
    "INT64_MAX": "skloop.registry._coerce",
    "INT64_MIN": "skloop.registry._coerce",
    "MISSING_IMPUTED": "skloop.registry._coerce",
    "CoercionResult": "skloop.registry._coerce",
    "ValidationIssue": "skloop.registry._coerce",
    "brief": "skloop.registry._coerce",
    "canonical_text": "skloop.registry._coerce",
    "coerce_frame": "skloop.registry._coerce",
    "DOCKER_PORT": "skloop.registry._export_docker",
    "DockerContext": "skloop.registry._export_docker",
    "docker_requirements": "skloop.registry._export_docker",
    "export_docker": "skloop.registry._export_docker",
    "KSERVE_RUNTIMES": "skloop.registry._export_kserve",
    "export_kserve": "skloop.registry._export_kserve",
    "kserve_manifests": "skloop.registry._export_kserve",
    "KUBEFLOW_IMAGE": "skloop.registry._export_kubeflow",
    "export_kubeflow": "skloop.registry._export_kubeflow",
    "export_mlflow": "skloop.registry._export_mlflow",
    "mlflow_signature": "skloop.registry._export_mlflow",
    "OnnxReport": "skloop.registry._export_onnx",
    "export_onnx": "skloop.registry._export_onnx",
    "onnx_input_columns": "skloop.registry._export_onnx",
    "onnx_predict_proba": "skloop.registry._export_onnx",
    "check_gates": "skloop.registry._gates",
    "column_importance": "skloop.registry._importance",
    "LineageNode": "skloop.registry._lineage",
    "onnx_kind": "skloop.registry._onnx_cache",
    "stored_onnx": "skloop.registry._onnx_cache",
    "MODEL_FORMATS": "skloop.registry._persistence",
    "TRUSTED_TYPES": "skloop.registry._persistence",
    "TrustedPickleWarning": "skloop.registry._persistence",
    "load_model": "skloop.registry._persistence",
    "model_format_from_name": "skloop.registry._persistence",
    "save_model": "skloop.registry._persistence",
    "save_pickled_model": "skloop.registry._persistence",
    "DEFAULT_ALIAS": "skloop.registry._registry",
    "MODEL_ARTIFACTS": "skloop.registry._registry",
    "Registry": "skloop.registry._registry",
    "default_actor": "skloop.registry._registry",
    "parse_ref": "skloop.registry._registry",
    "InputColumn": "skloop.registry._signature",
    "OutputSchema": "skloop.registry._signature",
    "Signature": "skloop.registry._signature",
    "canonical_dtype": "skloop.registry._signature",
    "infer_signature": "skloop.registry._signature",
    "Trust": "skloop.registry._trust",
    "ColumnRule": "skloop.registry._validator",
    "Validated": "skloop.registry._validator",
    "Validator": "skloop.registry._validator",
    "version_card": "skloop.registry._version_card",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
