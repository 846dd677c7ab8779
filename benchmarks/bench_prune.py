"""Retention benchmark: ``skloop db prune --older-than 25d`` on a 10,000,000-row prediction log.

For each back end asked (``--backend postgres sqlite``), it makes a fresh store (a new
PostgreSQL database ``--pg-database`` on ``--pg-server``, dropped at the end; or a SQLite
file in ``--dir``), trains and promotes the bundled churn example in it, then loads
``--rows`` predictions of that model spread over the last 30 days, a tenth of them
labelled (half by entity, half by ``request_id, row``):

- ``--template`` rows (100,000) are scored by the model and checked into the store's row
  values by :func:`skloop.store._predictions.prediction_values` (the bulk path's own
  check), then staged in a temporary table;
- the log itself is generated in SQL from them (``generate_series`` on PostgreSQL, a
  recursive CTE on SQLite), a million rows a transaction, in time order; the per-minute
  rollups are recounted from the rows by the store's ``refresh_minutes``.

A loop decision is left open (``running``), evaluated 25.5 days ago; the spec's loop
reads 12 h back, so its rows from 26 days ago on must be kept although older than the
cutoff. Then the real command runs under ``/usr/bin/time -v`` (peak RSS, wall, CPU)::

    skloop db prune --older-than 25d --json

and the benchmark checks: the rows deleted are exactly those before the kept bound;
the kept rows are all there; ``count(*)``, an index-only count and the rollups' sum agree;
no label is left without its prediction; ``skloop monitor churn --from-log --since 1d``
still runs on what remains (also under ``/usr/bin/time -v``).

Usage::

    python benchmarks/bench_prune.py [--rows 10000000] [--backend postgres sqlite] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
name: churn
seed: 42
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 30, max_depth: 8, n_jobs: 1}
search:
  strategy: none
  cv: {folds: 3}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
loop:
  monitor_history: 12h
  data: {window: 12h}
  probation: {window: 12h}
"""
SPAN = timedelta(days=30)
DECISION_AGE = timedelta(days=25, hours=12)
REACH = timedelta(hours=12)
CHUNK = 1_000_000


def setup(work: Path) -> None:
    """The example project, trained and promoted, in ``work`` (store from the environment)."""
    from skloop.registry import Registry
    from skloop.workflows import Project, init_example

    init_example(work, n_rows=4000, force=True)
    (work / "skloop.yaml").write_text(SPEC)
    project = Project.load(work / "skloop.yaml")
    try:
        result = project.train()
        assert result.model_version is not None
        Registry(project.store).promote("churn", result.model_version, alias="champion", reason="benchmark")
    finally:
        project.close()


def template(work: Path, n: int) -> tuple[int, list[tuple[int, str | None, str | None, str | None, str]]]:
    """``n`` scored rows as the store checks them: (j, prediction, inputs, outputs, label); and the version."""
    from skloop.core import utcnow
    from skloop.data import make_churn
    from skloop.registry import Registry
    from skloop.store._predictions import prediction_values
    from skloop.workflows import Project

    project = Project.load(work / "skloop.yaml")
    try:
        registry = Registry(project.store)
        version = registry.resolve("churn@champion")
        model = registry.load_model(version.ref)
    finally:
        project.close()
    frame = make_churn(n, seed=7, shift=0.3)
    target = frame.pop("churned")
    proba = model.predict_proba(frame)
    classes = [str(c) for c in model.classes_]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    now = utcnow()
    out = []
    for j, row in enumerate(rows):
        record = {"request_id": "t", "row": 0, "model": "churn", "time": now, "version": version.version,
                  "inputs": {k: (str(v) if hasattr(v, "isoformat") else v) for k, v in row.items()},
                  "outputs": {"prediction": classes[int(proba[j].argmax())],
                              "probabilities": dict(zip(classes, map(float, proba[j]), strict=True))}}  # fmt: skip
        values = prediction_values(record, j)
        out.append((j, values[7], values[8], values[9], str(int(target.iloc[j]))))
    return version.version, out


def _pg_sql(start: datetime, step_us: float, version: int, n_template: int) -> tuple[str, str]:
    rows = (
        'INSERT INTO predictions (request_id, correlation_id, "row", "time", model, version, entity_id, '
        "prediction, inputs, outputs, flags) "
        f"SELECT 'bench-' || (n / 100), NULL, (n % 100)::int, "
        f"TIMESTAMPTZ '{start.isoformat()}' + make_interval(secs => (n * {step_us / 1e6!r})::float8), "
        f"'churn', {version}, "
        f"'C' || n, t.prediction, t.inputs, t.outputs, NULL "
        f"FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS n "
        f"JOIN bench_template t ON t.j = n % {n_template}"
    )
    labels = (
        'INSERT INTO labels (model, entity_id, request_id, "row", label, "time") '
        "SELECT 'churn', CASE WHEN n % 20 = 0 THEN 'C' || n END, "
        "CASE WHEN n % 20 = 10 THEN 'bench-' || (n / 100) END, CASE WHEN n % 20 = 10 THEN (n % 100)::int END, "
        f"t.label, now() FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1, 10) AS n "
        f"JOIN bench_template t ON t.j = n % {n_template}"
    )
    return rows, labels


def _sqlite_sql(start: datetime, step_us: float, version: int, n_template: int) -> tuple[str, str]:
    series = "WITH RECURSIVE s(n) AS (SELECT :lo UNION ALL SELECT n + {by} FROM s WHERE n + {by} < :hi) "
    t0 = start.timestamp()
    # the store's SQLite text form of a UTC time: 'YYYY-MM-DD HH:MM:SS.ffffff'
    when = (
        f"strftime('%Y-%m-%d %H:%M:%S', {t0!r} + n * {step_us / 1e6!r}, 'unixepoch') || '.' || "
        f"printf('%06d', CAST(({t0!r} + n * {step_us / 1e6!r}) * 1e6 AS INTEGER) % 1000000)"
    )
    rows = (
        series.format(by=1) + 'INSERT INTO predictions (request_id, correlation_id, "row", "time", model, version, '
        "entity_id, prediction, inputs, outputs, flags) "
        f"SELECT 'bench-' || (n / 100), NULL, n % 100, {when}, 'churn', {version}, 'C' || n, t.prediction, "
        f"t.inputs, t.outputs, NULL FROM s JOIN bench_template t ON t.j = n % {n_template}"
    )
    labels = (
        series.format(by=10) + 'INSERT INTO labels (model, entity_id, request_id, "row", label, "time") '
        "SELECT 'churn', CASE WHEN n % 20 = 0 THEN 'C' || n END, "
        "CASE WHEN n % 20 = 10 THEN 'bench-' || (n / 100) END, CASE WHEN n % 20 = 10 THEN n % 100 END, "
        f"t.label, strftime('%Y-%m-%d %H:%M:%f000', 'now') FROM s JOIN bench_template t ON t.j = n % {n_template}"
    )
    return rows, labels


def load(url: str, work: Path, rows: int, n_template: int) -> dict[str, Any]:
    """Generate the log in ``url``'s store; open the decision; return the times and bounds."""
    from sqlalchemy import text

    from skloop.core import utcnow
    from skloop.store import Store
    from skloop.store._serving_minutes import refresh_minutes

    version, tpl = template(work, n_template)
    store = Store(url, work / ".skloop" / "artifacts")
    engine = store.db.engine
    pg = engine.dialect.name == "postgresql"
    end = utcnow()
    start = end - SPAN
    step_us = SPAN.total_seconds() * 1e6 / rows
    sql_rows, sql_labels = (_pg_sql if pg else _sqlite_sql)(start, step_us, version, n_template)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        kind = "json" if pg else "TEXT"
        conn.execute(text(f"CREATE TABLE bench_template (j integer PRIMARY KEY, prediction text, inputs {kind}, "
                          f"outputs {kind}, label text)"))  # fmt: skip
        conn.execute(
            text("INSERT INTO bench_template VALUES (:j, :p, :i, :o, :l)"),
            [{"j": j, "p": p, "i": i, "o": o, "l": lab} for j, p, i, o, lab in tpl],
        )
    for lo in range(0, rows, CHUNK):
        with engine.begin() as conn:
            bounds = {"lo": lo, "hi": min(rows, lo + CHUNK)}
            conn.execute(text(sql_rows), bounds)
            conn.execute(text(sql_labels), bounds)
        print(f"  {bounds['hi']:>11,} rows loaded, {time.perf_counter() - t0:7.1f} s", flush=True)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_template"))
        refresh_minutes(conn)
    loaded = time.perf_counter() - t0
    t1 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for sql in ("VACUUM ANALYZE predictions", "ANALYZE labels") if pg else ("ANALYZE",):
            conn.execute(text(sql))
    analyzed = time.perf_counter() - t1
    evaluated_at = end - DECISION_AGE
    store.loop.create_decision("churn", evaluated_at=evaluated_at, details={"benchmark": "bench_prune"})
    store.close()
    return {"load_s": round(loaded, 1), "analyze_s": round(analyzed, 1), "bound": evaluated_at - REACH, "end": end}


def counts(url: str, bound: datetime) -> dict[str, Any]:
    """Row counts, an index-only count, the rollups' sum and orphaned labels."""
    from sqlalchemy import create_engine, text

    from skloop.store._prediction_bulk import sqlite_time

    engine = create_engine(url)
    pg = engine.dialect.name == "postgresql"
    at = bound if pg else sqlite_time(bound)
    index_only = "SELECT count(*) FROM predictions WHERE model = 'churn' AND \"time\" >= :lo"
    lo = datetime(1970, 1, 1).isoformat(" ") if not pg else datetime.fromisoformat("1970-01-01T00:00:00+00:00")
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        one = lambda sql, **kw: conn.execute(text(sql), kw).scalar_one()  # noqa: E731
        out["predictions"] = one("SELECT count(*) FROM predictions")
        out["index_only_count"] = one(index_only, lo=lo)
        plan = conn.execute(text(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + index_only), {"lo": lo}).all()
        out["index_only_plan"] = " | ".join(str(r[-1]) for r in plan)
        out["before_bound"] = one('SELECT count(*) FROM predictions WHERE "time" < :at', at=at)
        out["from_bound"] = one('SELECT count(*) FROM predictions WHERE "time" >= :at', at=at)
        out["rollup_rows"] = int(one('SELECT coalesce(sum("rows"), 0) FROM prediction_minutes'))
        out["labels"] = one("SELECT count(*) FROM labels")
        out["orphan_row_labels"] = one(
            "SELECT count(*) FROM labels l WHERE l.request_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM predictions p "
            'WHERE p.request_id = l.request_id AND p."row" = l."row")'
        )
        out["orphan_entity_labels"] = one(
            "SELECT count(*) FROM labels l WHERE l.entity_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM predictions p "
            "WHERE p.model = l.model AND p.entity_id = l.entity_id)"
        )
    engine.dispose()
    return out


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``cmd`` under ``/usr/bin/time -v``: the process, and its wall seconds, CPU seconds and peak RSS (MB)."""
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, cwd=cwd)
    err = done.stderr

    def field(name: str) -> str:
        match = re.search(rf"{re.escape(name)}: (.+)", err)
        return match.group(1).strip() if match else "nan"

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return done, {"wall_s": round(wall, 1), "user_s": float(field("User time (seconds)")),
                  "sys_s": float(field("System time (seconds)")),
                  "peak_mb": round(int(field("Maximum resident set size (kbytes)")) / 1024)}  # fmt: skip


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    work = args.dir / backend
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT")}
    env["PYTHONPATH"] = str(ROOT / "src")
    admin = None
    if backend == "postgres":
        admin = create_engine(f"{args.pg_server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.pg_database}"'))
            conn.execute(text(f'CREATE DATABASE "{args.pg_database}"'))
        url = f"{args.pg_server}/{args.pg_database}"
        env["SKLOOP_STORE_URL"] = url
        from skloop.store import upgrade_database

        upgrade_database(url)
    else:
        db = work / ".skloop" / "skloop.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    os.environ.clear()
    os.environ.update(env)
    try:
        t0 = time.perf_counter()
        setup(work)
        print(f"[{backend}] trained and promoted churn in {time.perf_counter() - t0:.1f} s", flush=True)
        loaded = load(url, work, args.rows, args.template)
        print(f"[{backend}] loaded {args.rows:,} rows in {loaded['load_s']} s (analyze {loaded['analyze_s']} s)")
        before = counts(url, loaded["bound"])
        print(f"[{backend}] before: {json.dumps(before)}", flush=True)
        cli = [sys.executable, "-m", "skloop.cli"]
        load_avg = os.getloadavg()
        done, prune = timed([*cli, "db", "prune", "--older-than", "25d", "--json", "--spec", str(work)], env, work)
        if done.returncode != 0:
            raise SystemExit(f"prune failed ({done.returncode}): {done.stdout}\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout)
        print(f"[{backend}] prune: {json.dumps(prune)}, load average {load_avg}; {json.dumps(result)}", flush=True)
        after = counts(url, loaded["bound"])
        print(f"[{backend}] after: {json.dumps(after)}", flush=True)
        checks = {
            "deleted = rows before the kept bound": result["predictions"] == before["before_bound"],
            "nothing left before the bound": after["before_bound"] == 0,
            "kept rows all there": after["from_bound"] == before["from_bound"],
            "kept > 0": result["kept"] > 0,
            "count(*) = index-only count = rollups": after["predictions"]
            == after["index_only_count"]
            == after["rollup_rows"],
            "labels deleted = labels gone": before["labels"] - after["labels"] == result["labels"],
            "no orphaned label": after["orphan_row_labels"] == 0 and after["orphan_entity_labels"] == 0,
        }
        monitor_cmd = [*cli, "monitor", "churn", "--from-log", "--since", "1d", "--n-boot", "0", "--no-store",
                       "--json", str(work / "monitor.json"), "--spec", str(work)]  # fmt: skip
        done, monitor = timed(monitor_cmd, env, work)
        report = json.loads((work / "monitor.json").read_text()) if done.returncode in (0, 3) else {}
        monitor["exit"] = done.returncode
        monitor["rows"] = report.get("n_current")
        monitor["drift_share"] = report.get("share")
        checks["monitor --from-log ran"] = done.returncode in (0, 3) and bool(monitor["rows"])
        print(f"[{backend}] monitor --since 1d: {json.dumps(monitor)}", flush=True)
        for name, ok in checks.items():
            print(f"[{backend}]   {'ok  ' if ok else 'FAIL'} {name}")
        return {"backend": backend, "rows": args.rows, **loaded, "before": before, "after": after,
                "prune": {**prune, **result}, "monitor": monitor, "checks": checks,
                "load_average": load_avg}  # fmt: skip
    finally:
        if admin is not None:
            if not args.keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--template", type=int, default=100_000, help="distinct scored rows the log repeats")
    parser.add_argument("--backend", nargs="+", choices=["postgres", "sqlite"], default=["postgres", "sqlite"])
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temporary folder)")
    parser.add_argument("--pg-server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="skloop_prune_bench")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    args.dir = args.dir or Path(tempfile.mkdtemp(prefix="skloop-bench-prune-"))
    print(f"work folder {args.dir}; {args.rows:,} rows; load average {os.getloadavg()}", flush=True)
    results = [run_backend(b, args) for b in args.backend]
    print(json.dumps(results, default=str))
    if not all(all(r["checks"].values()) for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
