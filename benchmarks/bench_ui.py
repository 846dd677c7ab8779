"""Web UI benchmark: the runs page over 100,000 runs and 10 million metric points.

Seeds a store with ``Store.import_runs`` (runs: 10 params, 3 tags, 5 latest metrics each) and
``Store.import_metric_history`` (5 metrics x 20 steps per run: 10M points for 100,000
runs), starts the real ``skloop ui`` on 127.0.0.1, and times the requests of the runs
page (median of repeats, after one cold first request): the first page, a sort by a
metric, a filter, a filter with a sort, page 2 and a deep page, a tag facet's filter,
and the requests for the summary's total the page makes once shown (capped at 10,000,
and exact on demand); then the compare page of 10 runs (their 5 x ``--steps`` metric
curves); then the first
contentful paint of the page in headless Chromium (``/usr/bin/chromium`` via Playwright).
The tag facets (a ``GROUP BY`` over the 300,000 tag rows, which every runs page
counts) are also timed alone, at the store.

For the side-by-side figure, MLflow's tracking server (``mlflow server`` on 127.0.0.1,
SQLite) over a store of the same shape, timed on the runs search its UI calls
(``POST /ajax-api/2.0/mlflow/runs/search``, 100 runs, the same filter and order).
MLflow's tables are filled with the rows its own ``log_batch`` would write, in bulk
through sqlite3 (logging 100,000 runs through its client takes hours), after its
client created the schema and the experiment.

Usage::

    python benchmarks/bench_ui.py [--runs 100000] [--steps 20] [--repeats 15]
                                  [--store-url postgresql+psycopg://... | --postgres ADMIN_URL] [--no-mlflow]

On PostgreSQL (``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) the
runs are seeded into a new database that is dropped at the end; ``import_runs`` and
``import_metric_history`` end with ``ANALYZE`` there as on SQLite. MLflow's half
always runs on SQLite (``--no-mlflow`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

N_PARAMS, N_METRICS = 10, 5
PROJECT = "bench"
FILTER = "metrics.m0 > 0.5 and params.p0 = '7'"
TEAMS = ("vision", "search", "ads", "risk")
TAG_FILTER = "tags.team = 'risk'"
N_COMPARED = 10
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[Any], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - t0, len(body)


def _rng_runs(n_runs: int, seed: int = 1) -> Iterator[Any]:
    from skloop.store import Run

    rng = random.Random(seed)
    tag_rng = random.Random(seed + 100)  # its own stream: the params and metrics are those of earlier runs
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n_runs):
        yield Run(
            id=uuid.UUID(int=rng.getrandbits(128)).hex,
            project=PROJECT,
            kind="train",
            status="finished" if i % 10 else "failed",
            start_time=start + timedelta(seconds=i),
            end_time=start + timedelta(seconds=i + 1),
            name=f"run-{i:06d}",
            params={f"p{j}": str(rng.randint(0, 20)) for j in range(N_PARAMS)},
            metrics={f"m{k}": rng.random() for k in range(N_METRICS)},
            tags={
                "team": tag_rng.choice(TEAMS),
                "dataset": f"v{i % 12}",
                "host": f"worker-{tag_rng.randint(0, 49):02d}",
            },
        )


def seed_skloop(url: str, artifacts: str, n_runs: int, steps: int) -> dict[str, Any]:
    """Import the runs, then ``N_METRICS x steps`` history points per run."""
    from skloop.store import Store

    runs = list(_rng_runs(n_runs))
    with Store.open(url, artifacts) as store:
        t0 = time.perf_counter()
        store.runs.import_runs(iter(runs), chunk_size=5_000)
        t_runs = time.perf_counter() - t0
        rng = random.Random(2)

        def points() -> Iterator[tuple[str, str, float, int]]:
            for run in runs:
                for k in range(N_METRICS):
                    # the last step ends at the run's latest value, so the summary is unchanged
                    for step in range(steps - 1):
                        yield run.id, f"m{k}", rng.random(), step
                    yield run.id, f"m{k}", run.metrics[f"m{k}"], steps - 1

        t0 = time.perf_counter()
        n_points = store.runs.import_metric_history(points(), chunk_size=100_000)
        t_points = time.perf_counter() - t0
    return {"runs": runs, "t_runs": t_runs, "t_points": t_points, "n_points": n_points}


def time_facets(url: str, artifacts: str, repeats: int) -> dict[str, float]:
    """The runs page's facets at the store: statuses alone, with the tag facets as the UI counts
    them (over every run) and over the newest 5,000 runs as the UI did before (median, s)."""
    from skloop.store import Store

    with Store.open(url, artifacts) as store:
        out = {}
        cases = (
            ("status facet alone", 0, None),
            ("+ tag facets, newest 5,000 runs (the UI before)", 8, 5_000),
            ("+ tag facets, every run", 8, None),
        )
        for label, tags, tag_runs in cases:
            store.runs.facets(PROJECT, tags=tags, tag_values=6, tag_runs=tag_runs)  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                store.runs.facets(PROJECT, tags=tags, tag_values=6, tag_runs=tag_runs)
                times.append(time.perf_counter() - t0)
            out[label] = statistics.median(times)
    return out


def skloop_requests(url: str, artifacts: str, repeats: int, compared: list[str]) -> dict[str, Any]:
    """Start ``skloop ui`` and time each view of the runs page, and the compare page of ``compared``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env |= {"SKLOOP_STORE_URL": url, "SKLOOP_ARTIFACT_ROOT": artifacts}
    with tempfile.TemporaryDirectory() as cwd:
        cmd = [sys.executable, "-m", "skloop.cli", "ui", "--port", str(port), "--spec", f"{cwd}/none.yaml"]
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base + "/static/ui.css", proc)
            page = f"{base}/projects/{PROJECT}/runs"
            views = {
                "first page": page,
                "sort by a metric": page + "?sort=metrics.m0&dir=desc",
                "filter": page + "?" + urllib.parse.urlencode({"q": FILTER}),
                "filter + sort": page + "?" + urllib.parse.urlencode({"q": FILTER, "sort": "metrics.m1", "dir": "asc"}),
                "page 2": page + "?page=2",
                "page 1,000 (offset 49,950)": page + "?page=1000",
                "status facet (failed)": page + "?status=failed",
                "tag facet (team = risk)": page + "?" + urllib.parse.urlencode({"q": TAG_FILTER}),
                f"compare {len(compared)} runs (curves)": f"{base}/compare?"
                + urllib.parse.urlencode([("run", r) for r in compared]),
                # the summary's total, fetched by the page once shown (hx-trigger="load")
                "count: all runs (cap 10,000)": page + "/count",
                "count: filter": page + "/count?" + urllib.parse.urlencode({"q": FILTER}),
                "count: filter, exact on demand": page
                + "/count?"
                + urllib.parse.urlencode({"q": FILTER, "count": "all"}),
                "count: all runs, exact on demand": page + "/count?count=all",
            }
            out: dict[str, Any] = {}
            out["cold first page"], _ = _timed_get(page)
            for label, view in views.items():
                _timed_get(view)  # one warm-up: the statement cache, the database pages
                times = [_timed_get(view)[0] for _ in range(repeats)]
                out[label] = statistics.median(times)
                out[label + " max"] = max(times)
            out["paint"] = first_paint(page, max(3, repeats // 3))
        finally:
            _stop(proc)
    return out


def first_paint(url: str, repeats: int) -> dict[str, float] | None:
    """Median first contentful paint and load time of ``url`` in headless Chromium (ms)."""
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    fcp, load = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                tab = context.new_page()
                tab.goto(url, wait_until="load")
                paint = tab.evaluate(
                    "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
                )
                nav = tab.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
                if paint is not None:
                    fcp.append(float(paint))
                load.append(float(nav))
                context.close()
        finally:
            browser.close()
    return {"fcp": statistics.median(fcp) if fcp else float("nan"), "load": statistics.median(load)}


# -- MLflow ---------------------------------------------------------------------------


def seed_mlflow(directory: Path, runs: list[Any], steps: int) -> tuple[str, str, float]:
    """An MLflow SQLite store holding the same runs, params and metric points."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    from mlflow.tracking import MlflowClient

    db = directory / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(PROJECT, artifact_location=str(directory / "mlartifacts"))
    t0 = time.perf_counter()
    conn = sqlite3.connect(db)
    rng = random.Random(2)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        for start in range(0, len(runs), 5_000):
            chunk = runs[start : start + 5_000]
            run_rows, params, metrics, latest, tags = [], [], [], [], []
            for run in chunk:
                begin = int(run.start_time.timestamp() * 1000)
                end = int(run.end_time.timestamp() * 1000)
                status = "FINISHED" if run.status == "finished" else "FAILED"
                run_rows.append((run.id, run.name, "LOCAL", "", "", "bench", status, begin, end, "",
                                 "active", f"{directory}/mlartifacts/{run.id}/artifacts", exp))  # fmt: skip
                params += [(k, v, run.id) for k, v in run.params.items()]
                tags.append(("mlflow.runName", run.name, run.id))
                tags += [(k, v, run.id) for k, v in run.tags.items()]
                for k in range(N_METRICS):
                    key = f"m{k}"
                    for step in range(steps - 1):
                        metrics.append((key, rng.random(), end, run.id, step, 0))
                    metrics.append((key, run.metrics[key], end, run.id, steps - 1, 0))
                    latest.append((key, run.metrics[key], end, steps - 1, 0, run.id))
            conn.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run_rows,
            )
            conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
            conn.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                latest,
            )
            conn.commit()
    finally:
        conn.close()
    return uri, exp, time.perf_counter() - t0


def mlflow_requests(directory: Path, uri: str, experiment: str, repeats: int, timeout: float = 120) -> dict[str, float]:
    """Start ``mlflow server`` and time the runs search its UI sends for each view (inf: over ``timeout`` s)."""
    port = _free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1",
           "--default-artifact-root", str(directory / "mlartifacts")]  # fmt: skip
    env = dict(os.environ, GIT_PYTHON_REFRESH="quiet")
    proc = subprocess.Popen(cmd, env=env, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/health", proc, seconds=180)
        search = base + "/ajax-api/2.0/mlflow/runs/search"

        def post(body: dict[str, Any]) -> float:
            data = json.dumps({"experiment_ids": [experiment], "max_results": 100, "run_view_type": "ACTIVE_ONLY",
                               **body}).encode()  # fmt: skip
            request = urllib.request.Request(search, data=data, headers={"Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    response.read()
            except TimeoutError:
                return math.inf
            return time.perf_counter() - t0

        views = {
            "first page": {"order_by": ["attributes.start_time DESC"]},
            "sort by a metric": {"order_by": ["metrics.m0 DESC"]},
            "filter": {"filter": FILTER, "order_by": ["attributes.start_time DESC"]},
            "filter + sort": {"filter": FILTER, "order_by": ["metrics.m1 ASC"]},
            "status facet (failed)": {
                "filter": "attributes.status = 'FAILED'",
                "order_by": ["attributes.start_time DESC"],
            },
        }
        out: dict[str, float] = {"cold first page": post(views["first page"])}
        for label, body in views.items():
            times = []
            for _ in range(repeats):
                times.append(post(body))
                if times[-1] == math.inf:  # so would every repeat
                    break
            out[label] = statistics.median(times)
        return out
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[Any]) -> None:
    """End a server started here (SIGKILL if it is still busy with a query after 10 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def _database(args: argparse.Namespace, directory: str) -> Iterator[str]:
    """The store's URL: SQLite in ``directory``, ``--store-url`` upgraded, or a new PostgreSQL database."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from skloop.store import upgrade_database

    if args.postgres is None:
        if args.store_url:
            upgrade_database(args.store_url)
        yield args.store_url or f"sqlite:///{directory}/skloop.db"
        return
    name = f"skloop_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=20, help="steps per metric (5 metrics): 100 points per run")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--store-url", help="an empty PostgreSQL database to upgrade and seed (default: SQLite in a temporary folder)"
    )
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="a PostgreSQL server's admin URL: seed a new database skloop_bench_<random> there, dropped at the end",
    )
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument(
        "--mlflow-repeats", type=int, default=1, help="timed MLflow searches per view (each can take a minute)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as d, _database(args, d) as url:
        seeded = seed_skloop(url, f"{d}/artifacts", args.runs, args.steps)
        print(
            f"store: {args.runs:,} runs x {N_PARAMS} params x {N_METRICS} metrics, {seeded['n_points']:,} metric "
            f"points; seeded in {seeded['t_runs']:.1f} s (import_runs) + {seeded['t_points']:.1f} s "
            f"(import_metric_history) on {url.split(':', 1)[0]}"
        )
        facets = time_facets(url, f"{d}/artifacts", args.repeats)
        print("store facets (s):", json.dumps(facets), flush=True)
        step = max(1, args.runs // N_COMPARED)
        compared = [r.id for r in seeded["runs"][::step][:N_COMPARED]]
        sk = skloop_requests(url, f"{d}/artifacts", args.repeats, compared)
        print("skloop ui (s):", json.dumps(sk), flush=True)  # kept if the MLflow half is stopped
        ml: dict[str, float] = {}
        if not args.no_mlflow:
            try:
                uri, exp, t_seed = seed_mlflow(Path(d), seeded["runs"], args.steps)
                print(f"MLflow store: the same rows, written through sqlite3 in {t_seed:.1f} s")
                ml = mlflow_requests(Path(d), uri, exp, args.mlflow_repeats)
                print("MLflow search (s):", json.dumps(ml), flush=True)
            except ImportError:
                print("MLflow is not importable: its half is skipped (pip install 'mlflow>=3.17,<3.18')")
    print(f"\n{'request (median)':<34}{'skloop ui (s)':>14}{'MLflow search (s)':>19}"
          f"{'MLflow/skloop':>15}")  # fmt: skip
    for label in ("cold first page", "first page", "sort by a metric", "filter", "filter + sort", "page 2",
                  "page 1,000 (offset 49,950)", "status facet (failed)", "tag facet (team = risk)",
                  f"compare {N_COMPARED} runs (curves)", "count: all runs (cap 10,000)",
                  "count: filter", "count: filter, exact on demand", "count: all runs, exact on demand"):  # fmt: skip
        mine, theirs = sk.get(label), ml.get(label)
        if mine is None:
            continue
        if theirs is None:
            shown = f"{'—':>19}{'—':>15}"
        elif theirs == math.inf:
            shown = f"{'> 120':>19}{'> ' + format(120 / mine, '.0f'):>14}x"
        else:
            shown = f"{theirs:>19.4f}{theirs / mine:>14.1f}x"
        print(f"{label:<34}{mine:>14.4f}{shown}")
    for label, seconds in facets.items():
        print(f"store.runs.facets: {label:<40}{seconds:>9.4f} s")
    paint = sk["paint"]
    if paint:
        print(f"Chromium, runs page: first contentful paint {paint['fcp']:.0f} ms, load {paint['load']:.0f} ms")
    load = ", ".join(f"{x:.2f}" for x in load_before)
    print(f"machine: {os.cpu_count()} cores; load average {load} before, {os.getloadavg()[0]:.2f} after (1 min)")


if __name__ == "__main__":
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show as they come
    main()
