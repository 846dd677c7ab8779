"""The web UI's Starlette app: its route table, static files and error pages.

Every route is a GET except the two alias forms. Errors become pages, never
tracebacks: an unknown run, model or version is a 404 page naming it, a bad request
a 400 page, and anything else a 500 page that says where the log is (the traceback
goes to the log only).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from skloop.core import ModelNotFoundError, NotFoundError, ServerMetricsError, SkloopError, UsageError
from skloop.registry import default_actor
from skloop.store import Store
from skloop.ui._compare_pages import compare_page
from skloop.ui._context import UIContext, render
from skloop.ui._loop_pages import dataset_lineage_page, loop_page, version_lineage_page
from skloop.ui._model_pages import card_page, model_page, models_page, promote_action, rollback_action
from skloop.ui._monitor_pages import feature_page, monitoring_page, report_page
from skloop.ui._run_pages import artifact_download, run_page
from skloop.ui._runs_pages import home, runs_count, runs_page
from skloop.ui._server_metrics import metrics_url
from skloop.ui._serving_pages import serving_page

__all__ = ["STATIC_DIR", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
"""The vendored htmx and uPlot and the UI's own script and stylesheet (see VENDORED.md)."""

ROUTES = [
    Route("/", home, name="home"),
    Route("/projects/{project}/runs", runs_page, name="runs"),
    Route("/projects/{project}/runs/count", runs_count, name="runs-count"),
    Route("/compare", compare_page, name="compare"),
    Route("/runs/{run_id}", run_page, name="run"),
    Route("/runs/{run_id}/artifacts/{name:path}", artifact_download, name="artifact"),
    Route("/models", models_page, name="models"),
    Route("/models/{name}", model_page, name="model"),
    Route("/models/{name}/promote", promote_action, methods=["POST"], name="promote"),
    Route("/models/{name}/rollback", rollback_action, methods=["POST"], name="rollback"),
    Route("/models/{name}/loop", loop_page, name="loop"),
    Route("/models/{name}/serving", serving_page, name="serving"),
    Route("/models/{name}/monitoring", monitoring_page, name="monitoring"),
    Route("/models/{name}/monitoring/reports/{report_id}", report_page, name="monitor-report"),
    Route(
        "/models/{name}/monitoring/reports/{report_id}/features/{feature:path}", feature_page, name="monitor-feature"
    ),
    Route("/models/{name}/{version}/card", card_page, name="card"),
    Route("/models/{name}/{version}/lineage", version_lineage_page, name="lineage"),
    Route("/datasets/{fingerprint}/lineage", dataset_lineage_page, name="dataset-lineage"),
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]


def _page(request: Request, status: int, heading: str, message: str) -> Response:
    return render(request, "error.html", status_code=status, title=heading, heading=heading, message=message,
                  project=None)  # fmt: skip


async def _not_found(request: Request, exc: Exception) -> Response:
    return _page(request, 404, "Not found", str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _page(request, 404, "Not found", f"there is no page at {request.url.path}; start from / or /models")
    if exc.status_code == 405:
        return _page(request, 405, "Method not allowed", f"{request.method} is not allowed on {request.url.path}")
    return _page(request, exc.status_code, "Error", str(exc.detail))


async def _usage_error(request: Request, exc: Exception) -> Response:
    return _page(request, 400, "Bad request", str(exc))


async def _skloop_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return _page(request, 500, "The store could not answer", f"{type(exc).__name__}: {exc}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path)
    return _page(request, 500, "Internal error", "the UI failed on this page; the traceback is in the server's log")


def create_app(
    store: Store,
    *,
    token: str | None = None,
    project: str | None = None,
    secret: bytes | None = None,
    actor: str | None = None,
    server: str | None = None,
) -> Starlette:
    """The UI over ``store``.

    Parameters
    ----------
    store : Store
        Every page reads it; the caller opens and closes it.
    token : str, optional
        ``SKLOOP_TOKEN``: when given, promote and rollback require it.
    project : str, optional
        The project ``/`` opens (the spec's ``name``).
    secret : bytes, optional
        Signs CSRF tokens; random per app by default (tokens then last as long as the process).
    actor : str, optional
        Who alias moves are recorded as (with `` via skloop ui``); default ``user@host``.
    server : str, optional
        A model server's URL (``http://127.0.0.1:8080``): the serving pages read its
        ``/metrics`` (latency percentiles, errors, the version it serves).

    Raises
    ------
    UsageError
        When ``server`` is not an ``http(s)://`` URL.

    Returns
    -------
    starlette.applications.Starlette
        An ASGI app (run it with uvicorn; test it with Starlette's ``TestClient``).
    """
    if server:
        try:
            metrics_url(server)
        except ServerMetricsError as exc:
            raise UsageError(f"--server: {exc}") from None
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            HTTPException: _http_error,
            NotFoundError: _not_found,
            ModelNotFoundError: _not_found,
            UsageError: _usage_error,
            SkloopError: _skloop_error,
            Exception: _unexpected,
        },
    )
    app.state.ui = UIContext(
        store=store, token=token or None, secret=secret or secrets.token_bytes(32), project=project,
        actor=actor or default_actor(), server=server or None,
    )  # fmt: skip
    return app
