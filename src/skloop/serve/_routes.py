"""The server's one route table, and the router built from it once per app.

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from skloop.serve._http import Handler

__all__ = ["ADMIN", "PREDICT", "PUBLIC", "ROUTES", "Auth", "BoundRoute", "Route", "Router"]

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


_Shape = tuple[tuple[int, ...], tuple[int, ...], dict[tuple[str, ...], BoundRoute]]


class Router:
    """Find the route of a path with dict lookups; built once from a route table.

    Parameters
    ----------
    routes : sequence of Route
    bind : callable
        ``bind(handler_name) -> Handler``: the app's handler of that name.
    """

    def __init__(self, routes: tuple[Route, ...], bind: Callable[[str], Handler]) -> None:
        self.routes = routes
        bound_routes: list[BoundRoute] = []
        self._exact: dict[str, BoundRoute] = {}
        # per segment count: (param positions, literal positions, {literals: route})
        self._templated: dict[int, list[_Shape]] = {}
        for route in routes:
            bound = BoundRoute(
                route, {m: bind(name) for m, name in route.methods.items()}, allow=", ".join(route.allowed())
            )
            bound_routes.append(bound)
            segments = route.segments
            if not route.params:
                self._exact["/" + "/".join(segments)] = bound
                continue
            holes = tuple(i for i, s in enumerate(segments) if s.startswith("{"))
            fixed = tuple(i for i in range(len(segments)) if i not in holes)
            groups = self._templated.setdefault(len(segments), [])
            table = next((t for h, _, t in groups if h == holes), None)
            if table is None:
                table = {}
                groups.append((holes, fixed, table))
            key = tuple(segments[i] for i in fixed)
            if key in table:
                raise ValueError(f"two routes share the template shape of {route.template!r}")
            table[key] = bound
        self.bound: tuple[BoundRoute, ...] = tuple(bound_routes)
        """Every route with its handlers bound, in the table's order (for a router put in front)."""

    def match(self, path: str) -> tuple[BoundRoute, dict[str, str]] | None:
        """The route of ``path`` and its parameters, or ``None``."""
        exact = self._exact.get(path.rstrip("/") or "/")
        if exact is not None:
            return exact, {}
        parts = path.strip("/").split("/")
        for holes, fixed, table in self._templated.get(len(parts), ()):
            bound = table.get(tuple(parts[i] for i in fixed))
            if bound is not None and all(parts[i] for i in holes):
                return bound, dict(zip(bound.route.params, (parts[i] for i in holes), strict=True))
        return None
