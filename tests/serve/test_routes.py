"""The one route table: dispatch, 404/405 with ``Allow``, and the OpenAPI document all come from it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import project_settings
from starlette.testclient import TestClient

from skloop.serve import create_app
from skloop.serve._routes import ADMIN, PREDICT, ROUTES, Route, Router

PARAMS = {"name": "churn", "version": "1"}


def concrete(route: Route, **params: str) -> str:
    """The path of ``route`` for the served model (``churn`` version 1)."""
    return route.template.format(**(PARAMS | params))


@pytest.fixture(scope="module")
def client(srv_project: Path) -> Any:
    app = create_app(project_settings(srv_project), model_name="churn", poll_seconds=None)
    with TestClient(app) as c:
        yield c
    app.registry.store.close()


def test_every_route_of_the_table_is_found_with_its_params() -> None:
    router = Router(ROUTES, lambda name: name)  # type: ignore[arg-type,return-value]
    for route in ROUTES:
        found = router.match(concrete(route))
        assert found is not None, route.template
        bound, params = found
        assert bound.route is route
        assert params == {p: PARAMS[p] for p in route.params}
        assert bound.handlers == dict(route.methods)  # bound once, when the router is built
    assert router.match("/v2/models//infer") is None  # an empty parameter is no match
    assert router.match("/v2/models/churn/versions/1/nope") is None


def test_the_app_routes_through_the_table_built_once(client: Any) -> None:
    app = client.app
    router = app.router
    assert router.routes is ROUTES
    client.get("/v2/health/ready")
    assert app.router is router


@pytest.mark.parametrize("route", ROUTES, ids=[r.template for r in ROUTES])
def test_a_wrong_method_is_405_with_allow_from_the_table(client: Any, route: Route) -> None:
    answer = client.request("DELETE", concrete(route))
    assert answer.status_code == 405, answer.text
    allowed = [m.strip() for m in answer.headers["allow"].split(",")]
    assert set(allowed) == set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
    assert answer.json()["error_code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/repository/models/churn/unload",  # named by the old router, never answered
        "/v2/models/churn/versions/999/labels",  # labels belong to the model, not a version
        "/v2/models/churn/versions/1/labels",
        "/v2/models/churn/nope",
    ],
)
def test_routes_not_in_the_table_are_404(client: Any, path: str) -> None:
    answer = client.post(path, json=[{"id": "c-1", "label": 1}])
    assert answer.status_code == 404, answer.text
    assert client.app.registry.store.predictions.count_labels() == 0


def _openapi(project: Path, **kwargs: Any) -> dict[str, Any]:
    settings = replace(project_settings(project), token=kwargs.pop("token", None))
    app = create_app(settings, model_name="churn", poll_seconds=None, **kwargs)
    try:
        with TestClient(app) as c:
            doc: dict[str, Any] = c.get("/openapi.json").json()
            return doc
    finally:
        app.registry.store.close()


@pytest.mark.parametrize(
    "options", [{}, {"token": "s3cret"}, {"token": "s3cret", "token_required_for_predict": True}], ids=str
)
def test_the_openapi_document_is_valid_and_lists_the_table(srv_project: Path, options: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    doc = _openapi(srv_project, **options)
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema
    assert set(doc["paths"]) == {r.template for r in ROUTES}
    guarded = set()
    if options.get("token"):
        guarded.add(ADMIN)
        if options.get("token_required_for_predict"):
            guarded.add(PREDICT)
    for route in ROUTES:
        item = doc["paths"][route.template]
        assert {k for k in item if k != "parameters"} == {m.lower() for m in route.methods}
        assert [p["name"] for p in item.get("parameters", [])] == list(route.params)
        for method in route.methods:
            operation = item[method.lower()]
            assert ("security" in operation) == (route.auth in guarded), (route.template, method)
            assert ("401" in operation["responses"]) == (route.auth in guarded)
            if route.auth == PREDICT:
                assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_openapi_schemas_say_what_the_server_accepts(srv_project: Path, srv_row: dict[str, Any]) -> None:
    from openapi_schema_validator import OAS31Validator

    doc = _openapi(srv_project)
    components = doc["components"]

    def valid(name: str, value: Any) -> bool:
        return bool(OAS31Validator({**components["schemas"][name], "components": components}).is_valid(value))

    # MLflow's "exactly one of" is a oneOf, not prose
    assert valid("Invocation", {"dataframe_records": [srv_row]})
    assert valid("Invocation", {"instances": [srv_row], "params": {}})
    assert not valid("Invocation", {"dataframe_records": [srv_row], "instances": [srv_row]})
    assert not valid("Invocation", {"rows": []})
    assert valid("Label", {"id": "c-1", "label": 1})
    assert valid("Label", {"request_id": "r", "row": 0, "label": "yes"})
    assert not valid("Label", {"id": "c-1", "request_id": "r", "row": 0, "label": 1})
    assert not valid("Label", {"label": 1})
    labels = doc["paths"]["/v2/models/{name}/labels"]["post"]["requestBody"]["content"]["application/json"]
    assert labels["schema"]["oneOf"]


def test_starlette_routes_every_request_and_the_app_answers(client: Any) -> None:
    from starlette.routing import Router as StarletteRouter

    router = client.app.router
    assert isinstance(router.asgi, StarletteRouter)
    assert [r.path for r in router.asgi.routes] == [r.template for r in ROUTES]  # one table, in its order
    # a trailing slash is the same route (no redirect); no route is the app's JSON 404, not Starlette's text
    assert client.get("/ping/", follow_redirects=False).status_code == 200
    missing = client.get("/v2/models/churn/versions/1/nope")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert missing.headers["content-type"] == "application/json"


def test_a_router_without_dispatch_matches_but_does_not_serve() -> None:
    import asyncio

    router = Router(ROUTES, lambda name: name)  # type: ignore[arg-type,return-value]
    assert router.match("/ping/") is not None
    scope = {"type": "http", "method": "GET", "path": "/ping", "root_path": "", "headers": []}
    with pytest.raises(RuntimeError, match="without a dispatch"):
        asyncio.run(router(scope, None, None))
