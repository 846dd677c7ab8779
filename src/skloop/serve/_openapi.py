"""The OpenAPI 3.1 document of a server, with the served model's columns as schemas."""

from __future__ import annotations

from typing import Any

from skloop.serve._model import ServedModel
from skloop.serve._protocols import MLFLOW_FORMATS, V2_DATATYPES

__all__ = ["openapi_document"]

_JSON_TYPE = {"int64": "integer", "float64": "number", "bool": "boolean", "string": "string", "datetime64": "string"}


def _error() -> dict[str, Any]:
    return {
        "description": "Refused; the body names the field, the row and the problem",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(model: ServedModel, max_body_bytes: int) -> dict[str, Any]:
    """OpenAPI for the V2, MLflow, health, metrics and admin routes of ``model``."""
    row = {
        "type": "object",
        "properties": {
            c.name: {
                "type": [_JSON_TYPE[c.dtype], "null"] if c.nullable else _JSON_TYPE[c.dtype],
                **({"enum": list(c.categories)} if c.categories else {}),
                **({"format": "date-time"} if c.dtype == "datetime64" else {}),
            }
            for c in model.signature.inputs
        },
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
    invocation = {
        "type": "object",
        "description": f"exactly one of {', '.join(MLFLOW_FORMATS)}",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": {"type": "array"}},
            },
            "dataframe_records": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
            "instances": {"type": "array"},
            "inputs": {"type": ["array", "object"]},
        },
    }
    errors = {"400": _error(), "401": _error(), "404": _error(), "413": _error()}
    json_ok = {"description": "OK", "content": {"application/json": {}}}
    infer = {
        "post": {
            "summary": "KServe V2 inference",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["inputs"],
                            "properties": {
                                "id": {"type": "string"},
                                "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                                "outputs": {"type": "array", "items": {"type": "object"}},
                                "parameters": {"type": "object"},
                            },
                        }
                    }
                }
            },
            "responses": {"200": json_ok, **errors},
        }
    }
    simple = {"get": {"responses": {"200": json_ok, "404": _error()}}}
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    version_param = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/invocations": {
            "post": {
                "summary": "MLflow scoring protocol",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Invocation"}},
                        "text/csv": {"schema": {"type": "string"}},
                    }
                },
                "responses": {"200": json_ok, "415": _error(), **errors},
            }
        },
        "/ping": {"get": {"responses": {"200": {"description": "alive"}}}},
        "/health": {"get": {"responses": {"200": {"description": "alive"}}}},
        "/version": {"get": {"responses": {"200": {"description": "skloop's version"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text format"}}}},
        "/v2": {"get": {"responses": {"200": json_ok}}},
        "/v2/health/live": {"get": {"responses": {"200": json_ok}}},
        "/v2/health/ready": {"get": {"responses": {"200": json_ok}}},
        "/v2/models/{name}": {**simple, "parameters": [name_param]},
        "/v2/models/{name}/ready": {**simple, "parameters": [name_param]},
        "/v2/models/{name}/infer": {**infer, "parameters": [name_param]},
        "/v2/models/{name}/versions/{version}": {**simple, "parameters": [name_param, version_param]},
        "/v2/models/{name}/versions/{version}/ready": {**simple, "parameters": [name_param, version_param]},
        "/v2/models/{name}/versions/{version}/infer": {**infer, "parameters": [name_param, version_param]},
        "/v2/repository/models/{name}/load": {
            "post": {
                "summary": "Reload the model (admin; bearer token when the server has one)",
                "security": [{"bearer": []}],
                "responses": {"200": json_ok, "401": _error(), "404": _error()},
            },
            "parameters": [name_param],
        },
    }
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
