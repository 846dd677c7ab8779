"""Serving: the model server (KServe V2 and MLflow protocols) and the prediction log.

- ``_app``: :func:`create_app`, the ASGI app (validation, micro-batching, hot swap,
  metrics, access logs);
- ``_model``: :class:`ServedModel`, a loaded version with its ONNX Runtime or
  scikit-learn runner;
- ``_validate``: :class:`CompiledSignature`, the per-column validators;
- ``_errors``: the server's errors and the table mapping them to HTTP statuses;
- ``_sink``: :class:`PredictionSink`, what the app appends scored rows to (the durable
  log, or any async ``append(records)``), and :class:`LineSink`, one that takes lines;
- ``_wal``: :class:`PredictionLog`, the durable prediction log (a ``LineSink``);
- ``_types``: the ASGI aliases (``Scope``, ``Receive``, ``Send``), equal to Starlette's;
- ``_ingest``: :class:`Ingestor` / :func:`ingest_once`, the log into the store;
- ``_routes``: the one route table (dispatch, auth, 404/405, OpenAPI paths);
- ``_labels``: :func:`ingest_label_records` and :func:`ingest_label_file` (labels);
- ``_workers``: :class:`WorkerPool`, several server processes on one port
  (``SO_REUSEPORT``), restarted when they die, sharing the log folder and the metrics.

Prediction log lifecycle::

    log = PredictionLog(log_dir).start()          # a new, locked segment
    ingestor = Ingestor(log_dir, store).start()   # log -> store every second
    await log.append(records)                     # returns once fsynced: then answer
    log.close()                                   # first: flush and release the segment
    ingestor.close()                              # then: a last pass drains it

A record is one served row: ``{"request_id", "row", "time" (ISO UTC), "model",
"version", "inputs", "outputs", "flags"}``, plus ``"entity_id"`` when the request
carries the spec's ``data.id`` column (else ingestion looks for that column in
``inputs``). :func:`default_log_dir` is a project's log folder. Labels: mount
the server's ``POST /v2/models/{name}/labels`` (an admin route: it needs the token when
the server has one), or call :func:`ingest_label_records` (raises
:class:`LabelError`, a ``DataError``: 400).
"""

from skloop.serve._app import DEFAULT_MAX_BODY_BYTES, DEFAULT_POLL_SECONDS, ServeApp, create_app
from skloop.serve._errors import STATUS_BY_ERROR, ServeError
from skloop.serve._ingest import CHECKPOINT_FILE, Ingestor, ingest_once, read_checkpoint
from skloop.serve._ingest_process import IngestProcess
from skloop.serve._labels import (
    MAX_LABEL_CHARS,
    LabelError,
    ingest_label_file,
    ingest_label_records,
    label_output,
)
from skloop.serve._logdir import default_log_dir
from skloop.serve._model import ServedModel, load_served_model
from skloop.serve._sink import LineSink, PredictionSink
from skloop.serve._validate import CompiledSignature, Prepared
from skloop.serve._wal import DEFAULT_SEGMENT_BYTES, PredictionLog, read_segment, segments
from skloop.serve._workers import WorkerInfo, WorkerPool, WorkerSpec

__all__ = [
    "CHECKPOINT_FILE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_POLL_SECONDS",
    "DEFAULT_SEGMENT_BYTES",
    "MAX_LABEL_CHARS",
    "STATUS_BY_ERROR",
    "CompiledSignature",
    "IngestProcess",
    "Ingestor",
    "LabelError",
    "LineSink",
    "PredictionLog",
    "PredictionSink",
    "Prepared",
    "ServeApp",
    "ServeError",
    "ServedModel",
    "WorkerInfo",
    "WorkerPool",
    "WorkerSpec",
    "create_app",
    "default_log_dir",
    "ingest_label_file",
    "ingest_label_records",
    "ingest_once",
    "label_output",
    "load_served_model",
    "read_checkpoint",
    "read_segment",
    "segments",
]
