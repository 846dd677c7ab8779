"""Bearer tokens on admin (and optionally prediction) routes; nothing from a request reaches the file system."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import project_settings
from starlette.testclient import TestClient

from skloop.core import UsageError
from skloop.serve import create_app


def _app(project: Path, token: str | None, **kwargs: Any) -> Any:
    settings = replace(project_settings(project), token=token)
    return create_app(settings, model_name="churn", poll_seconds=None, **kwargs)


def test_admin_load_needs_the_token(srv_project: Path, srv_row: dict[str, Any]) -> None:
    with TestClient(_app(srv_project, "s3cret")) as client:
        assert client.post("/v2/repository/models/churn/load").status_code == 401
        wrong = client.post("/v2/repository/models/churn/load", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        ok = client.post("/v2/repository/models/churn/load", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["version"] == "1"
        other = client.post("/v2/repository/models/..%2F..%2Fetc/load", headers={"Authorization": "Bearer s3cret"})
        assert other.status_code == 404
        # predictions stay open unless asked
        assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200


def test_predict_routes_can_require_the_token(srv_project: Path, srv_row: dict[str, Any]) -> None:
    with TestClient(_app(srv_project, "s3cret", token_required_for_predict=True)) as client:
        body = {"dataframe_records": [srv_row]}
        assert client.post("/invocations", json=body).status_code == 401
        assert client.post("/invocations", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        v2 = {"inputs": [{"name": "rows", "shape": [1], "datatype": "BYTES", "data": ["{}"]}]}
        assert client.post("/v2/models/churn/infer", json=v2).status_code == 401
        assert client.get("/v2/health/ready").status_code == 200  # health stays open


def test_token_required_for_predict_without_a_token_is_refused(srv_project: Path) -> None:
    with pytest.raises(UsageError, match="SKLOOP_TOKEN"):
        _app(srv_project, None, token_required_for_predict=True)


def test_no_token_means_admin_is_open(srv_project: Path) -> None:
    with TestClient(_app(srv_project, None)) as client:
        assert client.post("/v2/repository/models/churn/load").status_code == 200
        assert client.post("/v2/repository/models/nope/load").status_code == 404
