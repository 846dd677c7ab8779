"""Durability under ``kill -9``: every acknowledged prediction is in the store after restart + ingestion.

Two writers are killed mid-load: a process appending through :class:`PredictionLog`
(printing each request id once its append returned), and a real ``skloop serve`` under
concurrent HTTP load (a client counts the 200 answers). The acknowledged ids a killed
process managed to report are a subset of what it acknowledged, so "every reported id
is stored" is a sound check; we also compare the counts.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from skloop.serve import Ingestor, ingest_once, segments
from skloop.store import Store

WRITER = r"""
import asyncio, os, sys
from skloop.serve._wal import PredictionLog

log = PredictionLog(sys.argv[1], segment_bytes=int(sys.argv[2])).start()
tag = sys.argv[3]

async def worker(k):
    i = 0
    while True:
        rid = f"{tag}-{k}-{i}"
        rows = [{"request_id": rid, "row": r, "time": "2025-03-01T12:00:00+00:00", "model": "churn",
                 "version": 1, "inputs": {"tenure": i, "plan": "basic"}, "outputs": {"prediction": "no"},
                 "flags": []} for r in range(2)]
        await log.append(rows)
        os.write(1, (rid + "\n").encode())  # acknowledged: reported only after the fsync returned
        i += 1

async def main():
    await asyncio.gather(*(worker(k) for k in range(32)))

asyncio.run(main())
"""


def _read_lines(stream: Any, into: list[str]) -> threading.Thread:
    def run() -> None:
        for line in iter(stream.readline, b""):
            into.append(line.decode().strip())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _kill_writer_after(script: Path, log_dir: Path, tag: str, n_acked: int) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, str(script), str(log_dir), "20000", tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    acked: list[str] = []
    reader = _read_lines(proc.stdout, acked)
    deadline = time.monotonic() + 60
    while len(acked) < n_acked and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(10)
    assert proc.stdout is not None and proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert len(acked) >= n_acked, f"the writer acknowledged only {len(acked)} appends: {err[-2000:]}"
    return [a for a in acked if a]


def test_sigkilled_writers_lose_no_acknowledged_append(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    log_dir = tmp_path / "log"
    with Store.open(f"sqlite:///{tmp_path}/skloop.db") as store:
        ingestor = Ingestor(log_dir, store, interval=0.05).start()  # ingests (and deletes) while they write
        try:
            acked = _kill_writer_after(script, log_dir, "a", 3_000)
            acked += _kill_writer_after(script, log_dir, "b", 3_000)  # the restart, killed as well
        finally:
            ingestor.close(final=False)
        ingest_once(log_dir, store)  # after the restart: picks up from the checkpoint
        stored = {p.request_id for p in store.predictions.iter_predictions("churn", batch_size=20_000)}
        lost = set(acked) - stored
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged appends were lost, e.g. {sorted(lost)[:5]}"
        # each append held 2 rows; stored >= acknowledged (appends not yet reported may be stored too)
        assert store.predictions.count_predictions("churn") >= 2 * len(acked)
        assert ingestor.last_error is None
    # only the segments of the dead writers that were not deleted yet remain, all ingested
    assert len(segments(log_dir)) <= 2


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], stderr: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"skloop serve exited early: {stderr.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("skloop serve did not become ready")


def _client(port: int, row: dict[str, Any], tag: str, acked: list[str], stop: threading.Event) -> None:
    body = json.dumps({"dataframe_records": [row, row]}).encode()
    conn: http.client.HTTPConnection | None = None
    i = 0
    while not stop.is_set():
        rid = f"{tag}-{i}"
        i += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json", "X-Request-ID": rid})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                acked.append(rid)
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)


@pytest.mark.timeout(300)
def test_skloop_serve_killed_under_load_loses_no_acknowledged_prediction(
    srv_fresh_project: Path, srv_row: dict[str, Any]
) -> None:
    port = _free_port()
    log_dir = srv_fresh_project / "wal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    command = [sys.executable, "-m", "skloop.cli", "serve", "churn", "--port", str(port), "--spec",
               str(srv_fresh_project), "--log-dir", str(log_dir), "--no-onnx"]  # fmt: skip
    acked: list[str] = []
    for attempt in range(2):  # serve, kill -9 under load, restart, kill again
        stderr = srv_fresh_project / f"serve-{attempt}.err"
        with stderr.open("wb") as err:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            _wait_ready(port, proc, stderr)
            stop = threading.Event()
            mine: list[str] = []
            clients = [
                threading.Thread(target=_client, args=(port, srv_row, f"s{attempt}-{k}", mine, stop), daemon=True)
                for k in range(16)
            ]
            for c in clients:
                c.start()
            deadline = time.monotonic() + 30
            while len(mine) < 1_500 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests in flight
            proc.wait()
            stop.set()
            for c in clients:
                c.join(15)
            assert len(mine) >= 200, "the server acknowledged too few requests to test anything"
            acked += mine
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # the server's own ingestor moved part of the log into the project's store (and removed
    # those segments); a last pass picks up the rest, as the next server start would
    from serve_helpers import project_settings

    with Store.open(project_settings(srv_fresh_project)) as store:
        ingest_once(log_dir, store)
        rows = [(p.correlation_id, p.row) for p in store.predictions.iter_predictions("churn", batch_size=20_000)]
    stored = {rid for rid, _ in rows}  # the client's X-Request-ID, kept as the correlation id
    lost = set(acked) - stored
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged requests were lost, e.g. {sorted(lost)[:5]}"
    assert len(rows) >= 2 * len(acked)  # two rows per request
