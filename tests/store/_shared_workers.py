"""Code run in other processes by the shared-PostgreSQL tests.

Every worker counts what the store *acknowledged* (a call that returned) and writes it
to a JSON file as it goes, so that a test can compare it with the database: a tracker
its runs, metric values, params, versions and alias moves; an ingestor the prediction
ids its log accepted. Each also reports the retries its process made
(:func:`skloop.store.retry_counts`) and the first error it met, if any.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL = "shared"
ALIAS = "champion"


def _report(out: str, data: dict[str, Any]) -> None:
    from skloop.store import retry_counts

    tmp = f"{out}.tmp"
    Path(tmp).write_text(json.dumps({**data, "retries": retry_counts()}))
    os.replace(tmp, out)


def _guarded(out: str, data: dict[str, Any], body: Callable[[], None]) -> None:
    try:
        body()
    except BaseException as exc:
        data["error"] = "".join(traceback.format_exception(exc))[-4000:]
        raise
    finally:
        data["done"] = True
        _report(out, data)


def _more(done: int, wanted: int, until: str) -> bool:
    """At least ``wanted``, then on until the file ``until`` (if named) exists."""
    return done < wanted or (bool(until) and not os.path.exists(until))


def track(
    url: str, root: str, worker: int, runs: int, metrics: int, out: str, start_at: float = 0.0, until: str = ""
) -> None:
    """Tracking runs: params, buffered metrics, a batch, a registered version and an alias move per run."""
    from skloop.store import Store

    data: dict[str, Any] = {"worker": worker, "runs": {}, "versions": [], "moves": 0, "done": False}

    def body() -> None:
        store = Store(url, root, buffer_size=20)  # no schema check: may run while the schema is upgraded
        try:
            while time.time() < start_at:
                time.sleep(0.01)
            r = 0
            while _more(r, runs, until):
                run = store.runs.create_run("shared", name=f"w{worker}-r{r}")
                acked = data["runs"][run.id] = {"metrics": 0, "params": 0}
                store.runs.log_params(run.id, {"worker": worker, "run": r})
                acked["params"] = 2
                for step in range(metrics):
                    store.runs.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
                store.flush()  # buffered metrics are acknowledged once written
                acked["metrics"] += metrics
                store.runs.log_batch(run.id, metrics=[("acc", 0.5, 0), ("auc", 0.7, 0)], tags={"w": str(worker)})
                acked["metrics"] += 2
                version = store.models.create_model_version(MODEL, run_id=run.id, artifact_sha256="ab" * 32)
                data["versions"].append(version.version)
                store.models.set_alias(MODEL, ALIAS, version.version, actor=f"worker-{worker}", reason=f"run {r}")
                data["moves"] += 1
                store.runs.finish_run(run.id)
                acked["finished"] = True
                _report(out, data)
                r += 1
        finally:
            store.close()

    _guarded(out, data, body)


def ingest(
    url: str,
    root: str,
    log_dir: str,
    worker: int,
    requests: int,
    out: str,
    start_at: float = 0.0,
    until: str = "",
    pace: float = 0.0,
) -> None:
    """Append predictions to a log of its own while an :class:`~skloop.serve.Ingestor` moves them into the store."""
    from skloop.serve import Ingestor, PredictionLog
    from skloop.store import Store

    data: dict[str, Any] = {"worker": worker, "acked": 0, "ingested": 0, "done": False}

    def body() -> None:
        store = Store(url, root)
        # no fsync: what is tested is the way into the database (the log's own durability
        # under kill -9 is tests/serve/test_durability.py's), and a restarting server's
        # checkpoint would otherwise hold each append's fsync for seconds
        log = PredictionLog(log_dir, fsync=False).start()
        ingestor = Ingestor(log_dir, store, interval=0.02).start()
        try:
            while time.time() < start_at:
                time.sleep(0.01)
            i = 0
            while _more(i, requests, until):
                rows = [
                    {"request_id": f"i{worker}-{i}", "row": r, "time": "2026-12-01T12:00:00+00:00", "model": MODEL,
                     "version": 1, "inputs": {"x": i}, "outputs": {"prediction": r}}
                    for r in range(2)
                ]  # fmt: skip
                log.append_sync(rows)
                data["acked"] = i + 1  # durable in the log: the ingestor must store it
                if i % 50 == 0:
                    _report(out, data)
                i += 1
                if pace:
                    time.sleep(pace)  # a steady request rate rather than a flood
        finally:
            log.close()
            ingestor.close(final=True)  # one last pass, in this thread
            data["ingested"] = ingestor.ingested
            if ingestor.last_error is not None:
                data["error"] = f"ingestion: {ingestor.last_error}"
            store.close()

    _guarded(out, data, body)


def read(url: str, root: str, worker: int, seconds: float, out: str) -> None:
    """Read runs and metric histories in a loop for ``seconds`` (while the schema is upgraded)."""
    from skloop.store import Store

    data: dict[str, Any] = {"worker": worker, "reads": 0, "done": False}

    def body() -> None:
        store = Store(url, root)
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for run in store.runs.search_runs("shared", limit=5):
                    store.runs.get_metric_history(run.id, "loss")
                data["reads"] += 1
        finally:
            store.close()

    _guarded(out, data, body)
