"""The OpenAPI 3.1 document of a server, with the served model's columns as schemas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skloop.serve._model import ServedModel
from skloop.serve._protocols import MLFLOW_FORMATS, V2_DATATYPES
from skloop.serve._routes import ADMIN, PREDICT, ROUTES, Route

__all__ = ["openapi_document"]

_JSON_TYPE = {"int64": "integer", "float64": "number", "bool": "boolean", "string": "string", "datetime64": "string"}


def _error() -> dict[str, Any]:
    return {
        "description": "Refused; the body names the field, the row and the problem",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _column(column: Any) -> dict[str, Any]:
    """A signature column's schema: what the server accepts, not only what it expects.

    Unknown categories and values out of the training range are scored (and flagged),
    so the known categories are ``examples``, not an ``enum``; a date or a date-time
    is accepted where a datetime is expected.
    """
    schema: dict[str, Any] = {"type": _JSON_TYPE[column.dtype]}
    if column.dtype == "datetime64":
        schema["anyOf"] = [{"format": "date"}, {"format": "date-time"}]
    if column.categories:
        schema["examples"] = list(column.categories)
    if column.missing_ok:  # seen missing in training, or filled in by the pipeline
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _unavailable() -> dict[str, Any]:
    return {
        "description": "The prediction log cannot be written; nothing was kept: retry after the given seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(
    model: ServedModel,
    max_body_bytes: int,
    *,
    routes: Sequence[Route] = ROUTES,
    token: bool = False,
    token_for_predict: bool = False,
) -> dict[str, Any]:
    """OpenAPI for the routes of the route table (:data:`~skloop.serve._routes.ROUTES`) serving ``model``.

    Parameters
    ----------
    model : ServedModel
        Its signature gives the row schema.
    max_body_bytes : int
        The body limit (in the description).
    routes : sequence of Route
        The server's route table: one path per route, one operation per method.
    token : bool
        The server has a token: admin operations declare the bearer scheme (and 401).
    token_for_predict : bool
        Scoring operations need the token too.
    """
    row = {
        "type": "object",
        "properties": {c.name: _column(c) for c in model.signature.inputs},
        "required": model.signature.names,
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"enum": list(V2_DATATYPES)},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
    }
    split = {
        "type": "object",
        "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": {"type": "array"}},
    }
    formats: dict[str, Any] = {
        "dataframe_split": split,
        "dataframe_records": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
        "instances": {"type": ["array", "object"]},
        "inputs": {"type": ["array", "object"]},
    }
    invocation = {
        "type": "object",
        "description": f"exactly one of {', '.join(MLFLOW_FORMATS)}",
        "oneOf": [{"required": [k], "properties": {k: formats[k]}} for k in MLFLOW_FORMATS],
    }
    label = {
        "type": "object",
        "description": "the label of an entity (id) or of one prediction (request_id and row), not both",
        "properties": {
            "id": {"type": ["string", "number"]},
            "request_id": {"type": "string"},
            "row": {"type": "integer", "minimum": 0},
            "label": {"type": ["string", "number", "boolean"]},
            "time": {
                "anyOf": [{"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}, {"type": "null"}]
            },
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["id", "label"]}, {"required": ["request_id", "row", "label"]}],
    }
    records = {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Label"}}
    errors = {"400": _error(), "404": _error(), "413": _error()}
    json_ok = {"description": "OK", "content": {"application/json": {}}}
    infer = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["inputs"],
                        "properties": {
                            "id": {"type": "string"},
                            "inputs": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"$ref": "#/components/schemas/Tensor"},
                            },
                            "outputs": {"type": "array", "items": {"type": "object"}},
                            "parameters": {"type": "object"},
                        },
                    }
                }
            },
        },
        "responses": {"200": json_ok, **errors, "503": _unavailable()},
    }
    simple = {"responses": {"200": json_ok, "404": _error()}}
    operations: dict[str, dict[str, Any]] = {
        "_invocations": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Invocation"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "responses": {"200": json_ok, **errors, "415": _error(), "503": _unavailable()},
        },
        "_infer": infer,
        "_labels": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                records,
                                {"type": "object", "required": ["labels"], "properties": {"labels": records}},
                            ]
                        }
                    }
                },
            },
            "responses": {"200": json_ok, **errors},
        },
        "_admin_load": {"responses": {"200": json_ok, "404": _error()}},
        "_model_metadata": simple,
        "_model_ready": simple,
        "_ping": {"responses": {"200": {"description": "alive"}}},
        "_version": {"responses": {"200": {"description": "skloop's version"}}},
        "_metrics": {"responses": {"200": {"description": "Prometheus text format"}}},
        "_openapi_json": {"responses": {"200": json_ok}},
        "_server_metadata": {"responses": {"200": json_ok}},
        "_live": {"responses": {"200": json_ok}},
        "_ready": {"responses": {"200": json_ok}},
    }
    guarded = {ADMIN} if token else set()
    if token and token_for_predict:
        guarded.add(PREDICT)
    paths: dict[str, Any] = {}
    for route in routes:
        item: dict[str, Any] = {}
        for method, handler in route.methods.items():
            operation = {"summary": route.summary, **operations[handler]}
            if route.auth in guarded:
                operation["security"] = [{"bearer": []}]
                operation["responses"] = {**operation["responses"], "401": _error()}
            item[method.lower()] = operation
        if route.params:
            item["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.params
            ]
        paths[route.template] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"skloop model server: {model.name}",
            "version": str(model.version),
            "description": f"Serves {model.ref} ({model.runtime}); bodies up to {max_body_bytes} bytes.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Row": row,
                "Tensor": tensor,
                "Invocation": invocation,
                "Label": label,
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "error_code": {"type": "string"},
                        "message": {"type": "string"},
                        "issues": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
