"""Serving: the model server (KServe V2 and MLflow protocols) and the prediction log.

- ``_app``: :func:`create_app`, the ASGI app (validation, micro-batching, hot swap,
  metrics, access logs);
- ``_model``: :class:`ServedModel`, a loaded version with its ONNX Runtime or
  scikit-learn runner;
- ``_validate``: :class:`CompiledSignature`, the per-column validators;
- ``_errors``: the server's errors and the table mapping them to HTTP statuses;
- ``_wal``: :class:`PredictionLog`, the durable prediction log.
"""

from skloop.serve._app import DEFAULT_MAX_BODY_BYTES, DEFAULT_POLL_SECONDS, ServeApp, create_app
from skloop.serve._errors import STATUS_BY_ERROR, ServeError
from skloop.serve._model import ServedModel, load_served_model
from skloop.serve._validate import CompiledSignature, Prepared
from skloop.serve._wal import PredictionLog

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_POLL_SECONDS",
    "STATUS_BY_ERROR",
    "CompiledSignature",
    "PredictionLog",
    "Prepared",
    "ServeApp",
    "ServeError",
    "ServedModel",
    "create_app",
    "load_served_model",
]
