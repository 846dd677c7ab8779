"""Load: ``skloop serve --workers 2`` at a fixed request rate, with zero errors, a stable p99, flat memory.

An open-loop client (requests scheduled at a fixed rate, their latency counted from the
time they were due, as wrk2 does, so a stall is not hidden by the client waiting) sends
single-row requests over keep-alive connections for a bounded time, then stops. Checked:
every request answered 200; the p99 of the last window no worse than a few times the
first's (a server falling behind the rate grows it without bound); each server process's
RSS after the warm-up grows by less than 10%; and after the graceful stop the store holds
each logged row exactly once. The default run is short (~15 s); the 10-minute run is
``long`` (``SKLOOP_LONG_TESTS=1``) and prints its figures (docs/reliability.md, Load).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import free_port, process_tree, project_settings, rss_mb, wait_ready

from skloop.serve import segments
from skloop.store import Store

RATE = 200  # requests per second
CONNECTIONS = 32  # keep-alive connections the client may have in flight
_LENGTH = re.compile(rb"content-length: *(\d+)", re.I)


async def _fixed_rate(port: int, body: bytes, rate: float, seconds: float) -> list[tuple[float, float, int]]:
    """``(due, latency, status)`` of each request (status 0: no answer); stops after ``seconds``."""
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    request = head + body
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(None)
    results: list[tuple[float, float, int]] = []

    async def one(due: float) -> None:
        conn = await pool.get()
        status = 0
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            writer.write(request)
            answer = await reader.readuntil(b"\r\n\r\n")
            status = int(answer[9:12])
            found = _LENGTH.search(answer)
            await reader.readexactly(int(found.group(1)) if found else 0)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            if conn is not None:
                conn[1].close()
            conn = None
        results.append((due, time.monotonic() - due, status))
        pool.put_nowait(conn)

    start = time.monotonic()
    tasks = []
    i = 0
    while (due := start + i / rate) < start + seconds:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
        i += 1
    await asyncio.gather(*tasks)
    while not pool.empty():
        conn = pool.get_nowait()
        if conn is not None:
            conn[1].close()
    return sorted(results)


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]


def _load(project: Path, row: dict[str, Any], seconds: float, warmup: float) -> dict[str, Any]:
    port = free_port()
    log_dir = project / "wal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    command = [sys.executable, "-m", "skloop.cli", "serve", "churn", "--workers", "2", "--port", str(port),
               "--spec", str(project), "--log-dir", str(log_dir)]  # fmt: skip
    stderr = project / "serve.err"
    body = json.dumps({"dataframe_records": [row]}).encode()
    samples: dict[int, list[tuple[float, float]]] = {}

    async def sample(stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            for pid in process_tree(proc.pid):
                samples.setdefault(pid, []).append((now, rss_mb(pid)))
            await asyncio.sleep(1.0)

    async def run() -> tuple[list[tuple[float, float, int]], float]:
        await _fixed_rate(port, body, RATE, warmup)  # imports, caches, first segments
        stop = asyncio.Event()
        sampler = asyncio.ensure_future(sample(stop))
        begun = time.monotonic()
        results = await _fixed_rate(port, body, RATE, seconds)
        stop.set()
        await sampler
        return results, begun

    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        wait_ready(port, proc, stderr)
        time.sleep(2.0)  # the second worker, if the first answered alone
        results, begun = asyncio.run(run())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, stderr.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    window = min(60.0, seconds / 5)
    first = [lat for due, lat, _ in results if due - results[0][0] < window]
    last = [lat for due, lat, _ in results if results[-1][0] - due < window]
    growth = {}
    for pid, points in samples.items():
        rss = [mb for _, mb in points if mb > 0]
        if len(rss) >= 4 and rss[0] > 0:  # lived through the run (not a worker restarted meanwhile)
            k = max(1, len(rss) // 10)
            growth[pid] = (statistics.median(rss[:k]), statistics.median(rss[-k:]))
    with Store.open(project_settings(project)) as store:
        stored = store.predictions.count_predictions("churn")
    return {
        "requests": len(results),
        "seconds": seconds,
        "errors": sum(1 for _, _, status in results if status != 200),
        "p50_ms": statistics.median(lat for _, lat, _ in results) * 1000,
        "p99_ms": _p99([lat for _, lat, _ in results]) * 1000,
        "p99_first_ms": _p99(first) * 1000,
        "p99_last_ms": _p99(last) * 1000,
        "rss_mb": growth,
        "stored": stored,
        "warmup_requests": int(warmup * RATE),
        "segments_left": len(segments(log_dir)),
        "load_average": os.getloadavg(),
        "began": begun,
    }


def _check(figures: dict[str, Any]) -> None:
    print(
        f"\n{figures['requests']} requests at {RATE}/s over {figures['seconds']:g} s: errors {figures['errors']}, "
        f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms "
        f"(first window {figures['p99_first_ms']:.2f} ms, last {figures['p99_last_ms']:.2f} ms); "
        f"stored {figures['stored']}; load average {figures['load_average'][0]:.1f}"
    )
    for pid, (before, after) in figures["rss_mb"].items():
        print(f"  pid {pid}: RSS {before:.1f} -> {after:.1f} MB ({after / before - 1:+.1%})")
    assert figures["requests"] >= figures["seconds"] * RATE - 1
    assert figures["errors"] == 0
    # a server that cannot keep up with the rate falls further behind every second: its
    # last window's p99 grows without bound; noise on a shared machine stays within this
    assert figures["p99_last_ms"] <= 5 * figures["p99_first_ms"] + 50, figures
    assert len(figures["rss_mb"]) >= 3  # the supervisor, two workers (and the ingestor)
    for pid, (before, after) in figures["rss_mb"].items():
        assert after < before * 1.10, f"pid {pid}: RSS grew from {before:.1f} to {after:.1f} MB"
    # the graceful stop drained the log: every answered row stored, once
    assert figures["segments_left"] == 0
    assert figures["stored"] == figures["requests"] + figures["warmup_requests"]


@pytest.mark.timeout(600)
def test_load_short(srv_fresh_project: Path, srv_row: dict[str, Any]) -> None:
    _check(_load(srv_fresh_project, srv_row, seconds=12.0, warmup=3.0))


@pytest.mark.long
@pytest.mark.timeout(1800)
def test_load_ten_minutes(srv_fresh_project: Path, srv_row: dict[str, Any]) -> None:
    _check(_load(srv_fresh_project, srv_row, seconds=600.0, warmup=30.0))
