"""A model server's ``/metrics``, read for the serving page: requests, latency percentiles, errors.

The text is parsed by ``prometheus_client.parser`` (the exposition format has escapes,
comments and suffixes best left to the library), then reduced to what the page shows
(see :mod:`skloop.serve._metrics` for what the server exports). Percentiles are computed
from the latency histogram's buckets as PromQL's ``histogram_quantile`` does: linear
interpolation inside the bucket where the rank falls.

A server that cannot be reached, answers with an error, or sends something that is not
the exposition format raises :class:`ServerMetricsError`, whose message the page shows.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from prometheus_client.parser import text_string_to_metric_families

from skloop.core import ServerMetricsError

__all__ = [
    "QUANTILES",
    "RouteStats",
    "ServerMetrics",
    "ServerMetricsError",
    "fetch_metrics",
    "histogram_quantile",
    "metrics_url",
    "parse_metrics",
]

QUANTILES = (0.5, 0.9, 0.99)
"""The latency percentiles the page shows."""
TIMEOUT_SECONDS = 3.0
MAX_BYTES = 8 * 1024 * 1024
"""A ``/metrics`` answer larger than this is refused (the server's is a few kilobytes)."""


Buckets = Sequence[tuple[float, float]]
"""A histogram's cumulative buckets: ``(upper bound, count)``, the last bound ``+Inf``."""


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """The ``q``-quantile of a histogram, interpolated as PromQL's ``histogram_quantile``.

    Parameters
    ----------
    q : float
        In ``[0, 1]``.
    buckets : sequence of (float, float)
        Cumulative ``(le, count)`` pairs, in any order; one must be ``+Inf``.

    Returns
    -------
    float or None
        ``None`` when the histogram is empty. When the rank falls in the ``+Inf``
        bucket, the largest finite bound (as PromQL); in the first bucket, the
        interpolation starts at ``0`` (unless that bucket's bound is negative).

    Examples
    --------
    Ten observations: 4 up to 0.1 s, 4 more up to 0.2 s, 2 above 0.5 s.

    >>> b = [(0.1, 4.0), (0.2, 8.0), (0.5, 8.0), (math.inf, 10.0)]
    >>> histogram_quantile(0.5, b)  # rank 5: one of 4 into (0.1, 0.2]
    0.125
    >>> histogram_quantile(0.99, b)  # in +Inf: the largest finite bound
    0.5
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile lies in [0, 1], given {q!r}")
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        raise ValueError("a histogram needs a +Inf bucket")
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for i, (upper, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(upper):
                return ordered[-2][0] if len(ordered) > 1 else None
            if i == 0 and upper <= 0:
                return upper
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return ordered[-2][0] if len(ordered) > 1 else None  # counts not monotonic: as PromQL, the top


@dataclass(frozen=True)
class RouteStats:
    """One route of the server: its requests by status code and its latency.

    Attributes
    ----------
    route : str
        The route template (``/v2/models/{name}/infer``), or ``all predictions``.
    codes : dict
        Requests by HTTP status code.
    latency_count, latency_sum : float
        Observations and their total, in seconds.
    percentiles : dict
        ``{0.5: seconds, 0.9: ..., 0.99: ...}`` (``None`` without observations).
    """

    route: str
    codes: dict[str, float]
    latency_count: float
    latency_sum: float
    percentiles: dict[float, float | None]

    @property
    def requests(self) -> int:
        """Every request, whatever its answer."""
        return int(sum(self.codes.values()))

    @property
    def errors(self) -> int:
        """Requests answered 4xx or 5xx."""
        return int(sum(n for code, n in self.codes.items() if code[:1] in ("4", "5")))

    @property
    def server_errors(self) -> int:
        """Requests answered 5xx."""
        return int(sum(n for code, n in self.codes.items() if code[:1] == "5"))

    @property
    def mean(self) -> float | None:
        """The mean latency in seconds."""
        return self.latency_sum / self.latency_count if self.latency_count else None


@dataclass(frozen=True)
class ServerMetrics:
    """What the serving page shows of a server's ``/metrics``."""

    url: str
    routes: tuple[RouteStats, ...]
    predictions: RouteStats
    model: str | None = None
    version: str | None = None
    runtime: str | None = None
    predicted_rows: int = 0
    rejected: int = 0
    swaps: int = 0
    batch_rows: dict[float, float | None] = field(default_factory=dict)
    flags: tuple[tuple[str, str, int], ...] = ()


def is_prediction_route(route: str) -> bool:
    """``/invocations`` and the V2 ``.../infer`` routes."""
    return route == "/invocations" or route.endswith("/infer")


def metrics_url(server: str) -> str:
    """The ``/metrics`` URL of a server given as ``http://host:port`` (or its ``/metrics`` URL).

    Raises
    ------
    ServerMetricsError
        When ``server`` is not an ``http`` or ``https`` URL with a host.

    Examples
    --------
    >>> metrics_url("http://127.0.0.1:8080"), metrics_url("http://h:1/metrics"), metrics_url("https://h/api/")
    ('http://127.0.0.1:8080/metrics', 'http://h:1/metrics', 'https://h/api/metrics')
    """
    parts = urlsplit(server.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerMetricsError(
            f"server must be an http:// or https:// URL such as http://127.0.0.1:8080, given {server!r}"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/metrics"):
        path += "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _merge(buckets: Iterable[Buckets]) -> list[tuple[float, float]]:
    total: dict[float, float] = {}
    for series in buckets:
        for le, n in series:
            total[le] = total.get(le, 0.0) + n
    return sorted(total.items())


def _route_stats(route: str, codes: dict[str, float], buckets: Buckets, count: float, total: float) -> RouteStats:
    has_inf = bool(buckets) and any(math.isinf(le) for le, _ in buckets)
    pct = {q: histogram_quantile(q, buckets) if has_inf else None for q in QUANTILES}
    return RouteStats(route, codes, count, total, pct)


def parse_metrics(text: str, url: str = "") -> ServerMetrics:
    """Reduce a server's exposition text to :class:`ServerMetrics`.

    Raises
    ------
    ServerMetricsError
        When the text is not the Prometheus exposition format, or has no
        ``skloop_requests`` counter (not a skloop server).
    """
    codes: dict[str, dict[str, float]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    batch: list[tuple[float, float]] = []
    out: dict[str, object] = {}
    flags: list[tuple[str, str, int]] = []
    seen = False
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as exc:
        raise ServerMetricsError(f"{url or 'the server'} did not answer in the Prometheus text format: {exc}") from exc
    for family in families:
        for s in family.samples:
            labels, value = s.labels, float(s.value)
            if s.name == "skloop_requests_total":
                seen = True
                codes.setdefault(labels.get("route", "?"), {})[labels.get("code", "?")] = value
            elif s.name == "skloop_request_seconds_bucket":
                buckets.setdefault(labels.get("route", "?"), []).append((float(labels["le"]), value))
            elif s.name == "skloop_request_seconds_count":
                counts[labels.get("route", "?")] = value
            elif s.name == "skloop_request_seconds_sum":
                sums[labels.get("route", "?")] = value
            elif s.name == "skloop_batch_rows_bucket":
                batch.append((float(labels["le"]), value))
            elif s.name == "skloop_model_info" and value == 1:
                out.update(model=labels.get("name"), version=labels.get("version"), runtime=labels.get("runtime"))
            elif s.name == "skloop_predicted_rows_total":
                out["predicted_rows"] = int(value)
            elif s.name == "skloop_rejected_requests_total":
                out["rejected"] = int(value)
            elif s.name == "skloop_model_swaps_total":
                out["swaps"] = int(value)
            elif s.name == "skloop_validation_flags_total":
                flags.append((labels.get("column", "?"), labels.get("problem", "?"), int(value)))
    if not seen and not buckets:
        raise ServerMetricsError(
            f"{url or 'the server'} answered, but without skloop_requests_total: is it a skloop serve server?"
        )
    names = sorted(set(codes) | set(buckets))
    routes = tuple(
        _route_stats(r, codes.get(r, {}), buckets.get(r, []), counts.get(r, 0.0), sums.get(r, 0.0)) for r in names
    )
    served = [r for r in names if is_prediction_route(r)]
    all_codes: dict[str, float] = {}
    for r in served:
        for code, n in codes.get(r, {}).items():
            all_codes[code] = all_codes.get(code, 0.0) + n
    predictions = _route_stats(
        "all predictions", all_codes, _merge(buckets.get(r, []) for r in served),
        sum(counts.get(r, 0.0) for r in served), sum(sums.get(r, 0.0) for r in served),
    )  # fmt: skip
    has_batches = any(math.isinf(le) for le, _ in batch)
    return ServerMetrics(
        url=url, routes=routes, predictions=predictions,
        batch_rows={q: histogram_quantile(q, batch) if has_batches else None for q in (0.5, 0.99)},
        flags=tuple(sorted(flags, key=lambda f: (-f[2], f[0], f[1]))),
        **out,  # type: ignore[arg-type]
    )  # fmt: skip


def fetch_metrics(server: str, *, timeout: float = TIMEOUT_SECONDS) -> ServerMetrics:
    """GET the server's ``/metrics`` and parse it (blocking: call it from a worker thread).

    Raises
    ------
    ServerMetricsError
        Unreachable, an HTTP error, a body larger than :data:`MAX_BYTES`, or not the format.
    """
    url = metrics_url(server)
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: metrics_url checked it
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the answer's socket
        raise ServerMetricsError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerMetricsError(f"could not reach {url}: {reason}") from exc
    if len(body) > MAX_BYTES:
        raise ServerMetricsError(
            f"{url} answered more than {MAX_BYTES:,} bytes; that is not a skloop server's /metrics"
        )
    return parse_metrics(body.decode("utf-8", "replace"), url)
