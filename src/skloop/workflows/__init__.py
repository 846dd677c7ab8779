"""Workflows: train, register, predict, monitor, loop, validate — compositions of the layers below.

:class:`Project` puts every step of the loop on one object; the free functions are
what its methods (and the CLI commands) call.

Every name is imported on first use (``skloop train`` does not load the server, the loop
or the demo).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skloop.core import lazy_names as _lazy_names

if TYPE_CHECKING:
    from skloop.workflows._autolog import autolog, autolog_enabled
    from skloop.workflows._backend import SearchBackend, resolve_search_backend
    from skloop.workflows._demo import DEMO_LOOP_POLICY, DemoResult, run_demo
    from skloop.workflows._import_mlflow import ImportResult, import_mlflow, signature_from_mlflow
    from skloop.workflows._init import EXAMPLE_SPEC, InitResult, init_ci, init_example, init_from_data
    from skloop.workflows._junit import junit_xml, write_junit
    from skloop.workflows._loop import LOOP_STEPS, run_loop
    from skloop.workflows._mirror import DrainResult, backoff, drain, start_background_drain
    from skloop.workflows._monitor import (
        MonitorInputs,
        explain_model,
        load_monitor_inputs,
        model_input_columns,
        monitor_model,
        save_report,
    )
    from skloop.workflows._predict import (
        MAX_BAD_ROWS_KEPT,
        PREDICTION_METADATA_KEYS,
        BadRow,
        BatchPredictions,
        PredictResult,
        id_column_of,
        predict_batch,
        predict_table,
    )
    from skloop.workflows._predict_dask import is_parquet_source
    from skloop.workflows._predict_output import read_prediction_metadata, rejected_path
    from skloop.workflows._progress import NullProgress, Progress
    from skloop.workflows._project import Project
    from skloop.workflows._register import RegisterOutcome, register_run
    from skloop.workflows._reproduce import ReproduceResult, reproduce, training_frame
    from skloop.workflows._retention import loop_reach, prune_log
    from skloop.workflows._tracking import SCRIPT_RUN_KIND, ActiveRun, active_run, estimator_scores, start_run
    from skloop.workflows._train import TrainResult, prepare_data, train
    from skloop.workflows._validate import CheckResult, ValidationReport, validate_model

__all__ = [
    "DEMO_LOOP_POLICY",
    "EXAMPLE_SPEC",
    "LOOP_STEPS",
    "MAX_BAD_ROWS_KEPT",
    "PREDICTION_METADATA_KEYS",
    "SCRIPT_RUN_KIND",
    "ActiveRun",
    "BadRow",
    "BatchPredictions",
    "CheckResult",
    "DemoResult",
    "DrainResult",
    "ImportResult",
    "InitResult",
    "MonitorInputs",
    "NullProgress",
    "PredictResult",
    "Progress",
    "Project",
    "RegisterOutcome",
    "ReproduceResult",
    "SearchBackend",
    "TrainResult",
    "ValidationReport",
    "active_run",
    "autolog",
    "autolog_enabled",
    "backoff",
    "drain",
    "estimator_scores",
    "explain_model",
    "id_column_of",
    "import_mlflow",
    "init_ci",
    "init_example",
    "init_from_data",
    "is_parquet_source",
    "junit_xml",
    "load_monitor_inputs",
    "loop_reach",
    "model_input_columns",
    "monitor_model",
    "predict_batch",
    "predict_table",
    "prepare_data",
    "prune_log",
    "read_prediction_metadata",
    "register_run",
    "rejected_path",
    "reproduce",
    "resolve_search_backend",
    "run_demo",
    "run_loop",
    "save_report",
    "signature_from_mlflow",
    "start_background_drain",
    "start_run",
    "train",
    "training_frame",
    "validate_model",
    "write_junit",
]

# name -> the module it lives in
_LAZY = {
    "autolog": "skloop.workflows._autolog",
    "autolog_enabled": "skloop.workflows._autolog",
    "SearchBackend": "skloop.workflows._backend",
    "resolve_search_backend": "skloop.workflows._backend",
    "DEMO_LOOP_POLICY": "skloop.workflows._demo",
    "DemoResult": "skloop.workflows._demo",
    "run_demo": "skloop.workflows._demo",
    "ImportResult": "skloop.workflows._import_mlflow",
    "import_mlflow": "skloop.workflows._import_mlflow",
    "signature_from_mlflow": "skloop.workflows._import_mlflow",
    "EXAMPLE_SPEC": "skloop.workflows._init",
    "InitResult": "skloop.workflows._init",
    "init_ci": "skloop.workflows._init",
    "init_example": "skloop.workflows._init",
    "init_from_data": "skloop.workflows._init",
    "junit_xml": "skloop.workflows._junit",
    "write_junit": "skloop.workflows._junit",
    "LOOP_STEPS": "skloop.workflows._loop",
    "run_loop": "skloop.workflows._loop",
    "DrainResult": "skloop.workflows._mirror",
    "backoff": "skloop.workflows._mirror",
    "drain": "skloop.workflows._mirror",
    "start_background_drain": "skloop.workflows._mirror",
    "MonitorInputs": "skloop.workflows._monitor",
    "explain_model": "skloop.workflows._monitor",
    "load_monitor_inputs": "skloop.workflows._monitor",
    "model_input_columns": "skloop.workflows._monitor",
    "monitor_model": "skloop.workflows._monitor",
    "save_report": "skloop.workflows._monitor",
    "MAX_BAD_ROWS_KEPT": "skloop.workflows._predict",
    "PREDICTION_METADATA_KEYS": "skloop.workflows._predict",
    "BadRow": "skloop.workflows._predict",
    "BatchPredictions": "skloop.workflows._predict",
    "PredictResult": "skloop.workflows._predict",
    "id_column_of": "skloop.workflows._predict",
    "predict_batch": "skloop.workflows._predict",
    "predict_table": "skloop.workflows._predict",
    "is_parquet_source": "skloop.workflows._predict_dask",
    "read_prediction_metadata": "skloop.workflows._predict_output",
    "rejected_path": "skloop.workflows._predict_output",
    "NullProgress": "skloop.workflows._progress",
    "Progress": "skloop.workflows._progress",
    "Project": "skloop.workflows._project",
    "RegisterOutcome": "skloop.workflows._register",
    "register_run": "skloop.workflows._register",
    "ReproduceResult": "skloop.workflows._reproduce",
    "reproduce": "skloop.workflows._reproduce",
    "training_frame": "skloop.workflows._reproduce",
    "loop_reach": "skloop.workflows._retention",
    "prune_log": "skloop.workflows._retention",
    "SCRIPT_RUN_KIND": "skloop.workflows._tracking",
    "ActiveRun": "skloop.workflows._tracking",
    "active_run": "skloop.workflows._tracking",
    "estimator_scores": "skloop.workflows._tracking",
    "start_run": "skloop.workflows._tracking",
    "TrainResult": "skloop.workflows._train",
    "prepare_data": "skloop.workflows._train",
    "train": "skloop.workflows._train",
    "CheckResult": "skloop.workflows._validate",
    "ValidationReport": "skloop.workflows._validate",
    "validate_model": "skloop.workflows._validate",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
