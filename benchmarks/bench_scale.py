"""Scale benchmark: a search on local loky processes vs a dask.distributed cluster, and
scoring / monitoring a large Parquet file partition by partition on the cluster.

1. **Search**: the bundled churn example (``init_example``, 20,000 rows), a
   LogisticRegression grid of 6 candidates x 5 folds, trained by skloop with
   ``search.backend: local`` (joblib loky, ``n_jobs: 2``) and with ``backend: dask`` on
   a ``LocalCluster`` of 2 worker processes (started before the timer); the CV scores
   are compared (they must be equal).
2. **Scale**: for each ``--rows`` (default 1,000,000 and 10,000,000) a churn Parquet
   file is generated at run time in row groups of ``--row-group`` rows (a 250,000-row
   base drawn by :func:`skloop.data.make_churn`, each row group a seeded resampling of
   it with shifted charges, so generating 10M rows takes seconds, not minutes), then,
   each in its own process so that peak memory belongs to one step:

   - ``skloop predict`` locally (the streaming reader) and with ``--scheduler``;
   - ``skloop monitor --current`` locally (reads the table whole) and with ``--scheduler``
     (partition by partition into the streaming accumulators).

   Peak RSS is ``VmHWM`` of ``/proc/<pid>/status``: the command's own process, and for
   the dask runs the largest worker's (read on each worker with ``client.run``). The
   ratios show time and memory 10M/1M (memory must not grow with the file on dask) and
   dask/local.

Usage::

    python benchmarks/bench_scale.py [--rows 1000000 10000000] [--row-group 500000] [--skip-local-monitor-above N]
        [--where local dask] [--no-search]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE_ROWS = 250_000

SPEC = """\
name: churn
seed: 7
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.linear_model.LogisticRegression
    params: {{max_iter: 2000}}
search:
  strategy: grid
  space:
    model__C: [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
  cv: {{folds: 5}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 2
  backend: {backend}
registry: {{enabled: true}}
"""


def vm_hwm_mb() -> float:
    """This process's peak resident memory (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SKLOOP_DASK_SCHEDULER", None)
    return env


# --- data ---------------------------------------------------------------------------


def write_table(path: Path, rows: int, row_group: int) -> float:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skloop.data import make_churn

    started = time.perf_counter()
    base = make_churn(BASE_ROWS, seed=101, shift=0.3).drop(columns="churned")
    writer = None
    try:
        for i, start in enumerate(range(0, rows, row_group)):
            n = min(row_group, rows - start)
            rng = np.random.default_rng(1000 + i)
            part = base.iloc[rng.integers(0, BASE_ROWS, n)].reset_index(drop=True)
            part["customer_id"] = [f"C{start + j:09d}" for j in range(n)]
            part["monthly_charges"] = part["monthly_charges"] * rng.normal(1.05, 0.05, n)
            table = pa.Table.from_pandas(part, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group)
    finally:
        if writer is not None:
            writer.close()
    return time.perf_counter() - started


# --- one measured step, in its own process --------------------------------------------


def worker(step: str, project: str, table: str, scheduler: str | None) -> dict[str, Any]:
    from skloop.integrations import connect
    from skloop.workflows import Project

    proj = Project.load(Path(project) / "skloop.yaml")
    started = time.perf_counter()
    out: dict[str, Any] = {}
    try:
        if scheduler is None:
            if step == "predict":
                out["rows"] = proj.predict_file(table, Path(tempfile.mkdtemp()) / "scores.parquet").rows
            else:
                out["drifted"] = proj.monitor(table, n_boot=50).drifted
            out["worker_peak_mb"] = None
        else:
            with connect(scheduler) as cluster:
                if step == "predict":
                    out["rows"] = proj.predict_file(table, Path(tempfile.mkdtemp()) / "s.parquet", dask=cluster).rows
                else:
                    out["drifted"] = proj.monitor(table, n_boot=50, dask=cluster).drifted
                peaks = cluster.client.run(vm_hwm_mb)
                out["worker_peak_mb"] = max(peaks.values())
    finally:
        proj.close()
    out["seconds"] = time.perf_counter() - started
    out["peak_mb"] = vm_hwm_mb()
    return out


def _run(step: str, project: Path, table: Path, scheduler: str | None) -> dict[str, Any]:
    args = [sys.executable, __file__, "--worker", step, str(project), str(table), scheduler or "-"]
    done = subprocess.run(args, capture_output=True, text=True, env=_env(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- the search -----------------------------------------------------------------------


def search(root: Path, scheduler: str, backends: tuple[str, ...] = ("local", "dask")) -> dict[str, Any]:
    from skloop.workflows import Project, init_example

    results: dict[str, Any] = {}
    for backend in backends:
        folder = root / f"search-{backend}"
        init_example(folder, n_rows=20_000, force=True)
        spec = SPEC.format(backend=backend)
        if backends == ("local",):  # no search to compare: one candidate, two folds, just a model to score with
            spec = spec.replace("strategy: grid", "strategy: none").replace("folds: 5", "folds: 2")
        (folder / "skloop.yaml").write_text(spec)
        os.environ.pop("SKLOOP_DASK_SCHEDULER", None)
        if backend == "dask":
            os.environ["SKLOOP_DASK_SCHEDULER"] = scheduler
        with Project.load(folder / "skloop.yaml") as project:
            started = time.perf_counter()
            result = project.train()
            results[backend] = {"seconds": time.perf_counter() - started, "cv": result.cv,
                                "version": result.model_version, "folder": folder}  # fmt: skip
            if backend == "local" and result.model_version is not None:
                project.promote(result.model_version, force=True)
        os.environ.pop("SKLOOP_DASK_SCHEDULER", None)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--row-group", type=int, default=500_000)
    parser.add_argument("--skip-local-monitor-above", type=int, default=10_000_000,
                        help="local monitor reads the whole table: skip it above this many rows")  # fmt: skip
    parser.add_argument("--no-search", action="store_true",
                        help="skip the dask search (train the model to score locally only)")  # fmt: skip
    parser.add_argument("--where", nargs="+", choices=("local", "dask"), default=["local", "dask"],
                        help="run the steps locally, on the cluster, or both (default)")  # fmt: skip
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        step, project, table, scheduler = args.worker
        print(json.dumps(worker(step, project, table, None if scheduler == "-" else scheduler)))
        return
    sys.path.insert(0, str(ROOT / "src"))
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp, LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:  # fmt: skip
        root = Path(tmp)
        address = cluster.scheduler_address
        found = search(root, address, ("local",) if args.no_search else ("local", "dask"))
        local = found["local"]
        if not args.no_search:
            dask = found["dask"]
            same = local["cv"] == dask["cv"]
            ratio = dask["seconds"] / local["seconds"]
            print(f"search, 6 candidates x 5 folds on 16,000 rows: local loky (n_jobs=2) {local['seconds']:.1f} s, "
                  f"dask LocalCluster (2 workers) {dask['seconds']:.1f} s, dask/local {ratio:.2f}; "
                  f"CV scores equal: {same}", flush=True)  # fmt: skip
        project = local["folder"]
        rows_out: list[dict[str, Any]] = []
        for rows in args.rows:
            table = root / f"table-{rows}.parquet"
            gen = write_table(table, rows, args.row_group)
            size = table.stat().st_size / 1e6
            print(f"\n{rows:,} rows: generated in {gen:.1f} s, {size:.0f} MB Parquet", flush=True)
            for step in ("predict", "monitor"):
                for where in args.where:
                    if step == "monitor" and where == "local" and rows > args.skip_local_monitor_above:
                        print(f"  {step:8} {where:6} skipped (reads the whole table; --skip-local-monitor-above)")
                        continue
                    r = _run(step, project, table, address if where == "dask" else None)
                    r.update(rows=rows, step=step, where=where)
                    rows_out.append(r)
                    wpeak = r["worker_peak_mb"]
                    worker_peak = "" if wpeak is None else f", largest worker {wpeak:.0f} MB"
                    print(f"  {step:8} {where:6} {r['seconds']:7.1f} s  peak RSS {r['peak_mb']:6.0f} MB{worker_peak}",
                          flush=True)  # fmt: skip
        print("\nratios")
        by = {(r["rows"], r["step"], r["where"]): r for r in rows_out}
        lo, hi = min(args.rows), max(args.rows)
        for step in ("predict", "monitor"):
            for where in ("local", "dask"):
                a, b = by.get((lo, step, where)), by.get((hi, step, where))
                if a and b and hi != lo:
                    print(f"  {step} {where}: {hi:,}/{lo:,} rows: time x{b['seconds'] / a['seconds']:.1f}, "
                          f"peak RSS x{b['peak_mb'] / a['peak_mb']:.2f}")  # fmt: skip
            for rows in args.rows:
                a, b = by.get((rows, step, "local")), by.get((rows, step, "dask"))
                if a and b:
                    print(f"  {step} {rows:,} rows: dask/local time {b['seconds'] / a['seconds']:.2f}, "
                          f"peak RSS {b['peak_mb'] / a['peak_mb']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
