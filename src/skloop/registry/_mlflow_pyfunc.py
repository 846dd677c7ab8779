"""The ``python_function`` loader of an exported MLflow model: rows typed as skloop's server types them.

:func:`~skloop.registry.export_mlflow` names this module as the pyfunc flavor's
``loader_module``, so ``mlflow.pyfunc.load_model`` calls :func:`_load_pyfunc`. The
returned wrapper casts the input with :func:`~skloop.registry.coerce_frame` and the
skloop signature stored next to the model (``skloop_signature.json``), so that a pandas
``category`` column, date strings or ``"yes"``/``"no"`` reach the pipeline as the
values skloop's own server would give it, and a row that cannot be scored is refused
with a message naming the row and column.

The module path is written into exported ``MLmodel`` files: keep it importable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from skloop.core import optional_import
from skloop.registry._coerce import coerce_frame
from skloop.registry._signature import Signature

__all__ = ["SIGNATURE_FILE", "SkloopPyfuncModel"]

SIGNATURE_FILE = "skloop_signature.json"
"""The skloop signature in an exported MLflow model directory."""

_SHOWN = 5


class SkloopPyfuncModel:
    """A fitted model behind skloop's input coercion, as MLflow's pyfunc calls it.

    Parameters
    ----------
    model : estimator
        The fitted scikit-learn model.
    signature : Signature
        Its skloop signature: the columns, their dtypes and nullability.
    """

    def __init__(self, model: Any, signature: Signature) -> None:
        self.model = model
        self.signature = signature

    def get_raw_model(self) -> Any:
        """The scikit-learn model."""
        return self.model

    def _coerce(self, data: Any) -> Any:
        result = coerce_frame(data, self.signature)
        if not result.ok:
            errors = result.errors
            shown = "; ".join(
                f"{'row ' + str(i.row) + ' ' if i.row is not None else ''}column {i.column!r}: {i.problem}"
                for i in errors[:_SHOWN]
            )
            more = f" (and {len(errors) - _SHOWN} more)" if len(errors) > _SHOWN else ""
            exceptions = optional_import("mlflow.exceptions", "mlflow")
            raise exceptions.MlflowException.invalid_parameter_value(
                f"{len(result.error_rows)} row(s) cannot be scored: {shown}{more}; "
                "send the model's signature columns with values of its types"
            )
        return result.frame

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's ``predict`` on ``data`` cast to the signature."""
        return self.model.predict(self._coerce(data))

    def predict_proba(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's ``predict_proba`` on ``data`` cast to the signature (classifiers)."""
        return self.model.predict_proba(self._coerce(data))


def _load_pyfunc(path: str) -> SkloopPyfuncModel:
    """Called by ``mlflow.pyfunc.load_model`` with the pyfunc flavor's data path."""
    mlflow_sklearn = optional_import("mlflow.sklearn", "mlflow")
    model_dir = Path(path).parent if os.path.isfile(path) else Path(path)
    signature = Signature.from_dict(json.loads((model_dir / SIGNATURE_FILE).read_text(encoding="utf-8")))
    return SkloopPyfuncModel(mlflow_sklearn.load_model(str(model_dir)), signature)
