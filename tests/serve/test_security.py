"""Bearer tokens on admin (and optionally prediction) routes; nothing from a request reaches the file system.

The write routes are taken from the route table itself, so a route added there is
checked here without anyone remembering to.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import project_settings, register_churn
from starlette.testclient import TestClient

from skloop.core import UsageError
from skloop.serve import PredictionLog, create_app, read_segment, segments
from skloop.serve._routes import ADMIN, PREDICT, PUBLIC, ROUTES, Route


def _app(project: Path, token: str | None, **kwargs: Any) -> Any:
    settings = replace(project_settings(project), token=token)
    return create_app(settings, model_name="churn", poll_seconds=None, **kwargs)


WRITES = [(r, m) for r in ROUTES for m in r.methods if m in ("POST", "PUT", "PATCH", "DELETE")]


def _body(handler: str, row: dict[str, Any]) -> Any:
    """A valid body for each write handler: a new write route must add its own here."""
    v2 = {"inputs": [{"name": "rows", "shape": [1], "datatype": "BYTES", "data": [json.dumps(row)]}]}
    return {
        "_invocations": {"dataframe_records": [row]},
        "_infer": v2,
        "_labels": [{"id": "c-1", "label": 1}],
        "_admin_load": None,
    }[handler]


@pytest.fixture(scope="module")
def sec_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project of this module (its tests write labels)."""
    base = tmp_path_factory.mktemp("sec_project")
    register_churn(project_settings(base))
    return base


def _written(app: Any, log: PredictionLog) -> tuple[int, int]:
    """(labels stored, prediction records logged) so far."""
    log.close()
    log.start()
    return app.registry.store.predictions.count_labels(), sum(
        1 for s in segments(log.directory) for _ in read_segment(s)
    )


def test_every_write_route_is_admin_or_predict() -> None:
    assert WRITES, "the route table has no write route"
    assert all(route.auth != PUBLIC for route, _ in WRITES)


@pytest.mark.parametrize("for_predict", [False, True], ids=["predict-open", "token-required-for-predict"])
@pytest.mark.parametrize(("route", "method"), WRITES, ids=[f"{m} {r.template}" for r, m in WRITES])
def test_every_write_route_checks_the_token(
    sec_project: Path, tmp_path: Path, srv_row: dict[str, Any], route: Route, method: str, for_predict: bool
) -> None:
    log = PredictionLog(tmp_path / "wal").start()
    app = _app(sec_project, "s3cret", prediction_log=log, token_required_for_predict=for_predict)
    path = route.template.format(name="churn", version=str(app.model.version))
    body = _body(route.methods[method], srv_row)
    needs = route.auth == ADMIN or (route.auth == PREDICT and for_predict)
    try:
        with TestClient(app) as client:
            before = _written(app, log)
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "s3cret"}):
                answer = client.request(method, path, json=body, headers=headers)
                if needs:
                    assert answer.status_code == 401, (headers, answer.text)
                    assert answer.headers["www-authenticate"] == "Bearer"
                    assert _written(app, log) == before  # refused: nothing stored, nothing logged
                else:
                    assert answer.status_code == 200, (headers, answer.text)
            ok = client.request(method, path, json=body, headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200, ok.text
    finally:
        log.close()
        app.registry.store.close()


def test_versioned_labels_are_not_a_way_around_the_token(sec_project: Path) -> None:
    with TestClient(_app(sec_project, "s3cret", token_required_for_predict=True)) as client:
        before = client.app.registry.store.predictions.count_labels()
        for version in ("999", "1"):
            answer = client.post(f"/v2/models/churn/versions/{version}/labels", json=[{"id": "c-9", "label": 1}])
            assert answer.status_code in (401, 404), answer.text
        assert client.app.registry.store.predictions.count_labels() == before


def test_starting_without_a_token_warns_that_admin_routes_are_open(
    sec_project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skloop.serve"):
        with TestClient(_app(sec_project, None)):
            pass
        warned = [r.getMessage() for r in caplog.records if "SKLOOP_TOKEN" in r.getMessage()]
        assert len(warned) == 1 and r"/v2/models/{name}/labels" in warned[0] and "open" in warned[0]
        caplog.clear()
        with TestClient(_app(sec_project, "s3cret")):
            pass
        assert not [r for r in caplog.records if "SKLOOP_TOKEN" in r.getMessage()]


def test_skloop_serve_shows_the_no_token_warning(
    sec_project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from skloop.cli import app as cli

    def run(app: Any, **kwargs: Any) -> None:  # start and stop the app as uvicorn would
        with TestClient(app):
            pass

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("SKLOOP_TOKEN", raising=False)
    with caplog.at_level(logging.WARNING, logger="skloop.serve"):
        result = CliRunner().invoke(cli, ["serve", "churn", "--spec", str(sec_project), "--no-log", "--no-onnx"])
    assert result.exit_code == 0, result.output
    assert any("admin routes" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


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


# -- the audit of issue 13: tokens never logged, hostile paths, untrusted model files --

_WRONG = "guess-4d2c-token"


def test_tokens_are_never_logged_nor_echoed(
    sec_project: Path, tmp_path: Path, srv_row: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("skloop.serve.access")
    log = PredictionLog(tmp_path / "wal").start()
    app = _app(sec_project, "s3cret-abc", prediction_log=log, token_required_for_predict=True)
    bodies: list[str] = []
    try:
        with caplog.at_level(logging.DEBUG), TestClient(app) as client:
            access.setLevel(logging.INFO)  # what --access-log turns on
            for token in ("s3cret-abc", _WRONG, "s3cret-ab"):
                headers = {"Authorization": f"Bearer {token}", "x-request-id": "r-1"}
                for path in (
                    f"/invocations?token={token}",
                    "/v2/models/churn/labels",
                    "/v2/repository/models/churn/load",
                ):
                    body = {"dataframe_records": [srv_row]} if "invocations" in path else [{"id": "c-1", "label": 1}]
                    answer = client.post(path, json=body, headers=headers)
                    bodies.append(answer.text)
                    assert answer.status_code < 500
            access_lines = [r.getMessage() for r in caplog.records if r.name == "skloop.serve.access"]
    finally:
        access.setLevel(logging.NOTSET)
        log.close()
        app.registry.store.close()
    assert len(access_lines) >= 9  # the access log did record every request
    # skloop's own loggers (the test client's HTTP library logs the URLs it was asked for, query and all)
    ours = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.name.startswith("skloop"))
    text = ours + "\n".join(bodies)
    records = [json.dumps(r, default=str) for s in segments(log.directory) for r in read_segment(s)]
    for secret in ("s3cret-abc", "s3cret-ab", _WRONG):
        assert secret not in text and not [r for r in records if secret in r], secret


def test_the_server_compares_tokens_in_constant_time() -> None:
    """Audit by reading: the comparison is hmac.compare_digest on bytes, never ``==``."""
    import inspect

    from skloop.serve._app import ServeApp

    source = inspect.getsource(ServeApp)
    assert "hmac.compare_digest(" in source
    assert "== self.token" not in source and "self.token ==" not in source


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/..%2F..%2Fetc/infer",
        "/v2/models/%2Fetc%2Fpasswd/infer",
        "/v2/models/churn%00/infer",
        "/v2/models/churn/versions/..%2F1/infer",
        "/v2/models/churn/versions/%2E%2E/labels",
        "/v2/repository/models/%2E%2E%2F%2E%2E/load",
        "/v2/repository/models/churn%2F..%2F..%2Fetc/load",
    ],
)
def test_hostile_names_and_versions_are_4xx_and_touch_nothing(
    sec_project: Path, tmp_path: Path, srv_row: dict[str, Any], path: str
) -> None:
    before = sorted(p.name for p in sec_project.rglob("*"))
    with TestClient(_app(sec_project, "s3cret")) as client:
        answer = client.post(path, json={"inputs": []}, headers={"Authorization": "Bearer s3cret"})
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
        client.app.registry.store.close()
    after = sorted(p.name for p in sec_project.rglob("*"))
    assert [p for p in after if p not in before and not p.startswith("skloop.db")] == []


def test_a_server_refuses_an_untrusted_pickle_before_it_runs(tmp_path: Path) -> None:
    """A joblib model whose ``__reduce__`` writes a file: ``create_app`` refuses it, and the file never appears."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "registry"))
    try:
        from test_trust import touch_pickle
    finally:
        sys.path.pop(0)
    from skloop.core import UntrustedModelError
    from skloop.registry import Registry
    from skloop.store import Store

    settings = project_settings(tmp_path)
    marker = tmp_path / "pwned"
    register_churn(settings, n_rows=200)  # v1, skops, with the signature a joblib v2 borrows
    store = Store.open(settings)
    try:
        registry = Registry(store)
        signature = store.models.get_model_version("churn", 1).signature
        with store.runs.start_run("churn", spec={"name": "churn"}) as run:
            store.runs.log_artifact(run.id, "model.joblib", touch_pickle(marker))
        version = registry.register(run.id, "churn", format="joblib", signature=signature).version
        registry.promote("churn", version, "champion", reason="audit", force=True)
    finally:
        store.close()
    with pytest.raises(UntrustedModelError, match="--trust"):
        create_app(settings, model_name="churn", poll_seconds=None)
    assert not marker.exists()
