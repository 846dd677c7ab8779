"""Prometheus metrics of one app, in a registry of its own (several apps may share a process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)


class ServeMetrics:
    """Requests by route and code, latency, rows, validation flags, batch sizes, model version.

    Label values are bounded: routes are templates (``/v2/models/{name}/infer``), flags
    are counted per signature column and kind of problem.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "skloop_requests",
            "HTTP requests by route template and status code",
            ["route", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "skloop_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("skloop_predicted_rows", "Rows scored and logged", registry=self.registry)
        self.flags = Counter(
            "skloop_validation_flags",
            "Validation flags by column and problem",
            ["column", "problem"],
            registry=self.registry,
        )
        self.rejected = Counter("skloop_rejected_requests", "Requests refused by validation", registry=self.registry)
        self.batch_rows = Histogram(
            "skloop_batch_rows",
            "Rows per inference call (micro-batches)",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.model = Gauge(
            "skloop_model_info",
            "The model version being served (value 1)",
            ["name", "version", "runtime"],
            registry=self.registry,
        )
        self.swaps = Counter("skloop_model_swaps", "Hot swaps to a new model version", registry=self.registry)
        self._children: dict[tuple[str, int], Any] = {}
        self._latency_children: dict[str, Any] = {}
        self._served: tuple[str, str, str] | None = None

    def observe(self, route: str, code: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (route, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(route, str(code))
        child.inc()
        hist = self._latency_children.get(route)
        if hist is None:
            hist = self._latency_children[route] = self.latency.labels(route)
        hist.observe(seconds)

    def serving(self, name: str, version: int, runtime: str) -> None:
        """Set the model info gauge to the version now served."""
        labels = (name, str(version), runtime)
        if self._served is not None and self._served != labels:
            self.model.remove(*self._served)
        self.model.labels(*labels).set(1)
        self._served = labels

    def exposition(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
