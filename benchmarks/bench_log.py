"""Prediction-log benchmark: ``skloop monitor --from-log`` over a large log, before and after paging.

It trains the bundled churn example (a small random forest), promotes it, then logs
``--rows`` predictions of it (1,000,000 by default; ``--rows 10000000`` for issue 13's
10M) into a SQLite store through the store's bulk path
(:meth:`~skloop.store.PredictionStore.insert_predictions`: validated rows, one bulk
statement a 100,000-row chunk, a tenth labelled by entity), spread over the last 30 days, in
stages (``--stages``, shares of ``--rows``). After each stage it monitors the log, each
run in its own process so that its peak memory (``ru_maxrss``) is its own:

- **legacy**: the code before paging: ``query_predictions`` (one
  :class:`~skloop.store.Prediction` and its dicts per row), ``log_frame``, ``monitor_frame``;
- **one page**: :func:`~skloop.workflows.monitor_model` with ``page_size=None``
  (the whole history read as one page: columnar, but all of it at once);
- **paged**: the same with ``--page-size`` rows a page (10,000): what
  ``skloop monitor NAME --from-log`` does.

Times are measured inside each process after its imports (reading the model and its
reference included). ``--max-legacy-rows`` skips the first two above that many rows
(they hold the whole log in memory). The table shows seconds, peak RSS and the share of
drifted features (the same verdict in every mode).

Usage::

    python benchmarks/bench_log.py [--rows 1000000] [--stages 0.1 1] [--page-size 10000]
        [--n-boot 200] [--dir DIR] [--max-legacy-rows 2000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 100_000
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
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def setup(work: Path) -> None:
    """The example project, trained and promoted, in ``work``."""
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


def log_rows(work: Path, first: int, n: int, total: int) -> float:
    """Score and log rows ``first .. first + n`` (times spread over 30 days); seconds spent storing."""
    import numpy as np

    from skloop.core import utcnow
    from skloop.data import make_churn
    from skloop.registry import Registry
    from skloop.workflows import Project

    project = Project.load(work / "skloop.yaml")
    stored = 0.0
    try:
        registry = Registry(project.store)
        version = registry.resolve("churn@champion")
        model = registry.load_model(version.ref)
        end = utcnow()
        span = timedelta(days=30).total_seconds()
        for start in range(first, first + n, CHUNK):
            size = min(CHUNK, first + n - start)
            frame = make_churn(size, seed=1000 + start // CHUNK, shift=0.5 * start / total)
            frame["customer_id"] = [f"C{start + i}" for i in range(size)]
            target = frame.pop("churned")
            proba = model.predict_proba(frame)
            classes = [str(c) for c in model.classes_]
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            offsets = (np.arange(start, start + size) / total - 1.0) * span
            records = [
                {"request_id": f"bench-{(start + i) // 100}", "row": (start + i) % 100, "model": "churn",
                 "time": end + timedelta(seconds=float(offsets[i])), "version": version.version,
                 "entity_id": row["customer_id"], "inputs": {k: (str(v) if hasattr(v, "isoformat") else v)
                                                             for k, v in row.items()},
                 "outputs": {"prediction": classes[int(proba[i].argmax())],
                             "probabilities": dict(zip(classes, map(float, proba[i]), strict=True))}}
                for i, row in enumerate(rows)
            ]  # fmt: skip
            t0 = time.perf_counter()
            project.store.predictions.insert_predictions(records)
            labelled = [{"entity_id": row["customer_id"], "label": str(int(t))}
                        for row, t in zip(rows[::10], target.to_numpy()[::10], strict=True)]  # fmt: skip
            project.store.predictions.insert_labels("churn", labelled)
            stored += time.perf_counter() - t0
    finally:
        project.close()
    return stored


def monitor_once(work: Path, mode: str, page_size: int, n_boot: int) -> dict[str, Any]:
    """One monitor run (in this process): seconds, peak MB, rows and verdict."""
    from skloop.workflows import Project, monitor_model

    project = Project.load(work / "skloop.yaml")
    try:
        t0 = time.perf_counter()
        if mode == "legacy":
            from skloop.monitor import log_frame, monitor_frame
            from skloop.workflows._monitor import _report_args, load_monitor_inputs

            inputs = load_monitor_inputs(project.store, "churn", project.settings)
            log = log_frame(project.store.predictions.query_predictions("churn"))
            report = monitor_frame(log, inputs.reference, **_report_args(inputs), n_boot=n_boot, seed=0)
        else:
            size = None if mode == "one page" else page_size
            report = monitor_model(
                project.store, "churn", project.settings, from_log=True, n_boot=n_boot, page_size=size
            )
        seconds = time.perf_counter() - t0
    finally:
        project.close()
    return {"mode": mode, "seconds": round(seconds, 2), "peak_mb": round(_peak_mb()), "rows": report.drift.n_current,
            "share": round(report.drift.share, 3)}  # fmt: skip


def _child(work: Path, mode: str, page_size: int, n_boot: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--dir", str(work), "--page-size", str(page_size),
           "--n-boot", str(n_boot)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=work)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stages", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temporary folder)")
    parser.add_argument("--max-legacy-rows", type=int, default=2_000_000)
    parser.add_argument("--log-only", action="store_true", help="log the rows, monitor nothing (then --monitor-only)")
    parser.add_argument("--monitor-only", action="store_true", help="monitor the log already in --dir")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(monitor_once(args.dir, args.child, args.page_size, args.n_boot)))
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="skloop-bench-log-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.pop("SKLOOP_STORE_URL", None)
    os.environ.pop("SKLOOP_ARTIFACT_ROOT", None)
    print(f"work folder {work}; {args.rows:,} rows in stages {args.stages}; page size {args.page_size:,}")
    if not args.monitor_only:
        setup(work)
    logged = 0
    results = []
    for share in sorted(args.stages):
        target = round(args.rows * share)
        if args.monitor_only:
            logged = target
        elif target > logged:
            stored = log_rows(work, logged, target - logged, args.rows)
            print(f"logged {target - logged:,} rows in {stored:.1f} s ({(target - logged) / stored:,.0f} rows/s)")
            logged = target
        if args.log_only:
            continue
        modes = ["legacy", "one page", "paged"] if logged <= args.max_legacy_rows else ["paged"]
        for mode in modes:
            result = {"logged": logged, **_child(work, mode, args.page_size, args.n_boot)}
            results.append(result)
            print(f"{logged:>11,} rows  {mode:<9} {result['seconds']:>8.1f} s  {result['peak_mb']:>7,} MB peak  "
                  f"drift share {result['share']}", flush=True)  # fmt: skip
    db = work / ".skloop" / "skloop.db"
    if db.exists():
        print(f"store {db.stat().st_size / 2**30:.2f} GiB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
