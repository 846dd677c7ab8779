"""The model server: one ASGI app for both protocols, metrics and admin routes.

Routing is Starlette's (``_routes``: the one route table, matched by a Starlette
``Router``, the HTTP stack the UI uses too): it costs a few microseconds per request,
1-2.5% of the server's CPU per request (``benchmarks/bench_serving.py --routers``,
``docs/benchmarks.md``). Past the match the request path is the server's own, framework-free:
the body is read once, the answer is one orjson call (``_respond``: checks, body,
errors, headers, access log). It runs under uvicorn and Starlette's ``TestClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from skloop.core import Settings, StoreError, UsageError
from skloop.registry import MISSING_IMPUTED, Registry, Trust
from skloop.serve._batcher import DEFAULT_MAX_BATCH_ROWS, MicroBatcher
from skloop.serve._errors import BadRequestError, LogUnavailableError, NotFoundRouteError, UnauthorizedError
from skloop.serve._handlers import ServeHandlers
from skloop.serve._http import ORJSON_OPTS, Answer, Request, Response
from skloop.serve._logblock import log_block
from skloop.serve._metrics import ServeMetrics
from skloop.serve._model import ServedModel, load_served_model
from skloop.serve._respond import error_answer, log_access, run_route, send_answer
from skloop.serve._routes import ADMIN, ROUTES, BoundRoute, Found, Router
from skloop.serve._shadow import DEFAULT_SHADOW_TIMEOUT_SECONDS, Shadow
from skloop.serve._sink import LineSink, PredictionSink
from skloop.serve._types import Receive, Scope, Send
from skloop.serve._validate import Prepared
from skloop.store import block_records

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_POLL_SECONDS", "ServeApp", "create_app"]

DEFAULT_MAX_BODY_BYTES = 16 << 20
"""Largest request body accepted (413 above it)."""

DEFAULT_POLL_SECONDS = 1.0
"""How often the alias is looked up in the registry for a hot swap (and the monitor reports for ``/metrics``)."""

_MAX_REQUEST_ID = 128


class ServeApp(ServeHandlers):
    """The ASGI app :func:`create_app` returns; see there for the parameters.

    Attributes
    ----------
    model : ServedModel
        The version being served; replaced atomically by a hot swap.
    prediction_log : PredictionSink or None
        Where every scored row is appended before its answer is sent.
    metrics : ServeMetrics
    batcher : MicroBatcher
    worker : int or None
        The worker's number in a pool of worker processes (``X-Skloop-Worker`` in every
        answer); ``None`` when the app is not one of several workers.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        registry: Registry,
        model_name: str,
        alias: str | None,
        version: int | None,
        prediction_log: PredictionSink | None,
        max_body_bytes: int,
        token_required_for_predict: bool,
        poll_seconds: float | None,
        onnx: bool,
        trust: Trust,
        max_batch_rows: int,
        owns_store: bool,
        shadow_alias: str | None = None,
        shadow_timeout: float = DEFAULT_SHADOW_TIMEOUT_SECONDS,
        worker: int | None = None,
        metrics_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.model_name = model_name
        self.alias = alias
        self.pinned_version = version
        self.prediction_log = prediction_log
        self.max_body_bytes = max_body_bytes
        self.token = settings.token.encode() if settings.token else None
        self.token_required_for_predict = token_required_for_predict
        self.poll_seconds = poll_seconds
        self.onnx = onnx
        self.trust = trust
        self.owns_store = owns_store
        self.worker = worker
        self._worker_header = [] if worker is None else [(b"x-skloop-worker", str(worker).encode())]
        self.metrics = ServeMetrics(metrics_dir)
        self.batcher = MicroBatcher(max_rows=max_batch_rows, on_batch=self.metrics.batch_rows.observe)
        self._swap_lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self.model: ServedModel = self._load(self.target_ref())
        self.metrics.serving(self.model.name, self.model.version, self.model.runtime)
        self._refresh_reports()
        # shadow mode: a second alias scores every request into the log, never into an answer
        self.shadow: Shadow | None = None
        if shadow_alias:
            self.shadow = Shadow(
                registry, model_name, shadow_alias, loader=self._load, timeout=shadow_timeout, max_rows=max_batch_rows
            )
            self.shadow.load()
        self._openapi: tuple[ServedModel, bytes] | None = None
        # the one route table: dispatch, 404/405, the token check and the OpenAPI paths
        self.router = Router(ROUTES, lambda name: getattr(self, name), dispatch=self._http)

    @property
    def prediction_log(self) -> PredictionSink | None:
        """Where every scored row is appended before its answer is sent (``None``: nowhere)."""
        return self._prediction_log

    @prediction_log.setter
    def prediction_log(self, log: PredictionSink | None) -> None:
        self._prediction_log = log
        # whether the app may hand it lines it encoded itself: decided here, not per
        # request, since a runtime Protocol check costs ~10 us
        self._lines: LineSink | None = log if isinstance(log, LineSink) else None

    # -- model loading and hot swap ---------------------------------------------------
    def target_ref(self) -> str:
        """What the server follows: ``name@alias`` or ``name/version``."""
        if self.pinned_version is not None:
            return f"{self.model_name}/{self.pinned_version}"
        return f"{self.model_name}@{self.alias}"

    def _load(self, ref: str) -> ServedModel:
        return load_served_model(self.registry, ref, onnx=self.onnx, trust=self.trust)

    async def reload(self, *, force: bool = False) -> ServedModel:
        """Look the target up again and swap to it when it moved (or when ``force``).

        Loading (and the ONNX export) runs in a worker thread; the swap itself is one
        assignment, so a request in flight finishes with the model it started with.
        """
        async with self._swap_lock:
            ref = self.target_ref()
            if self.pinned_version is None and not force:
                held = await asyncio.to_thread(self.registry.aliases, self.model_name)
                target = held.get(self.alias or "")
                if target is None or target == self.model.version:
                    return self.model
                ref = f"{self.model_name}/{target}"
            new = await asyncio.to_thread(self._load, ref)
            if new.version != self.model.version or force:
                old = self.model
                self.model = new
                self.metrics.serving(new.name, new.version, new.runtime)
                self.metrics.swaps.inc()
                logger.info("now serving %s (%s), was %s", new.ref, new.runtime, old.ref)
            return self.model

    def _refresh_reports(self) -> None:
        """The report gauges of ``/metrics``: the newest stored report of the served version."""
        try:
            self.metrics.reports.refresh(self.registry.store, self.model.name, self.model.version)
        except Exception as exc:  # the gauges keep the last report; try again next time
            logger.warning("monitor report check of %s failed: %s", self.model.ref, exc)

    async def _poll(self) -> None:
        assert self.poll_seconds is not None
        while True:
            await asyncio.sleep(self.poll_seconds)
            if self.pinned_version is None:
                try:
                    await self.reload()
                except Exception as exc:  # keep serving the loaded version; try again next time
                    logger.warning("hot swap check of %s failed: %s", self.target_ref(), exc)
            if self.shadow is not None:
                try:
                    await self.shadow.refresh()
                except Exception as exc:  # keep the shadow loaded (or none); try again next time
                    logger.warning("shadow check of %s failed: %s", self.shadow.ref, exc)
            await asyncio.to_thread(self._refresh_reports)  # after a swap: the new version's report

    # -- ASGI -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.router(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.token is None:
                    admin = sorted({r.template for r in self.router.routes if r.auth == ADMIN})
                    logger.warning(
                        "no token is set (SKLOOP_TOKEN): the admin routes %s are open to anyone who can reach "
                        "this server; set SKLOOP_TOKEN to require 'Authorization: Bearer <token>'",
                        ", ".join(admin),
                    )
                if self.poll_seconds:  # the alias, the shadow and the monitor reports
                    self._poller = asyncio.get_running_loop().create_task(self._poll())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Stop polling the registry (and close the store if the app opened it)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self.owns_store:
            self.registry.store.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send, found: Found | None) -> None:
        """Answer one HTTP request; ``found`` is the route the router matched (``None``: no route)."""
        start = time.perf_counter()
        headers = dict(scope["headers"])
        # the server's id is the key of the logged predictions: unique even when clients
        # reuse their X-Request-ID, which is kept as a correlation id
        request_id = os.urandom(12).hex()
        rid = headers.get(b"x-request-id")
        correlation = None
        if rid and len(rid) <= _MAX_REQUEST_ID and rid.isascii() and rid.decode().isprintable():
            correlation = rid.decode()
        request = Request(scope["method"], scope["path"], headers, request_id, correlation)
        extra: list[tuple[bytes, bytes]] = []
        try:
            bound = self._route(request, found)
            answer = await run_route(
                bound,
                request,
                receive,
                check_token=self._check_token,
                token_required_for_predict=self.token_required_for_predict,
                max_body_bytes=self.max_body_bytes,
            )
        except Exception as exc:
            answer, extra = error_answer(exc, request)
        model = self.model
        ids = [
            (b"x-request-id", (correlation or request_id).encode()),
            (b"x-skloop-request-id", request_id.encode()),
            (b"x-skloop-model", model.ref.encode()),
            *self._worker_header,
        ]
        await send_answer(send, answer, [*ids, *extra])
        elapsed = time.perf_counter() - start
        self.metrics.observe(request.route, answer[0], elapsed)
        log_access(scope, request, answer[0], len(answer[1]), elapsed, model.ref)

    def _route(self, request: Request, found: Found | None) -> BoundRoute:
        if found is None:
            raise NotFoundRouteError(
                f"no route {request.path!r}; see /openapi.json "
                f"(V2: /v2/models/{self.model_name}/infer, MLflow: /invocations)"
            )
        bound, request.params = found
        request.route = bound.route.template
        return bound

    # -- helpers ------------------------------------------------------------------------
    def _check_token(self, request: Request) -> None:
        if self.token is None:
            return
        given = request.headers.get(b"authorization", b"")
        scheme, _, value = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self.token):
            raise UnauthorizedError(
                "this endpoint needs 'Authorization: Bearer <token>' with the server's token (SKLOOP_TOKEN)"
            )

    def _check_model(self, request: Request) -> ServedModel:
        model = self.model
        name = request.params.get("name")
        if name is not None and name != model.name:
            raise NotFoundRouteError(f"unknown model {name!r}; this server serves {model.name!r} ({model.ref})")
        version = request.params.get("version")
        if version is not None and version != str(model.version):
            raise NotFoundRouteError(
                f"model {model.name!r} version {version!r} is not served; this server serves version {model.version}"
            )
        return model

    async def _log(
        self,
        request: Request,
        model: ServedModel,
        rows: Prepared,
        predictions: np.ndarray,
        proba: np.ndarray | None,
        shadow: list[dict[str, Any]] | None = None,
    ) -> None:
        self.metrics.rows.inc(rows.n)
        for flag in rows.flags:
            column = flag.column if flag.column in model.compiled.names else "_other"
            self.metrics.flags.labels(column, _flag_kind(flag.problem)).inc()
        log, lines = self._prediction_log, self._lines
        if log is None:
            return
        block = log_block(
            request.request_id,
            request.correlation_id,
            datetime.now(UTC).isoformat(),
            model,
            rows,
            predictions,
            proba,
            shadow,
        )
        try:
            await self._append(log, lines, block)
        except StoreError as exc:  # disk full, I/O error: the log kept none of this request
            logger.error("request %s refused: %s", request.request_id, exc)
            raise LogUnavailableError(
                f"the prediction log cannot be written ({_cause(exc)}); nothing of this request was kept, "
                f"retry in {LogUnavailableError.retry_after} s (request id {request.request_id})"
            ) from exc

    @staticmethod
    async def _append(log: PredictionSink, lines: LineSink | None, block: dict[str, Any]) -> None:
        if lines is None:  # a sink of records: one a row
            await log.append(block_records(block))
            return
        # the log's own framing: the request's rows as one JSON line (a columnar block),
        # encoded by orjson in one call; readers of the log still get one record a row
        try:
            data = orjson.dumps(block, option=ORJSON_OPTS) + b"\n"
        except TypeError as exc:  # orjson.JSONEncodeError: e.g. a lone surrogate in a string
            raise BadRequestError(f"the request's rows cannot be logged as JSON: {exc}; send valid UTF-8 text") from exc
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        lines.append_bytes(data, done)
        await future

    async def _score(self, request: Request, model: ServedModel, rows: Prepared, answer: Answer) -> Response:
        """Score ``rows``, build the answer with ``answer(predictions, proba)``, then log the rows.

        The answer is built (and encoded) before anything is logged, so a request that
        fails while scoring or encoding gets its error and leaves no row in the log.
        """
        shadow = self.shadow
        task = shadow.start(model, rows) if shadow is not None and self.prediction_log is not None else None
        try:
            predictions, proba = await self.batcher.predict(model, rows)
            response = answer(predictions, proba)
        except BaseException:
            if task is not None:
                task.cancel()
            raise
        outputs = None if task is None or shadow is None else await shadow.collect(task, rows.n)
        await self._log(request, model, rows, predictions, proba, outputs)
        return response


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _cause(error: BaseException) -> str:
    cause = error.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(cause or error).__name__


def _flag_kind(problem: str) -> str:
    if MISSING_IMPUTED in problem:
        return "missing_imputed"
    if "category" in problem:
        return "unknown_category"
    if "range" in problem:
        return "out_of_range"
    if "dropped" in problem:
        return "extra_column"
    return "other"


def create_app(
    settings: Settings,
    *,
    model_name: str,
    alias: str | None = "champion",
    version: int | None = None,
    prediction_log: PredictionSink | None = None,
    registry: Registry | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    token_required_for_predict: bool = False,
    poll_seconds: float | None = DEFAULT_POLL_SECONDS,
    onnx: bool = True,
    trust: Trust | None = None,
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    shadow_alias: str | None = None,
    shadow_timeout: float = DEFAULT_SHADOW_TIMEOUT_SECONDS,
    worker: int | None = None,
    metrics_dir: str | os.PathLike[str] | None = None,
) -> ServeApp:
    """The ASGI app serving one registered model over KServe V2 and MLflow's protocol.

    The model is loaded now (and exported to ONNX when that passes its parity check);
    with an alias, a background task started with the app (ASGI lifespan) follows
    the alias and swaps to the version it points to.

    Parameters
    ----------
    settings : Settings
        The store to read the registry from and the ``token`` for admin routes.
    model_name : str
        The registered model; requests naming another model get a 404.
    alias : str or None, default="champion"
        The alias to serve and follow; ignored when ``version`` is given.
    version : int, optional
        Serve this version, pinned (no hot swap).
    prediction_log : PredictionSink, optional
        A started :class:`skloop.serve.PredictionLog` (or any
        :class:`~skloop.serve.PredictionSink`: an async ``append(records)``); every
        scored row is appended and the answer is sent only once the append returned
        (the row is durable).
    registry : Registry, optional
        Use this registry instead of opening the store of ``settings``.
    max_body_bytes : int
        Bodies above this get a 413.
    token_required_for_predict : bool
        Prediction routes need the bearer token too (``settings.token`` must be set).
    poll_seconds : float or None
        How often to look the alias (and the shadow alias) up, and the newest monitor
        report of the served version for ``/metrics``; ``None`` disables the poller.
    onnx : bool
        Try the ONNX Runtime path.
    trust : Trust, optional
        What the loader may load beyond skloop's own skops types (``--trust``,
        ``--trust-type``), for the served version, the versions the alias moves to and
        the shadow; ``settings.trust`` (``SKLOOP_TRUST``) adds pickle. Never taken
        from the model's own records.
    max_batch_rows : int
        Cap of rows per micro-batch.
    shadow_alias : str, optional
        Shadow mode: also score every request with ``model_name@shadow_alias`` (e.g.
        ``"challenger"``) and log its outputs under ``outputs["shadow"]`` of each
        prediction record; its answers are never served, and its failures never fail
        a request. An alias that holds no version means no shadow (followed like the
        served alias). Needs a ``prediction_log``: without one nothing is shadowed.
    shadow_timeout : float
        Seconds a response waits for the shadow after the served model answered
        (then the records log a timeout instead of the shadow's outputs).
    worker : int, optional
        The app's number in a pool of worker processes (:class:`~skloop.serve.WorkerPool`):
        answers carry it as ``X-Skloop-Worker``.
    metrics_dir : path-like, optional
        prometheus_client's multiprocess folder shared by the pool's workers: ``/metrics``
        then reports every worker (see :class:`~skloop.serve._metrics.ServeMetrics`).

    Returns
    -------
    ServeApp

    Raises
    ------
    ModelNotFoundError
        The model, alias or version is not in the registry.
    UsageError
        ``token_required_for_predict`` without a token in the settings.

    Examples
    --------
    >>> app = create_app(Settings.from_env("."), model_name="churn")  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8080)  # doctest: +SKIP
    """
    if token_required_for_predict and not settings.token:
        raise UsageError("token_required_for_predict needs a token: set SKLOOP_TOKEN (settings.token)")
    if version is None and not alias:
        raise UsageError("serve needs an alias or a version to serve")
    if shadow_alias is not None and version is None and shadow_alias == alias:
        raise UsageError(f"the shadow alias {shadow_alias!r} is the served alias; shadow another one (challenger)")
    owns = registry is None
    if registry is None:
        from skloop.store import Store

        registry = Registry(Store.open(settings))
    try:
        return ServeApp(
            settings,
            registry=registry,
            model_name=model_name,
            alias=None if version is not None else alias,
            version=version,
            prediction_log=prediction_log,
            max_body_bytes=max_body_bytes,
            token_required_for_predict=token_required_for_predict,
            poll_seconds=poll_seconds,
            onnx=onnx,
            trust=Trust.of(settings) | (trust or Trust()),
            max_batch_rows=max_batch_rows,
            owns_store=owns,
            shadow_alias=shadow_alias,
            shadow_timeout=shadow_timeout,
            worker=worker,
            metrics_dir=metrics_dir,
        )
    except BaseException:
        if owns:
            registry.store.close()
        raise
