"""The route handlers of :class:`~skloop.serve.ServeApp`, one method per endpoint.

A mixin: the app (``_app.py``) owns routing, the model, batching and logging; these
methods turn a parsed request into an answer through them. What they use of the app
is :class:`ServeHost`, the self-type of every handler, so the handlers name (and mypy
checks) each attribute and method they need of their host rather than assume it.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Protocol

import numpy as np
import orjson

from skloop.core import ModelNotFoundError
from skloop.registry import Registry
from skloop.serve._errors import BadRequestError, NotFoundRouteError
from skloop.serve._http import JSON_TYPE, Answer, Request, Response, json_response, skloop_version
from skloop.serve._metrics import CONTENT_TYPE_LATEST, ServeMetrics
from skloop.serve._model import ServedModel
from skloop.serve._openapi import openapi_document
from skloop.serve._protocols import encodable, parse_invocations, parse_v2, v2_datatype, v2_outputs
from skloop.serve._routes import Router
from skloop.serve._validate import Prepared

__all__ = ["ServeHandlers", "ServeHost"]


class ServeHost(Protocol):
    """What the handlers use of the app that hosts them (:class:`~skloop.serve.ServeApp`)."""

    model: ServedModel
    model_name: str
    alias: str | None
    registry: Registry
    metrics: ServeMetrics
    max_body_bytes: int
    router: Router
    token: bytes | None
    token_required_for_predict: bool
    _openapi: tuple[ServedModel, bytes] | None
    """The OpenAPI document, encoded, and the model it describes (rebuilt after a swap)."""

    def _check_model(self, request: Request) -> ServedModel:
        """The served model, or a 404 when the request names another model or version."""
        ...

    async def _score(self, request: Request, model: ServedModel, rows: Prepared, answer: Answer) -> Response:
        """Score ``rows``, answer with ``answer(predictions, proba)``, log the rows."""
        ...

    async def reload(self, *, force: bool = False) -> ServedModel:
        """Look the served alias up again and swap to its version (or reload when ``force``)."""
        ...


class ServeHandlers:
    """Endpoint handlers (mixed into :class:`~skloop.serve.ServeApp`, a :class:`ServeHost`)."""

    _openapi: tuple[ServedModel, bytes] | None  # the handlers' cache, which the host starts empty

    async def _invocations(self: ServeHost, request: Request) -> Response:
        model = self.model
        content_type = request.headers.get(b"content-type", b"application/json").decode("latin-1")
        rows = parse_invocations(request.body, content_type, model.compiled)

        def answer(predictions: np.ndarray, proba: np.ndarray | None) -> Response:
            return json_response(200, {"predictions": encodable(predictions)})

        return await self._score(request, model, rows, answer)

    async def _infer(self: ServeHost, request: Request) -> Response:
        model = self._check_model(request)
        header_length = request.headers.get(b"inference-header-content-length")
        rows, doc = parse_v2(
            request.body, None if header_length is None else header_length.decode("latin-1"), model.compiled
        )
        requested = doc.get("outputs")
        # check the asked outputs before scoring: a refused request logs nothing
        v2_outputs(np.zeros(0), np.zeros((0, 1)) if model.is_classifier else None, "float64", requested)

        def answer(predictions: np.ndarray, proba: np.ndarray | None) -> Response:
            doc_out: dict[str, Any] = {
                "model_name": model.name,
                "model_version": str(model.version),
                "id": str(doc.get("id", request.correlation_id or request.request_id)),
                "outputs": v2_outputs(predictions, proba, model.signature.output.dtype, requested),
            }
            if rows.flags:
                doc_out["parameters"] = {"skloop_flags": orjson.dumps([f.to_dict() for f in rows.flags]).decode()}
            return json_response(200, doc_out)

        return await self._score(request, model, rows, answer)

    async def _ping(self: ServeHost, request: Request) -> Response:
        return 200, b"\n", b"text/plain"

    async def _version(self: ServeHost, request: Request) -> Response:
        return 200, skloop_version().encode(), b"text/plain"

    async def _live(self: ServeHost, request: Request) -> Response:
        return json_response(200, {"live": True})

    async def _ready(self: ServeHost, request: Request) -> Response:
        return json_response(200, {"ready": True})

    async def _server_metadata(self: ServeHost, request: Request) -> Response:
        return json_response(
            200,
            {"name": "skloop", "version": skloop_version(), "extensions": ["binary_tensor_data", "model_repository"]},
        )

    async def _model_metadata(self: ServeHost, request: Request) -> Response:
        model = self._check_model(request)
        outputs: list[dict[str, Any]] = [
            {"name": "predictions", "datatype": v2_datatype(model.signature.output.dtype), "shape": [-1]}
        ]
        if model.is_classifier and model.classes is not None:  # is_classifier implies classes; mypy cannot see it
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, len(model.classes)]})
        return json_response(
            200,
            {
                "name": model.name,
                "versions": [str(model.version)],
                "platform": model.runtime,
                "inputs": [
                    {"name": c.name, "datatype": v2_datatype(c.dtype), "shape": [-1, 1]} for c in model.signature.inputs
                ],
                "outputs": outputs,
                "parameters": {
                    "alias": self.alias,
                    "classes": None if model.classes is None else model.classes.tolist(),
                    "onnx_refusal": model.onnx_refusal,
                },
            },
        )

    async def _model_ready(self: ServeHost, request: Request) -> Response:
        model = self._check_model(request)
        return json_response(200, {"name": model.name, "version": str(model.version), "ready": True})

    async def _admin_load(self: ServeHost, request: Request) -> Response:
        name = request.params["name"]
        if name != self.model_name:
            raise NotFoundRouteError(f"unknown model {name!r}; this server serves {self.model_name!r}")
        try:
            model = await self.reload(force=True)
        except ModelNotFoundError as exc:
            raise NotFoundRouteError(str(exc)) from exc
        return json_response(200, {"name": model.name, "version": str(model.version), "runtime": model.runtime})

    async def _labels(self: ServeHost, request: Request) -> Response:
        """``POST /v2/models/{name}/labels``: ``[{"id", "label"}]`` or ``[{"request_id", "row", "label"}]``."""
        from skloop.serve._labels import ingest_label_records
        from skloop.serve._protocols import loads

        name = request.params["name"]
        if name != self.model_name:
            raise NotFoundRouteError(f"unknown model {name!r}; this server serves {self.model_name!r}")
        doc = loads(request.body)
        records = doc.get("labels") if isinstance(doc, dict) else doc
        if not isinstance(records, list) or not records:
            raise BadRequestError(
                'expected a non-empty JSON list of {"id", "label"} or {"request_id", "row", "label"} objects'
            )
        loop = asyncio.get_running_loop()
        output = self.model.signature.output  # the labels must be the served model's classes
        stored = await loop.run_in_executor(
            None, functools.partial(ingest_label_records, self.registry.store, name, records, output=output)
        )
        return json_response(200, {"model": name, "labels": stored})

    async def _metrics(self: ServeHost, request: Request) -> Response:
        return 200, self.metrics.exposition(), CONTENT_TYPE_LATEST.encode()

    async def _openapi_json(self: ServeHost, request: Request) -> Response:
        model = self.model
        cached = self._openapi
        if cached is None or cached[0] is not model:  # built once per served version
            doc = openapi_document(
                model,
                self.max_body_bytes,
                routes=self.router.routes,
                token=self.token is not None,
                token_for_predict=self.token_required_for_predict,
            )
            cached = self._openapi = (model, orjson.dumps(doc))
        return 200, cached[1], JSON_TYPE
