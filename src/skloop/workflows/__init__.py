"""Workflows: train, register, predict, monitor, loop, validate — compositions of the layers below.

:class:`Project` puts every step of the loop on one object; the free functions are
what its methods (and the CLI commands) call.
"""

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
