"""``skloop serve --workers 2``: one port, two processes, one prediction log folder.

One server run checks, under a steady load of fresh connections: requests reach both
workers (``X-Skloop-Worker``); both hot-swap after ``skloop promote``; a worker killed
with ``kill -9`` mid-load is restarted and serves the new version; ``/metrics`` gives
the pool's totals whichever worker answers; SIGTERM stops the pool gracefully (exit 0,
the log drained into the store); and every acknowledged prediction is in the store
exactly once, with request ids unique across the workers.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import free_port, project_settings, register_churn, wait_ready
from typer.testing import CliRunner

from skloop.cli import app as cli
from skloop.core import UsageError
from skloop.serve import ingest_once, segments
from skloop.serve._metrics import ServeMetrics
from skloop.store import Store

CLIENTS = 4


class _Load:
    """Client threads POSTing two rows per request, a fresh connection each (the kernel picks the worker)."""

    def __init__(self, port: int, row: dict[str, Any]) -> None:
        self.port = port
        self.body = json.dumps({"dataframe_records": [row, row]}).encode()
        self.answers: list[tuple[str, str, str, str]] = []  # correlation id, request id, worker, model
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(CLIENTS)]

    def __enter__(self) -> _Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self, k: int) -> None:
        i = 0
        while not self.stop.is_set():
            rid = f"c{k}-{i}"
            i += 1
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                headers = {"Content-Type": "application/json", "X-Request-ID": rid}
                conn.request("POST", "/invocations", self.body, headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    h = response.getheader
                    self.answers.append((rid, h("X-Skloop-Request-Id"), h("X-Skloop-Worker"), h("X-Skloop-Model")))
            except (OSError, http.client.HTTPException):  # the killed worker's connections: not acknowledged
                time.sleep(0.02)
            finally:
                conn.close()

    def wait_for(self, what: str, predicate: Any, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        start = len(self.answers)
        while time.monotonic() < deadline:
            if predicate(self.answers[start:]):
                return
            time.sleep(0.05)
        seen = Counter((w, m) for _, _, w, m in self.answers[start:])
        pytest.fail(f"timed out waiting for {what}; answers since by (worker, model): {dict(seen)}")


def _served(answers: list[tuple[str, str, str, str]]) -> set[tuple[str, str]]:
    return {(worker, model) for _, _, worker, model in answers}


def _requests_total(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    found = re.search(r'^skloop_requests_total\{code="200",route="/invocations"\} (\S+)$', text, re.M)
    assert found, text[:2000]
    return float(found.group(1))


@pytest.mark.timeout(600)
def test_two_workers_spread_swap_survive_kill_9_and_store_each_prediction_once(
    srv_fresh_project: Path, srv_row: dict[str, Any]
) -> None:
    project = srv_fresh_project
    register_churn(project_settings(project), promote=False, seed=1)  # v2, promoted mid-load
    port = free_port()
    log_dir = project / "wal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    command = [sys.executable, "-m", "skloop.cli", "serve", "churn", "--workers", "2", "--port", str(port),
               "--spec", str(project), "--log-dir", str(log_dir), "--no-onnx", "--poll-seconds", "0.2"]  # fmt: skip
    stdout, stderr = project / "serve.out", project / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
    try:
        wait_ready(port, proc, stderr)
        deadline = time.monotonic() + 240  # both workers listen before the supervisor prints their pids
        while "prediction log:" not in stdout.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        pids = dict(re.findall(r"(\d): pid (\d+)", stdout.read_text()))
        assert set(pids) == {"0", "1"}, stdout.read_text()
        with _Load(port, srv_row) as load:
            load.wait_for("both workers to answer", lambda a: {"0", "1"} <= {w for w, _ in _served(a)})
            result = CliRunner().invoke(cli, ["promote", "churn", "2", "--spec", str(project), "--reason", "test"])
            assert result.exit_code == 0, result.output
            load.wait_for("both workers to serve v2", lambda a: {("0", "churn/2"), ("1", "churn/2")} <= _served(a))
            os.kill(int(pids["1"]), signal.SIGKILL)  # mid-load: its requests in flight are never acknowledged
            killed_at = len(load.answers)
            load.wait_for("worker 1 to serve again", lambda a: ("1", "churn/2") in _served(a))
        answers = load.answers
        assert "died (signal 9)" in stderr.read_text()
        # any worker answers /metrics with the pool's totals: the dead worker's counts included
        total = _requests_total(port)
        assert len(answers) - CLIENTS <= total <= len(answers), (total, len(answers))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, stderr.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed_at < len(answers)
    by_worker = Counter(w for _, _, w, _ in answers)
    assert by_worker["0"] > 0 and by_worker["1"] > 0, by_worker
    request_ids = [r for _, r, _, _ in answers]
    assert len(set(request_ids)) == len(request_ids)  # unique across workers: the key of the logged rows
    assert segments(log_dir) == []  # the last pass of the graceful stop stored and removed every segment
    with Store.open(project_settings(project)) as store:
        assert ingest_once(log_dir, store) == 0
        stored = [(p.correlation_id, p.request_id) for p in store.predictions.iter_predictions("churn")]
    rows = Counter(stored)
    lost = [(c, r) for c, r, _, _ in answers if rows[(c, r)] != 2]
    assert not lost, f"{len(lost)} of {len(answers)} acknowledged requests not stored as 2 rows, e.g. {lost[:3]}"
    per_correlation = Counter(c for c, _ in stored)
    assert max(per_correlation.values()) == 2  # nothing stored twice (an unacknowledged request at most once)


def test_shared_metrics_need_the_multiprocess_folder_in_the_environment(tmp_path: Path) -> None:
    # prometheus_client picks its value class when imported: a worker without the
    # variable would report only its own counts, so the app refuses to start
    with pytest.raises(UsageError, match="PROMETHEUS_MULTIPROC_DIR"):
        ServeMetrics(tmp_path)


def test_serve_refuses_zero_workers(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "churn", "--workers", "0", "--spec", str(tmp_path)])
    assert result.exit_code == 2
    assert "--workers must be at least 1" in result.output
