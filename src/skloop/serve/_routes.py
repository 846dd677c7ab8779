"""The server's one route table, and the (Starlette) router built from it once per app.

Every route the model server answers is one :class:`Route` of :data:`ROUTES`: its path
template, its methods (each naming the :class:`~skloop.serve.ServeApp` handler) and its
auth class. Dispatch, the 404 and 405 answers (with ``Allow``), which requests need the
bearer token, and the paths of the OpenAPI document all read this table, so a route
added here is routed, protected and documented at once, and the tests that walk the
table cover it.

Auth classes:

* ``admin``: needs ``Authorization: Bearer <token>`` whenever the server has a token
  (every write route other than scoring: reload, labels);
* ``predict``: scoring; needs the token only with ``token_required_for_predict``;
* ``public``: health, metadata, metrics, the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from starlette.routing import Match
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router as StarletteRouter

from skloop.serve._http import Handler
from skloop.serve._types import Receive, Scope, Send

__all__ = ["ADMIN", "PREDICT", "PUBLIC", "ROUTES", "Auth", "BoundRoute", "Dispatch", "Found", "Route", "Router"]

Auth = Literal["admin", "predict", "public"]
ADMIN: Auth = "admin"
PREDICT: Auth = "predict"
PUBLIC: Auth = "public"


@dataclass(frozen=True)
class Route:
    """One route: ``template`` (``{param}`` segments), ``methods`` (method -> handler name), ``auth``."""

    template: str
    methods: Mapping[str, str]
    auth: Auth
    summary: str

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/")) if self.template != "/" else ()

    @property
    def params(self) -> tuple[str, ...]:
        """The names of the template's ``{param}`` segments, in order."""
        return tuple(s[1:-1] for s in self.segments if s.startswith("{"))

    def allowed(self) -> tuple[str, ...]:
        """The methods answered (``HEAD`` wherever ``GET`` is), for the ``Allow`` header."""
        methods = tuple(self.methods)
        return (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods


def _model_routes(prefix: str) -> tuple[Route, ...]:
    """The V2 routes of one model, under ``prefix`` (unversioned or ``/versions/{version}``)."""
    base = "/v2/models/{name}" + prefix
    return (
        Route(base, {"GET": "_model_metadata"}, PUBLIC, "KServe V2 model metadata"),
        Route(base + "/ready", {"GET": "_model_ready"}, PUBLIC, "KServe V2 model readiness"),
        Route(base + "/infer", {"POST": "_infer"}, PREDICT, "KServe V2 inference"),
    )


ROUTES: tuple[Route, ...] = (
    Route("/invocations", {"POST": "_invocations"}, PREDICT, "MLflow scoring protocol"),
    Route("/ping", {"GET": "_ping"}, PUBLIC, "MLflow liveness"),
    Route("/health", {"GET": "_ping"}, PUBLIC, "Liveness"),
    Route("/version", {"GET": "_version"}, PUBLIC, "skloop's version"),
    Route("/metrics", {"GET": "_metrics"}, PUBLIC, "Prometheus metrics"),
    Route("/openapi.json", {"GET": "_openapi_json"}, PUBLIC, "This document"),
    Route("/v2", {"GET": "_server_metadata"}, PUBLIC, "KServe V2 server metadata"),
    Route("/v2/health/live", {"GET": "_live"}, PUBLIC, "KServe V2 liveness"),
    Route("/v2/health/ready", {"GET": "_ready"}, PUBLIC, "KServe V2 readiness"),
    *_model_routes(""),
    *_model_routes("/versions/{version}"),
    Route("/v2/models/{name}/labels", {"POST": "_labels"}, ADMIN, "Store labels (true outcomes) of predictions"),
    Route("/v2/repository/models/{name}/load", {"POST": "_admin_load"}, ADMIN, "Reload the model from the registry"),
)
"""Every route of the server (see the module docstring)."""


@dataclass(frozen=True)
class BoundRoute:
    """A :class:`Route` with its handlers bound to one app, and its ``Allow`` value."""

    route: Route
    handlers: dict[str, Handler]
    allow: str = field(default="")

    def handler(self, method: str) -> Handler | None:
        handler = self.handlers.get(method)
        if handler is None and method == "HEAD":
            return self.handlers.get("GET")
        return handler


Found = tuple[BoundRoute, dict[str, str]]
"""A matched route and the values of its ``{param}`` segments."""

Dispatch = Callable[[Scope, Receive, Send, Found | None], Awaitable[None]]
"""``dispatch(scope, receive, send, found)``: the app's answer to a request, ``found`` its route or ``None``."""


class _Matched:
    """The ASGI endpoint of one Starlette route: hands the matched route to the app's dispatch."""

    __slots__ = ("bound", "router")

    def __init__(self, router: Router, bound: BoundRoute) -> None:
        self.router = router
        self.bound = bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router.dispatch(scope, receive, send, (self.bound, scope["path_params"]))


class Router:
    """Starlette's router, built once from a route table; the app answers every request itself.

    Starlette matches the path (``{param}`` segments, never empty); each route accepts
    every method, so that the app's own checks answer 405 with ``Allow`` and a JSON body
    like every other error, and a path that matches nothing goes to the app as
    ``found=None`` (its 404). A trailing slash is ignored (``/ping/`` is ``/ping``), as
    clients of both protocols expect, rather than redirected.

    Parameters
    ----------
    routes : sequence of Route
    bind : callable
        ``bind(handler_name) -> Handler``: the app's handler of that name.
    dispatch : callable, optional
        ``dispatch(scope, receive, send, found)``, the app's request path; needed to
        serve (:attr:`asgi`), not to :meth:`match`.
    """

    def __init__(
        self, routes: tuple[Route, ...], bind: Callable[[str], Handler], dispatch: Dispatch | None = None
    ) -> None:
        self.routes = routes
        self._dispatch = dispatch
        self.bound: tuple[BoundRoute, ...] = tuple(
            BoundRoute(route, {m: bind(name) for m, name in route.methods.items()}, allow=", ".join(route.allowed()))
            for route in routes
        )
        """Every route with its handlers bound, in the table's order."""
        templates = [b.route.template for b in self.bound]
        if len(set(templates)) != len(templates):
            raise ValueError(f"a template appears twice in the route table: {templates}")
        # kept typed (the router's own list is of BaseRoute) for match()
        self._matchers = tuple(StarletteRoute(b.route.template, _Matched(self, b)) for b in self.bound)
        self.asgi = StarletteRouter(
            routes=list(self._matchers),
            redirect_slashes=False,
            default=self._unmatched,
        )
        """The Starlette router: the ASGI app of every HTTP request."""

    async def dispatch(self, scope: Scope, receive: Receive, send: Send, found: Found | None) -> None:
        if self._dispatch is None:
            raise RuntimeError("this Router was built without a dispatch: it can match paths, not serve them")
        await self._dispatch(scope, receive, send, found)

    async def _unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.dispatch(scope, receive, send, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one HTTP request (a trailing slash ignored) through Starlette to the app."""
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.asgi(scope, receive, send)

    def match(self, path: str) -> Found | None:
        """The route of ``path`` and its parameters, or ``None``: what a request to ``path`` dispatches to."""
        scope: Scope = {"type": "http", "path": path.rstrip("/") or "/", "root_path": "", "method": "GET"}
        for bound, matcher in zip(self.bound, self._matchers, strict=True):
            match, child = matcher.matches(scope)
            if match is Match.FULL:
                return bound, dict(child["path_params"])
        return None
