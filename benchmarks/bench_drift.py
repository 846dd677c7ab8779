"""Drift benchmark: skloop's monitor against Evidently's DataDriftPreset on the same Parquet files.

For each size (100,000 and 1,000,000 rows a side by default) it writes a reference and
a current table (20 columns: 15 numeric, 5 categorical; exactly 5 shifted: 3 numeric,
2 categorical; seeded) to a temporary folder, then runs, each in its own process so
that peak memory (``ru_maxrss``) belongs to one tool:

- skloop **reference**: :func:`skloop.monitor.reference_summary` of the reference file
  (done once, at training, like the profile), written as JSON;
- skloop **compare**: load that JSON and :func:`skloop.monitor.compare_data_files` the
  current file, streamed in record batches; then again with ``threshold: learned`` (each
  column's band from 50 reference chunks of the current's size, see
  :mod:`skloop.monitor._learned`); then with the issue-15 tests: Anderson–Darling on every
  numeric column (on the streamed cells beyond 100,000 rows), Hellinger on three
  categorical columns and L-infinity on two (``new``), and the same with learned thresholds
  (``new-learned``); then the report with everything: learned thresholds plus
  multivariate drift (PCA reconstruction error, domain classifier) of the 20 columns,
  the reference rows read from their file and the current streamed once, for both;
- **Evidently** 0.7.23 ``Report([DataDriftPreset()])`` on both files read with pandas
  (it needs pandas < 3, so it runs in its own venv: ``--evidently-python``, default
  ``.venv-evidently/bin/python``; create it with
  ``python3 -m venv .venv-evidently && .venv-evidently/bin/pip install 'evidently==0.7.23' 'pandas<3' pyarrow``).

skloop's compare and its report with everything run again after Evidently, so that they
meet the load Evidently's long run met; the slower of the two timings makes the ratio.
Times are measured inside each process after its imports; the table shows seconds,
peak memory, whether exactly the 5 shifted columns were flagged, and the ratios.
Both use their default rule at these sizes: normed Wasserstein (numeric) and
Jensen–Shannon (categorical), threshold 0.1.

Usage::

    python benchmarks/bench_drift.py [--rows 100000 1000000] [--evidently-python PATH] [--no-evidently]
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
N_NUMERIC, N_CATEGORICAL = 15, 5
SHIFTED = ("num_00", "num_05", "num_10", "cat_0", "cat_3")
CHUNK = 250_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


# --- data ---------------------------------------------------------------------------


def _chunk(rng: Any, n: int, shifted: bool) -> Any:
    import numpy as np
    import pandas as pd

    cols: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        name = f"num_{i:02d}"
        s = shifted and name in SHIFTED
        kind = i % 5
        if kind == 0:
            cols[name] = rng.normal(10 + 0.3 * s, 1.0, n)  # mean +0.3 std
        elif kind == 1:
            cols[name] = rng.lognormal(3.0, 0.5, n)
        elif kind == 2:
            cols[name] = rng.uniform(-5, 5, n)
        elif kind == 3:
            cols[name] = rng.gamma(2.0, 3.0, n)
        else:
            cols[name] = rng.normal(0.0, 1.4 if s else 1.0, n)  # wider
        if name == "num_10" and s:
            cols[name] = rng.normal(10.0, 1.0, n) + rng.exponential(0.5, n)  # skewed and moved
    levels = [4, 7, 12, 25, 3]
    for j in range(N_CATEGORICAL):
        name = f"cat_{j}"
        k = levels[j]
        p = np.linspace(2.0, 1.0, k)
        if shifted and name in SHIFTED:
            p = p[::-1] ** 2  # favour the rare levels
        cats = np.array([f"{name}_level_{x}" for x in range(k)])
        cols[name] = pd.Series(cats[rng.choice(k, n, p=p / p.sum())], dtype="str")
    return pd.DataFrame(cols)


def write_tables(folder: Path, rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Write ``reference.parquet`` and ``current.parquet`` of ``rows`` rows each."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for side, shifted in (("reference", False), ("current", True)):
        path = folder / f"{side}_{rows}.parquet"
        rng = np.random.default_rng([seed, rows, int(shifted)])
        writer = None
        for start in range(0, rows, CHUNK):
            table = pa.Table.from_pandas(_chunk(rng, min(CHUNK, rows - start), shifted), preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
        paths.append(path)
    return paths[0], paths[1]


# --- workers (each in its own process) ----------------------------------------------


def worker_reference(reference: str, out: str) -> dict[str, Any]:
    from skloop.monitor import reference_summary

    t = time.perf_counter()
    summary = reference_summary(reference)
    Path(out).write_text(summary.to_json())
    return {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "json_kb": Path(out).stat().st_size / 1024}


def worker_compare(summary_path: str, current: str, threshold: str = "fixed") -> dict[str, Any]:
    from skloop.core import MonitoringSpec
    from skloop.monitor import ReferenceSummary, compare_data_files

    # learned: every column's band drawn from the reference (50 chunks of the window's size)
    # new: Anderson-Darling on numeric columns, Hellinger and L-infinity on categorical ones
    drift: dict[str, Any] = {}
    if threshold.startswith("new"):
        columns = {f"cat_{j}": {"method": "hellinger" if j < 3 else "linf"} for j in range(N_CATEGORICAL)}
        drift = {"method": "anderson", "columns": columns}
    if threshold.endswith("learned"):
        drift["threshold"] = "learned"
        for col in drift.get("columns", {}).values():
            col["threshold"] = "learned"
    config = MonitoringSpec.model_validate({"drift": drift})
    t = time.perf_counter()
    summary = ReferenceSummary.from_json(Path(summary_path).read_text())
    report = compare_data_files(None, current, reference_profile=summary, config=config)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_mb": _peak_mb(), "drifted": report.drifted_features}


def worker_evidently(reference: str, current: str) -> dict[str, Any]:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t = time.perf_counter()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    read = time.perf_counter() - t
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - t
    drifted, methods = [], set()
    for m in snapshot.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            methods.add(cfg["method"])
            p_value = "p_value" in cfg["method"] or "test" in cfg["method"].lower()
            value = float(m["value"])
            if (value < cfg["threshold"]) if p_value else (value >= cfg["threshold"]):
                drifted.append(cfg["column"])
    return {
        "seconds": seconds,
        "read_seconds": read,
        "peak_mb": _peak_mb(),
        "drifted": drifted,
        "methods": sorted(methods),
    }


def worker_everything(reference: str, summary_path: str, current: str) -> dict[str, Any]:
    """The report with everything: learned thresholds and multivariate drift of the 20 columns, in one pass.

    Multivariate drift needs reference rows: the PCA is fitted on at most 100,000 of them, a
    seeded sample, and :func:`~skloop.monitor._multivariate.read_reference_rows` reads only
    those from the file (the same rows, so the same result, as reading all of them). The
    current file is streamed once: ``compare_data_files(..., multivariate=window)`` feeds each
    record batch to the univariate accumulators and to a bounded window (exact reconstruction
    error, a 10,000-row reservoir for the domain classifier). The scikit-learn modules the
    monitor loads on first use are imported before the clock starts, as every import is.
    """
    # what the multivariate reference loads on first use
    from sklearn import decomposition, ensemble, model_selection, preprocessing  # noqa: F401

    from skloop.core import MonitoringSpec, MultivariateSpec
    from skloop.monitor import MultivariateWindow, ReferenceSummary, compare_data_files
    from skloop.monitor._multivariate import multivariate_reference, read_reference_rows

    config = MonitoringSpec.model_validate({"drift": {"threshold": "learned"}})
    t = time.perf_counter()
    summary = ReferenceSummary.from_json(Path(summary_path).read_text())
    spec = MultivariateSpec(enabled=True)
    rows = read_reference_rows(reference)  # only the 100,000 rows the reference keeps
    window = MultivariateWindow(multivariate_reference(rows, list(rows.columns), spec), spec)
    del rows
    report = compare_data_files(None, current, reference_profile=summary, config=config, multivariate=window)
    streamed = time.perf_counter() - t
    mv = window.result()
    assert mv is not None and mv.classifier is not None and mv.reconstruction is not None
    return {"seconds": time.perf_counter() - t, "streamed_seconds": streamed, "peak_mb": _peak_mb(),
            "drifted": report.drifted_features, "multivariate": mv.drifted, "auc": mv.classifier.auc,
            "error": mv.reconstruction.error, "upper": mv.reconstruction.upper}  # fmt: skip


WORKERS = {
    "reference": worker_reference,
    "compare": worker_compare,
    "evidently": worker_evidently,
    "everything": worker_everything,
}


def _run(python: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([python, __file__, "--worker", *args], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _slower(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The slower of two timings of one skloop worker, with both times kept for the table."""
    slow = dict(max(first, second, key=lambda r: r["seconds"]))
    slow["times"] = (first["seconds"], second["seconds"])
    return slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--evidently-python", default=str(ROOT / ".venv-evidently" / "bin" / "python"))
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker[0]](*args.worker[1:])))
        return
    expected = sorted(SHIFTED)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores here; the ratios are from the same run)")
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="bench_drift_") as tmp:
        folder = Path(tmp)
        for rows in args.rows:
            ref, cur = write_tables(folder, rows)
            summary = folder / f"summary_{rows}.json"
            built = _run(sys.executable, "reference", str(ref), str(summary))
            ours = _run(sys.executable, "compare", str(summary), str(cur))
            learned = _run(sys.executable, "compare", str(summary), str(cur), "learned")
            new = _run(sys.executable, "compare", str(summary), str(cur), "new")
            new_learned = _run(sys.executable, "compare", str(summary), str(cur), "new-learned")
            every = _run(sys.executable, "everything", str(ref), str(summary), str(cur))
            theirs = None if args.no_evidently else _run(args.evidently_python, "evidently", str(ref), str(cur))
            if theirs is not None:  # again after Evidently's long run, under whatever load it met: the slower counts
                ours = _slower(ours, _run(sys.executable, "compare", str(summary), str(cur)))
                every = _slower(every, _run(sys.executable, "everything", str(ref), str(summary), str(cur)))
            rows_out.append((rows, built, ours, learned, new, new_learned, theirs))
            line = (
                f"{rows:>9,} rows | skloop reference {built['seconds']:6.2f} s {built['peak_mb']:6.0f} MB "
                f"({built['json_kb']:.0f} kB) | skloop compare {ours['seconds']:6.2f} s {ours['peak_mb']:6.0f} MB "
                f"exact-5={sorted(ours['drifted']) == expected}"
            )
            if theirs is not None:
                line += (
                    f" | Evidently {theirs['seconds']:7.2f} s (read {theirs['read_seconds']:.2f}) "
                    f"{theirs['peak_mb']:6.0f} MB exact-5={sorted(theirs['drifted']) == expected} "
                    f"| speed-up {theirs['seconds'] / ours['seconds']:5.1f}x, memory "
                    f"{ours['peak_mb'] / theirs['peak_mb']:.2f} of Evidently's"
                )
            print(line, flush=True)
            for label, res in (("threshold: learned", learned), ("anderson/hellinger/linf", new),
                               ("anderson/hellinger/linf, learned", new_learned)):  # fmt: skip
                line = (
                    f"{'':>9}      | skloop compare, {label} {res['seconds']:6.2f} s "
                    f"{res['peak_mb']:6.0f} MB exact-5={sorted(res['drifted']) == expected}"
                )
                if theirs is not None:
                    line += f" | speed-up {theirs['seconds'] / res['seconds']:5.1f}x"
                print(line, flush=True)
            line = (
                f"{'':>9}      | skloop report with everything (learned + multivariate) {every['seconds']:6.2f} s "
                f"{every['peak_mb']:6.0f} MB exact-5={sorted(every['drifted']) == expected} multivariate drift="
                f"{every['multivariate']} (AUC {every['auc']:.3f}, reconstruction {every['error']:.3f} vs upper "
                f"{every['upper']:.3f})"
            )
            if theirs is not None:
                line += f" | speed-up {theirs['seconds'] / every['seconds']:5.1f}x"
            print(line, flush=True)
            if theirs is not None:
                print(f"   skloop timed before and after Evidently (the slower is used above): compare "
                      f"{ours['times'][0]:.2f} / {ours['times'][1]:.2f} s, everything "
                      f"{every['times'][0]:.2f} / {every['times'][1]:.2f} s", flush=True)  # fmt: skip
            named = (("skloop", ours), ("skloop learned", learned), ("skloop new", new),
                     ("skloop new learned", new_learned), ("evidently", theirs))  # fmt: skip
            for name, res in named:
                if res is not None and sorted(res["drifted"]) != expected:
                    print(f"   {name} flagged {sorted(res['drifted'])}; expected {expected}", flush=True)
            if theirs is not None:
                print(f"   Evidently methods: {', '.join(theirs['methods'])}", flush=True)
            ref.unlink()
            cur.unlink()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
