"""Shadow benchmark: ``skloop monitor --from-log --shadow`` over a log of champion/shadow pairs.

It trains the bundled churn example twice (the champion: 30 trees of depth 8; the
challenger: 10 trees of depth 4), promotes them ``champion`` and ``challenger``, then logs
``--rows`` predictions as ``skloop serve churn --shadow challenger`` writes them (each
record the champion's outputs with the challenger's under ``outputs["shadow"]``; a tenth
labelled by entity) into a SQLite store through the store's bulk path, spread over the
last 30 days. Then it monitors the log twice, each run in its own process (its own peak
RSS): without ``--shadow`` (the plain report) and with it, so the table shows what the
shadow section adds to the same pass over the pages, and the agreement rate found
against the one computed from the logged pairs as they were written.

Usage::

    python benchmarks/bench_shadow.py [--rows 1000000] [--page-size 10000] [--n-boot 0] [--dir DIR]
        [--log-only | --monitor-only]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_log import SPEC  # the same churn project as the prediction-log benchmark

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 100_000
CHALLENGER = SPEC.replace("n_estimators: 30, max_depth: 8", "n_estimators: 10, max_depth: 4")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def setup(work: Path) -> None:
    """The example project with a champion and a challenger, in ``work``."""
    from skloop.registry import Registry
    from skloop.workflows import Project, init_example

    init_example(work, n_rows=4000, force=True)
    for spec, alias in ((SPEC, "champion"), (CHALLENGER, "challenger")):
        (work / "skloop.yaml").write_text(spec)
        with Project.load(work / "skloop.yaml") as project:
            result = project.train()
            assert result.model_version is not None
            Registry(project.store).promote("churn", result.model_version, alias=alias, reason="benchmark")
    (work / "skloop.yaml").write_text(SPEC)


def log_pairs(work: Path, n: int) -> tuple[float, int]:
    """Score and log ``n`` rows with both models (times over 30 days); seconds storing, rows agreeing."""
    import numpy as np

    from skloop.core import utcnow
    from skloop.data import make_churn
    from skloop.registry import Registry
    from skloop.workflows import Project

    stored, agree = 0.0, 0
    with Project.load(work / "skloop.yaml") as project:
        registry = Registry(project.store)
        versions = [registry.resolve(f"churn@{a}") for a in ("champion", "challenger")]
        models = [registry.load_model(v.ref) for v in versions]
        end = utcnow()
        span = timedelta(days=30).total_seconds()
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            frame = make_churn(size, seed=2000 + start // CHUNK, shift=0.5 * start / n)
            frame["customer_id"] = [f"C{start + i}" for i in range(size)]
            target = frame.pop("churned")
            probas = [m.predict_proba(frame) for m in models]
            classes = [str(c) for c in models[0].classes_]
            labels = [np.asarray(classes, dtype=object)[p.argmax(axis=1)] for p in probas]
            agree += int((labels[0] == labels[1]).sum())
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            offsets = (np.arange(start, start + size) / n - 1.0) * span
            records = [
                {"request_id": f"bench-{(start + i) // 100}", "row": (start + i) % 100, "model": "churn",
                 "time": end + timedelta(seconds=float(offsets[i])), "version": versions[0].version,
                 "entity_id": row["customer_id"], "inputs": {k: (str(v) if hasattr(v, "isoformat") else v)
                                                             for k, v in row.items()},
                 "outputs": {"prediction": labels[0][i],
                             "probabilities": dict(zip(classes, map(float, probas[0][i]), strict=True)),
                             "shadow": {"version": versions[1].version, "prediction": labels[1][i],
                                        "probabilities": dict(zip(classes, map(float, probas[1][i]), strict=True))}}}
                for i, row in enumerate(rows)
            ]  # fmt: skip
            t0 = time.perf_counter()
            project.store.predictions.insert_predictions(records)
            labelled = [{"entity_id": row["customer_id"], "label": str(int(t))}
                        for row, t in zip(rows[::10], target.to_numpy()[::10], strict=True)]  # fmt: skip
            project.store.predictions.insert_labels("churn", labelled)
            stored += time.perf_counter() - t0
    return stored, agree


def monitor_once(work: Path, shadow: bool, page_size: int, n_boot: int) -> dict[str, Any]:
    """One monitor run in this process: seconds, peak MB, rows, and the shadow section's numbers."""
    from skloop.workflows import Project, monitor_model

    with Project.load(work / "skloop.yaml") as project:
        t0 = time.perf_counter()
        report = monitor_model(
            project.store, "churn", project.settings, from_log=True, shadow=shadow, n_boot=n_boot, page_size=page_size
        )
        seconds = time.perf_counter() - t0
    s = report.shadow
    out = {"shadow": shadow, "seconds": round(seconds, 2), "peak_mb": round(_peak_mb()), "rows": report.drift.n_current}
    if s is not None:
        c = s.comparison
        out |= {"pairs": s.n_shadowed, "agreement": s.agreement, "labelled": s.n_labelled,
                "test": None if c is None else f"{c.metric} {c.method} p={c.p_value}"}  # fmt: skip
    return out


def _child(work: Path, shadow: bool, page_size: int, n_boot: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "shadow" if shadow else "plain", "--dir", str(work),
           "--page-size", str(page_size), "--n-boot", str(n_boot)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=work)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--n-boot", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temporary folder)")
    parser.add_argument("--log-only", action="store_true", help="log the pairs, monitor nothing")
    parser.add_argument("--monitor-only", action="store_true", help="monitor the log already in --dir")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(monitor_once(args.dir, args.child == "shadow", args.page_size, args.n_boot)))
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="skloop-bench-shadow-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.pop("SKLOOP_STORE_URL", None)
    os.environ.pop("SKLOOP_ARTIFACT_ROOT", None)
    print(f"work folder {work}; {args.rows:,} logged pairs; page size {args.page_size:,}", flush=True)
    if not args.monitor_only:
        setup(work)
        stored, agree = log_pairs(work, args.rows)
        print(f"logged {args.rows:,} pairs in {stored:.1f} s ({args.rows / stored:,.0f} rows/s); "
              f"agreement as written {agree / args.rows:.6f}", flush=True)  # fmt: skip
    if args.log_only:
        return
    results = []
    for shadow in (False, True):
        result = _child(work, shadow, args.page_size, args.n_boot)
        results.append(result)
        print(f"{result['rows']:>11,} rows  {'--shadow' if shadow else 'plain':<9} {result['seconds']:>8.1f} s  "
              f"{result['peak_mb']:>7,} MB peak  {result.get('agreement', '')}", flush=True)  # fmt: skip
    if len(results) == 2 and results[0]["seconds"]:
        print(f"--shadow / plain: {results[1]['seconds'] / results[0]['seconds']:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
