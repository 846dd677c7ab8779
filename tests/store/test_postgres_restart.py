"""PostgreSQL restarted under load: writers and the server retry, nothing acknowledged is lost.

Each test starts a private PostgreSQL server (:mod:`private_pg`; never the machine's
shared one), puts tracking writers and prediction ingestors on it — and, in the long
run, a real ``skloop serve`` under HTTP load — and restarts the server with ``pg_ctl
restart -m fast`` while they work: every session is ended (SQLSTATE 57P01) and, for a
second or so, no connection is accepted. The store's retry loop runs the refused
transactions again; afterwards every run, metric value, param, version, alias move and
prediction a process saw acknowledged is in the database exactly once.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _shared_workers as workers
import pytest
import shared_pg
import sqlalchemy as sa
from private_pg import PrivatePostgres, private_postgres

from skloop.store import upgrade_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_private() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


def run_restarts(
    server: PrivatePostgres, tmp: Path, trackers: int, ingestors: int, restarts: int, pause: float
) -> dict[str, Any]:
    url, root, stop = server.url, str(tmp / "artifacts"), tmp / "stop"
    upgrade_database(url)
    outs = [tmp / f"track-{w}.json" for w in range(trackers)] + [tmp / f"ingest-{w}.json" for w in range(ingestors)]
    procs = [shared_pg.start(workers.track, url, root, w, 1, 50, str(outs[w]), 0.0, str(stop)) for w in range(trackers)]
    procs += [
        shared_pg.start(
            workers.ingest, url, root, str(tmp / f"log-{w}"), w, 1, str(outs[trackers + w]), 0.0, str(stop), 0.005
        )
        for w in range(ingestors)
    ]
    t0 = time.monotonic()
    downtime = []
    time.sleep(pause)  # under way
    for _ in range(restarts):
        t = time.monotonic()
        server.restart()
        downtime.append(time.monotonic() - t)
        time.sleep(pause)  # the load goes on against the restarted server
    assert all(p.is_alive() for p in procs), "a worker ended before the restarts were over"
    stop.touch()
    shared_pg.join(procs, 300)
    found = shared_pg.reports(outs)
    counts = shared_pg.check_tracking(url, found[:trackers])
    predictions = shared_pg.check_predictions(url, found[trackers:])
    retried = shared_pg.retries(found)
    assert retried.get("connection", 0) >= 1, f"no worker saw the restart: {retried}"
    figures = {
        **counts,
        "predictions": predictions,
        "retries": retried,
        "restarts": restarts,
        "restart_s": [round(d, 1) for d in downtime],
        "seconds": round(time.monotonic() - t0, 1),
    }
    print(f"{trackers} trackers + {ingestors} ingestors, {restarts} restarts: {figures}")
    return figures


def test_writers_and_ingestors_ride_through_a_restart(pg_private: PrivatePostgres, tmp_path: Path) -> None:
    run_restarts(pg_private, tmp_path, trackers=2, ingestors=1, restarts=1, pause=0.8)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_sixteen_writers_ride_through_three_restarts(pg_private: PrivatePostgres, tmp_path: Path) -> None:
    run_restarts(pg_private, tmp_path, trackers=16, ingestors=4, restarts=3, pause=3.0)


# -- a real server under HTTP load --------------------------------------------------


def _client(port: int, body: bytes, tag: str, acked: list[str], stop: threading.Event) -> None:
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
    if conn is not None:
        conn.close()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], stderr: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"skloop serve exited early: {stderr.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("skloop serve did not become ready")


ROW = {
    "signup_date": "2024-06-20", "age": 41, "tenure_months": 12, "contract": "one-year", "payment_method": None,
    "paperless_billing": False, "has_partner": True, "region": "north", "monthly_charges": 61.82,
    "total_charges": 700.5, "support_calls": 1,
}  # fmt: skip


@pytest.mark.long
@pytest.mark.timeout(900)
def test_skloop_serve_and_writers_ride_through_restarts(pg_private: PrivatePostgres, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
    from serve_helpers import register_churn

    from skloop.core import Settings
    from skloop.serve import ingest_once
    from skloop.store import Store

    url = pg_private.url
    upgrade_database(url)
    env = {"SKLOOP_STORE_URL": url, "SKLOOP_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    register_churn(Settings.from_env(tmp_path, env=env))
    port = shared_pg.free_port()
    log_dir = tmp_path / "wal"
    stderr = tmp_path / "serve.err"
    command = [sys.executable, "-m", "skloop.cli", "serve", "churn", "--port", str(port), "--spec", str(tmp_path),
               "--log-dir", str(log_dir), "--no-onnx"]  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env={**clean, **env})
    stop = threading.Event()
    acked: list[str] = []
    clients = []
    stop_file = tmp_path / "stop"
    outs = [tmp_path / f"track-{w}.json" for w in range(4)]
    writers = []
    try:
        _wait_ready(port, proc, stderr)
        body = json.dumps({"dataframe_records": [ROW, ROW]}).encode()
        clients = [
            threading.Thread(target=_client, args=(port, body, f"c{k}", acked, stop), daemon=True) for k in range(8)
        ]
        for c in clients:
            c.start()
        root = str(tmp_path / "artifacts")
        writers = [
            shared_pg.start(workers.track, url, root, w, 1, 50, str(outs[w]), 0.0, str(stop_file)) for w in range(4)
        ]
        time.sleep(5.0)
        for _ in range(3):
            pg_private.restart()
            time.sleep(5.0)
        assert proc.poll() is None, f"the server died: {stderr.read_text()[-3000:]}"
    finally:
        stop.set()
        stop_file.touch()
        for c in clients:
            c.join(15)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # a clean stop: the log is closed, a last ingestion runs
            proc.wait(120)
        shared_pg.join(writers, 300)
    assert len(acked) >= 100, "the server acknowledged too few requests to test anything"
    with Store.open(url, tmp_path / "artifacts") as store:
        ingest_once(log_dir, store)  # what the server's ingestor had not moved yet, as its next start would
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT correlation_id, count(*) FROM predictions GROUP BY 1")).all())
    finally:
        engine.dispose()
    lost = [rid for rid in acked if stored.get(rid, 0) == 0]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged requests were lost, e.g. {lost[:5]}"
    twice = [rid for rid in acked if stored[rid] != 2]
    assert not twice, f"requests stored other than once (2 rows each): {twice[:5]}"
    found = shared_pg.reports(outs)
    counts = shared_pg.check_tracking(url, found)
    print(
        f"skloop serve + 4 trackers, 3 restarts: {len(acked)} requests acknowledged, all stored once; {counts}; "
        f"trackers' retries {shared_pg.retries(found)}"
    )
