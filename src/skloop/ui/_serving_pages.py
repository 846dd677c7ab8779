"""A model's serving page: its traffic from the prediction log, and a live server's ``/metrics``.

The log (``store.predictions``, aggregated in SQL per time bucket: see
:mod:`skloop.store._serving_stats`) says how many requests and rows were scored over
time, by which version (and where it changed: a hot swap or a rollback), and which
rows raised validation flags. Latency and errors are not in the log: they come from
the server's ``/metrics`` when the UI knows its URL (``skloop ui --server URL``, or the
page's ``?server=`` field), read in a worker thread with a short timeout; a server
that cannot be read is said so on the page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from skloop.core import ServerMetricsError, UsageError, utcnow
from skloop.store import ServingStats
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._model_pages import model_url
from skloop.ui._runs_pages import when
from skloop.ui._server_metrics import QUANTILES, ServerMetrics, fetch_metrics

__all__ = ["WINDOWS", "chart_data", "serving_page"]

WINDOWS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The windows the page offers (``?window=``), back from now; ``all`` is the whole log."""
MAX_SERVER_CHARS = 2048


def chart_data(stats: ServingStats) -> dict[str, Any]:
    """The traffic chart's columns: one point per bucket of the window, empty buckets as zero.

    ``t`` is each bucket's start (seconds since the epoch); ``requests`` and ``rows`` are
    per second over the bucket; ``flagged`` counts rows; ``version`` is the version that
    answered most rows of the bucket (``None`` when empty); ``swaps`` are the changes.
    """
    size = stats.bucket_seconds
    if stats.start is None or stats.end is None:
        return {"bucket": size, "t": [], "requests": [], "rows": [], "flagged": [], "version": [], "swaps": []}
    first = int(stats.start.timestamp()) // size * size
    last = int(stats.end.timestamp()) // size * size
    t = list(range(first, last + 1, size))
    index = {start: i for i, start in enumerate(t)}
    requests, rows, flagged = [0] * len(t), [0] * len(t), [0] * len(t)
    main: list[tuple[int, int | None] | None] = [None] * len(t)
    for b in stats.buckets:
        i = index[int(b.start.timestamp())]
        requests[i] += b.requests
        rows[i] += b.rows
        flagged[i] += b.flagged_rows
        if main[i] is None or b.rows > main[i][0]:  # type: ignore[index]
            main[i] = (b.rows, b.version)
    return {
        "bucket": size,
        "t": t,
        "requests": [n / size for n in requests],
        "rows": [n / size for n in rows],
        "flagged": flagged,
        "version": [None if m is None else m[1] for m in main],
        "swaps": [{"t": s.time.timestamp(), "from": s.from_version, "to": s.to_version} for s in stats.swaps],
    }


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts the page's ``?server=`` field may name besides the host of ``skloop ui --server``."""


def _window(request: Request) -> tuple[str, datetime | None]:
    key = request.query_params.get("window", "all")
    if key not in WINDOWS:
        raise UsageError(f"window must be one of {', '.join(WINDOWS)}, given {key!r}")
    span = WINDOWS[key]
    return key, None if span is None else utcnow() - span


def _server(request: Request) -> str | None:
    given = request.query_params.get("server")
    if given is not None and len(given) > MAX_SERVER_CHARS:
        raise UsageError(f"server is {len(given):,} characters long; a URL has at most {MAX_SERVER_CHARS:,}")
    configured = context_of(request).server
    if given is None or not given.strip():
        return configured or None
    server = given.strip()
    host = urlsplit(server).hostname
    allowed = set(LOOPBACK_HOSTS) | ({urlsplit(configured).hostname} if configured else set())
    if host is not None and host not in allowed:  # no host: fetch_metrics names the scheme it needs
        # the UI is read-only for anyone who can open it: it fetches only hosts its operator chose
        raise UsageError(
            f"server: the page's field may name {' or '.join(sorted(h for h in allowed if h))}, given host {host!r}; "
            "to watch another host start the UI with skloop ui --server URL"
        )
    return server


def seconds(value: float | None) -> str:
    """A latency for people: ``4.2 ms``, ``1.35 s``, ``–``."""
    if value is None:
        return "–"
    return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"


async def serving_page(request: Request) -> Response:
    """``/models/{name}/serving``: requests, rows, flags and versions over time; the server's latency."""
    ctx = context_of(request)
    name = request.path_params["name"]
    versions = q.list_versions(ctx.store, name)  # ModelNotFoundError (404) for an unknown model
    window, start = _window(request)
    stats = q.serving_stats(ctx.store, name, start=start)
    server = _server(request)
    metrics: ServerMetrics | None = None
    server_error = None
    if server is not None:
        try:
            metrics = await anyio.to_thread.run_sync(fetch_metrics, server)
        except ServerMetricsError as exc:
            server_error = str(exc)
    return render(
        request, "serving.html", title=f"Serving of {name}", name=name, stats=stats, window=window,
        windows=list(WINDOWS), chart=chart_data(stats), server=server, metrics=metrics, server_error=server_error,
        quantiles=QUANTILES, seconds=seconds, when=when, model_url=model_url, project=ctx.project,
        registered={v.version for v in versions},
    )  # fmt: skip
