"""Prometheus metrics of one app, in a registry of its own (several apps may share a process).

Behind one port with several worker processes (``skloop serve --workers N``) a scrape
reaches one worker, chosen by the kernel: a worker's own counters would jump between
scrapes. There, :class:`ServeMetrics` runs in prometheus_client's multiprocess mode:
every worker writes its values to memory-mapped files in one folder
(``PROMETHEUS_MULTIPROC_DIR``, set for the workers by their supervisor) and any worker's
``/metrics`` reads them all, so every scrape gives the pool's totals: counters and
histograms summed over the workers (those that died included, so totals never go back),
``skloop_model_info`` per live worker (a ``pid`` label).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from skloop.core import UsageError
from skloop.serve._report_metrics import ReportGauges

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)


class ServeMetrics:
    """Requests by route and code, latency, rows, validation flags, batch sizes, model version,
    and the figures of the served version's latest monitor report (:class:`ReportGauges`).

    Label values are bounded: routes are templates (``/v2/models/{name}/infer``), flags
    are counted per signature column and kind of problem.

    Parameters
    ----------
    multiprocess_dir : path-like, optional
        The folder of prometheus_client's multiprocess mode, shared by the workers of a
        pool: the exposition then covers every worker. The process must have been
        started with ``PROMETHEUS_MULTIPROC_DIR`` naming it (prometheus_client reads it
        when it is imported).

    Raises
    ------
    UsageError
        ``multiprocess_dir`` without prometheus_client in multiprocess mode.
    """

    def __init__(self, multiprocess_dir: str | os.PathLike[str] | None = None) -> None:
        self.multiprocess_dir = None if multiprocess_dir is None else os.fspath(multiprocess_dir)
        self._exposed: CollectorRegistry | None = None
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess, values

            if values.ValueClass.__name__ != "MmapedValue" or (
                os.path.realpath(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""))
                != os.path.realpath(self.multiprocess_dir)
            ):
                raise UsageError(
                    f"metrics shared by workers need PROMETHEUS_MULTIPROC_DIR={self.multiprocess_dir} in the "
                    "environment before prometheus_client is imported (the worker supervisor sets it)"
                )
            self._exposed = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._exposed, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
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
            "The model version being served (value 1; with workers, one per live worker)",
            ["name", "version", "runtime"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.swaps = Counter("skloop_model_swaps", "Hot swaps to a new model version", registry=self.registry)
        # read at scrape time, in this process: with workers, each answers the same report
        self.reports = ReportGauges()
        (self._exposed or self.registry).register(self.reports)
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
            # 0 first: in multiprocess mode the value stays in the worker's file after remove()
            self.model.labels(*self._served).set(0)
            self.model.remove(*self._served)
        self.model.labels(*labels).set(1)
        self._served = labels

    def exposition(self) -> bytes:
        """The text exposition format (with workers: of every worker)."""
        return generate_latest(self._exposed or self.registry)
