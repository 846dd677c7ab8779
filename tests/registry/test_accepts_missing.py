"""A column the pipeline fills in: recorded in the signature, not required by the MLflow export (issue 10, item 6)."""

from __future__ import annotations

import pytest

from passenger_data import fit_passengers
from skloop.registry import coerce_frame, infer_signature, mlflow_signature


def test_the_mlflow_signature_requires_only_what_cannot_be_missing() -> None:
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    pipe, X, y = fit_passengers(impute_pclass=False)
    signature = infer_signature(X, y, task="classification", model=pipe)
    required = {c.name: c.required for c in mlflow_signature(signature).inputs.inputs}
    assert required == {"Pclass": True, "Sex": False, "Age": False, "Fare": False, "Embarked": False}


def test_coerce_frame_flags_what_it_accepts_and_refuses_the_rest() -> None:
    pipe, X, y = fit_passengers(impute_pclass=False)
    signature = infer_signature(X, y, task="classification", model=pipe)
    rows = X.head(3).astype(object).to_dict("records")
    rows[0]["Fare"], rows[1]["Age"], rows[2]["Pclass"] = None, None, None
    result = coerce_frame(rows, signature)
    assert [(i.row, i.column, i.severity) for i in result.issues if "missing" in i.problem] == [
        (2, "Pclass", "error"),
        (0, "Fare", "flag"),  # none in training: flagged as filled in
    ]  # Age had missing values in training: neither refused nor flagged
    assert result.error_rows == (2,)
