"""Tracking benchmark: skloop's store against MLflow's SQLite tracking store.

The same workload goes through both, in one run: N runs x 10 params x 5 metrics x 20
steps, logged (a) one call at a time, (b) one batch per run, then (c) a search over the
runs filtered by a metric and ordered by it (median of repeats); finally (d) skloop's
search over a large store (100,000 runs by default).

Usage::

    python benchmarks/bench_tracking.py [--runs 200] [--mlflow-runs 200]
                                        [--search-runs 100000] [--repeats 20]

MLflow runs in this interpreter when it is importable; otherwise in the interpreter
given by ``--mlflow-python`` (default ``.venv-bench/bin/python``, a separate venv,
because MLflow would downgrade pyarrow in the main one). With ``--mlflow-runs`` below
``--runs``, MLflow's per-call part is timed on fewer runs and extrapolated linearly
(the table says so).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

N_PARAMS, N_METRICS, N_STEPS = 10, 5, 20
FILTER = "metrics.m0 > 0.5"
ORDER = ["metrics.m0 DESC"]
ROOT = Path(__file__).resolve().parents[1]


def workload(n_runs: int, seed: int = 0) -> list[dict[str, Any]]:
    """Params and metric values of every run, identical for both tools."""
    rng = random.Random(seed)
    return [
        {
            "params": {f"p{j}": str(rng.randint(0, 100)) for j in range(N_PARAMS)},
            "metrics": [(f"m{k}", rng.random(), step) for step in range(N_STEPS) for k in range(N_METRICS)],
        }
        for _ in range(n_runs)
    ]


# -- skloop ---------------------------------------------------------------------------


def skloop_side(runs: list[dict[str, Any]], repeats: int) -> dict[str, float]:
    from skloop.store import Store

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(f"sqlite:///{d}/a.db", f"{d}/art")
        t0 = time.perf_counter()
        for run in runs:
            rid = store.runs.create_run("bench").id
            for key, value in run["params"].items():
                store.runs.log_param(rid, key, value)
            for key, value, step in run["metrics"]:
                store.runs.log_metric(rid, key, value, step=step)
            store.runs.finish_run(rid)
        out["per_call"] = time.perf_counter() - t0
        store.close()

        store = Store.open(f"sqlite:///{d}/b.db", f"{d}/art")
        t0 = time.perf_counter()
        for run in runs:
            rid = store.runs.create_run("bench").id
            store.runs.log_batch(rid, metrics=run["metrics"], params=run["params"])
            store.runs.finish_run(rid)
        out["batch"] = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            found = store.runs.search_runs("bench", filter=FILTER, order_by=ORDER, limit=100)
            times.append(time.perf_counter() - t0)
        out["search"] = statistics.median(times)
        out["search_hits"] = len(found)
        store.close()
    return out


def seed_large_store(store: Any, n_runs: int) -> None:
    """``n_runs`` ended runs of 10 params and 5 metrics each, through ``import_runs``."""
    from skloop.store import Run

    rng = random.Random(1)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    store.runs.import_runs(
        Run(
            id="",
            project="bench",
            kind="train",
            status="finished",
            start_time=start + timedelta(seconds=i),
            end_time=start + timedelta(seconds=i + 1),
            params={f"p{j}": str(rng.randint(0, 100)) for j in range(N_PARAMS)},
            metrics={f"m{k}": rng.random() for k in range(N_METRICS)},
        )
        for i in range(n_runs)
    )


_COPY_SQL = (
    "INSERT INTO runs SELECT :p || substr(id, 1, 30), project, kind, name, status, start_time, end_time, error, spec, "
    "code_commit, code_dirty, environment, seed, parent_run_id, pid, hostname, summary FROM runs WHERE rowid <= :n",
    "INSERT INTO params SELECT :p || substr(run_id, 1, 30), key, value FROM params "
    "WHERE run_id IN (SELECT id FROM runs WHERE rowid <= :n)",
    "INSERT INTO latest_metrics SELECT :p || substr(run_id, 1, 30), key, value, is_nan, step, timestamp "
    "FROM latest_metrics WHERE run_id IN (SELECT id FROM runs WHERE rowid <= :n)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) SELECT :p || substr(run_id, 1, 30), key, value, "
    "is_nan, step, timestamp FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE rowid <= :n)",
)


def replicate(path: Path, n_runs: int) -> int:
    """Copy the seeded runs in SQL until ``n_runs`` (same records, ids: 2 new digits + 30 of the original).

    For a loaded machine, where ``import_runs`` seeds 1,000,000 runs in hours: the copies
    have the originals' params, metrics and summaries (so metric values repeat), and
    only the runs tables are copied (the bench's runs have no tags, inputs or artifacts).
    Returns how many runs were seeded through ``import_runs``.
    """
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        (seeded,) = conn.execute("SELECT count(*) FROM runs").fetchone()
        total, prefix = seeded, 0
        while total < n_runs:
            prefix += 1
            take = min(seeded, n_runs - total)
            with conn:
                for sql in _COPY_SQL:
                    conn.execute(sql, {"p": f"{prefix:02x}", "n": take})
            total += take
        return int(seeded)
    finally:
        conn.close()


def skloop_large_search(
    n_runs: int, repeats: int, db: str | None = None, replicate_from: int | None = None
) -> dict[str, float]:
    """The search (c) over ``n_runs`` runs; with ``db``, the seeded store is kept there and reused."""
    from skloop.store import Store

    with tempfile.TemporaryDirectory() as d:
        path = Path(db) if db else Path(d) / "big.db"
        store = Store.open(f"sqlite:///{path}", f"{d}/art")
        t0 = time.perf_counter()
        have = store.runs.count_runs("bench")
        seeded = have
        if replicate_from and have < n_runs:
            if have < replicate_from:
                seed_large_store(store, replicate_from - have)
            store.close()
            seeded = replicate(path, n_runs)
            store = Store.open(f"sqlite:///{path}", f"{d}/art")
            have = store.runs.count_runs("bench")
        if have not in (0, n_runs):
            sys.exit(f"{path} holds {have} runs of 'bench', not {n_runs}: remove it or pass another --search-db")
        if have == 0:
            seed_large_store(store, n_runs)
            seeded = n_runs
        populate = time.perf_counter() - t0 if have == 0 else float("nan")
        store.runs.search_runs("bench", filter=FILTER, order_by=ORDER, limit=100)  # warm the page cache
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            found = store.runs.search_runs("bench", filter=FILTER, order_by=ORDER, limit=100)
            times.append(time.perf_counter() - t0)
        store.close()
    return {"populate": populate, "search": statistics.median(times), "hits": len(found), "seeded": seeded}


# -- MLflow ---------------------------------------------------------------------------


def mlflow_side(runs: list[dict[str, Any]], per_call_runs: int, repeats: int) -> dict[str, float]:
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    out: dict[str, float] = {"per_call_runs": per_call_runs}
    with tempfile.TemporaryDirectory() as d:
        client = MlflowClient(tracking_uri=f"sqlite:///{d}/a.db")
        exp = client.create_experiment("bench", artifact_location=f"{d}/art-a")
        t0 = time.perf_counter()
        for run in runs[:per_call_runs]:
            rid = client.create_run(exp).info.run_id
            for key, value in run["params"].items():
                client.log_param(rid, key, value)
            for key, value, step in run["metrics"]:
                client.log_metric(rid, key, value, step=step)
            client.set_terminated(rid)
        out["per_call_measured"] = time.perf_counter() - t0
        out["per_call"] = out["per_call_measured"] * len(runs) / per_call_runs

        client = MlflowClient(tracking_uri=f"sqlite:///{d}/b.db")
        exp = client.create_experiment("bench", artifact_location=f"{d}/art-b")
        t0 = time.perf_counter()
        for run in runs:
            rid = client.create_run(exp).info.run_id
            now = int(time.time() * 1000)
            client.log_batch(
                rid,
                metrics=[Metric(k, v, now, s) for k, v, s in run["metrics"]],
                params=[Param(k, v) for k, v in run["params"].items()],
            )
            client.set_terminated(rid)
        out["batch"] = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            found = client.search_runs([exp], filter_string=FILTER, order_by=ORDER, max_results=100)
            times.append(time.perf_counter() - t0)
        out["search"] = statistics.median(times)
        out["search_hits"] = len(found)
    return out


def run_mlflow(args: argparse.Namespace) -> dict[str, float]:
    try:
        from mlflow.tracking import MlflowClient  # noqa: F401
    except ImportError:
        python = Path(args.mlflow_python)
        if not python.exists():
            sys.exit(
                f"MLflow is not importable and {python} does not exist; create it with: "
                f"python -m venv .venv-bench && .venv-bench/bin/pip install 'mlflow>=3.17,<3.18'"
            )
        cmd = [str(python), __file__, "--worker", "--runs", str(args.runs),
               "--mlflow-runs", str(args.mlflow_runs), "--repeats", str(args.repeats)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"the MLflow half failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    return mlflow_side(workload(args.runs), args.mlflow_runs, args.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--mlflow-runs", type=int, default=None, help="time MLflow's per-call part on this many runs and extrapolate"
    )
    parser.add_argument("--search-runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--search-db",
        default=None,
        help="keep the store of (d) in this SQLite file and reuse it (seeding 1M runs is slow)",
    )
    parser.add_argument("--only-large", action="store_true", help="run (d) alone")
    parser.add_argument(
        "--replicate-from", type=int, default=None,
        help="(d): seed this many runs with import_runs, then copy them in SQL up to --search-runs",
    )  # fmt: skip
    parser.add_argument("--mlflow-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.mlflow_runs = min(args.mlflow_runs or args.runs, args.runs)
    if args.worker:
        print(json.dumps(mlflow_side(workload(args.runs), args.mlflow_runs, args.repeats)))
        return

    load_before = os.getloadavg()
    if args.only_large:
        big = skloop_large_search(args.search_runs, max(5, args.repeats // 2), args.search_db, args.replicate_from)
        print(f"(d) skloop search over {args.search_runs} runs: {big['search']:.4f} s (median; "
              f"{int(big['hits'])} runs returned; {int(big['seeded'])} seeded with import_runs"
              f"{', the rest copied in SQL' if big['seeded'] < args.search_runs else ''})")  # fmt: skip
        print(f"load average {', '.join(f'{x:.2f}' for x in load_before)} before, {os.getloadavg()[0]:.2f} after")
        return
    runs = workload(args.runs)
    sk = skloop_side(runs, args.repeats)
    ml = run_mlflow(args)
    n_calls = args.runs * (N_PARAMS + N_METRICS * N_STEPS)
    print(
        f"workload: {args.runs} runs x {N_PARAMS} params x {N_METRICS} metrics x {N_STEPS} "
        f"steps ({n_calls} logging calls); search: {FILTER!r} ordered by {ORDER[0]!r}, "
        f"median of {args.repeats}"
    )
    print(f"{'part':<30}{'skloop (s)':>12}{'MLflow (s)':>12}{'MLflow/skloop':>15}")
    rows = [("(a) one call at a time", "per_call"), ("(b) one batch per run", "batch"),
            ("(c) search, filter + order", "search")]  # fmt: skip
    for label, key in rows:
        note = " *" if key == "per_call" and ml["per_call_runs"] < args.runs else ""
        print(f"{label:<30}{sk[key]:>12.4f}{ml[key]:>12.4f}{ml[key] / sk[key]:>14.1f}x{note}")
    if ml["per_call_runs"] < args.runs:
        print(
            f"* MLflow per-call EXTRAPOLATED linearly from {int(ml['per_call_runs'])} runs "
            f"({ml['per_call_measured']:.2f} s measured)"
        )
    print(f"search hits: skloop {int(sk['search_hits'])}, MLflow {int(ml['search_hits'])}")
    if args.search_runs:
        big = skloop_large_search(args.search_runs, max(5, args.repeats // 2), args.search_db, args.replicate_from)
        print(
            f"(d) skloop search over {args.search_runs} runs: {big['search']:.4f} s "
            f"(median; {int(big['hits'])} runs returned; populated with import_runs in "
            f"{big['populate']:.1f} s)"
        )
    load = ", ".join(f"{x:.2f}" for x in load_before)
    print(f"machine: {os.cpu_count()} cores; load average {load} before, {os.getloadavg()[0]:.2f} after (1 min)")


if __name__ == "__main__":
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    main()
