"""Helpers of the shared-PostgreSQL tests: run workers in processes, check what they acknowledged.

The workers (``_shared_workers``) are forked, not spawned: the test process has
imported skloop already, and 16 interpreters importing it again would cost ~2 s of CPU
each on a small machine. Each opens its own engine after the fork.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _shared_workers as workers
import sqlalchemy as sa

import skloop.serve  # noqa: F401  (imported once here, inherited by every forked ingestor)

CTX = multiprocessing.get_context("fork")


def start(target: Callable[..., None], *args: Any) -> multiprocessing.process.BaseProcess:
    proc = CTX.Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def join(procs: list[multiprocessing.process.BaseProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
    alive = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    assert not alive, f"workers {alive} did not finish in {timeout:.0f} s (deadlocked?)"


def reports(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        assert path.exists(), f"{path.name}: the worker wrote no report (it died early)"
        data = json.loads(path.read_text())
        assert data.get("done"), f"{path.name}: the worker did not finish"
        assert "error" not in data, f"{path.name}: the worker met an error:\n{data['error']}"
        out.append(data)
    return out


def retries(found: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for r in found:
        for reason, n in r["retries"].items():
            total[reason] = total.get(reason, 0) + n
    return total


def check_tracking(url: str, trackers: list[dict[str, Any]], *, registry: bool = True) -> dict[str, int]:
    """Every acknowledged run, metric value, param, version and alias move is stored, once."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            metrics = dict(conn.execute(sa.text("SELECT run_id, count(*) FROM metrics GROUP BY run_id")).all())
            params = dict(conn.execute(sa.text("SELECT run_id, count(*) FROM params GROUP BY run_id")).all())
            status = dict(conn.execute(sa.text("SELECT id, status FROM runs")).all())
            versions = sorted(
                conn.execute(sa.text("SELECT version FROM model_versions WHERE name = :n"), {"n": workers.MODEL})
                .scalars()
                .all()
            )
            events = conn.execute(
                sa.text("SELECT from_version, to_version FROM alias_events WHERE name = :n ORDER BY time, id"),
                {"n": workers.MODEL},
            ).all()
    finally:
        engine.dispose()
    n_metrics = n_runs = 0
    for t in trackers:
        for run_id, acked in t["runs"].items():
            n_runs += 1
            n_metrics += acked["metrics"]
            assert metrics.get(run_id, 0) == acked["metrics"], f"run {run_id}: metrics stored != acknowledged"
            assert params.get(run_id, 0) == acked["params"], f"run {run_id}: params stored != acknowledged"
            if acked.get("finished"):
                assert status[run_id] == "finished"
    mine = sorted(v for t in trackers for v in t["versions"])
    moves = sum(t["moves"] for t in trackers)
    if registry:
        assert versions == mine == list(range(1, len(mine) + 1)), "versions lost, doubled or with gaps"
        assert len(events) == moves, f"{moves} alias moves acknowledged, {len(events)} logged"
        for before, after in itertools.pairwise(events):
            assert after.from_version == before.to_version  # each move saw the one before it
    return {"runs": n_runs, "metrics": n_metrics, "versions": len(mine), "moves": moves}


def check_predictions(url: str, ingestors: list[dict[str, Any]]) -> int:
    """Each ingestor's acknowledged requests (2 rows each) are stored, each once."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = dict(
                conn.execute(
                    sa.text("SELECT split_part(request_id, '-', 1), count(*) FROM predictions GROUP BY 1")
                ).all()
            )
    finally:
        engine.dispose()
    total = 0
    for i in ingestors:
        stored = rows.get(f"i{i['worker']}", 0)
        assert stored == 2 * i["acked"], f"ingestor {i['worker']}: {i['acked']} requests acked, {stored} rows stored"
        total += stored
    return total


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
