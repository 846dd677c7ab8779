"""Serving benchmark: ``skloop serve`` against ``mlflow models serve`` on the same model.

Trains the canonical pipeline (the ``auto`` preprocessing + RandomForestClassifier) on
50,000 rows of ``make_churn``, registers and promotes it in a temporary project,
exports it as an MLflow model directory, starts both servers on 127.0.0.1 and drives
both with the same closed-loop load generator (``wrk``, POSTing the same
``dataframe_split`` body to ``/invocations``):

- single-row requests at concurrency 8 and 1, and 1000-row requests at concurrency 1;
- requests/s, p50 and p99 (``wrk --latency``), and server CPU time per request
  (utime + stime of the server process tree from ``/proc``, before and after);
- and, for scale, the scikit-learn pipeline called in-process on a one-row DataFrame.

skloop runs with validation and the durable prediction log on (every row fsynced
before the answer). Usage::

    python benchmarks/bench_serving.py [--rows 50000] [--duration 15]
        [--mlflow-bin .venv-bench/bin/mlflow] [--skloop-bin .venv/bin/skloop]

Needs ``wrk`` (``apt-get install -y wrk``). MLflow runs from its own venv (it pins an
older pyarrow); skloop is put on its ``PYTHONPATH`` so that the skops artifact, which
holds skloop's transformers, loads there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and every live descendant (and their reaped children)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        cpu = sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime stime cutime cstime
        stats[int(entry)] = (ppid, cpu)
    total, frontier = 0.0, [pid]
    while frontier:
        p = frontier.pop()
        if p in stats:
            total += stats[p][1]
        frontier += [c for c, (pp, _) in stats.items() if pp == p]
    return total


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def run_wrk(url: str, body_file: Path, concurrency: int, duration: int, workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    threads = min(concurrency, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url + "/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def measure(url: str, pid: int, body: Path, concurrency: int, duration: int, workdir: Path) -> dict[str, float]:
    run_wrk(url, body, concurrency, 2, workdir)  # warm up
    before = tree_cpu_seconds(pid)
    result = run_wrk(url, body, concurrency, duration, workdir)
    result["cpu_ms_per_request"] = (tree_cpu_seconds(pid) - before) * 1000 / max(result["requests"], 1)
    return result


def body_of(frame) -> bytes:
    data = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    return json.dumps({"dataframe_split": {"columns": data["columns"], "data": data["data"]}}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--mlflow-bin", default=str(ROOT / ".venv-bench" / "bin" / "mlflow"))
    parser.add_argument("--skloop-bin", default=str(Path(sys.executable).parent / "skloop"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from skloop.core import Settings
    from skloop.data import infer_schema, make_churn
    from skloop.pipelines import FeatureSets, build_preprocessor
    from skloop.registry import Registry, export_mlflow, infer_signature, save_model
    from skloop.store import Store

    work = Path(tempfile.mkdtemp(prefix="skloop-bench-serving-"))
    print(f"training on {args.rows} rows of make_churn in {work} ...", flush=True)
    df = make_churn(args.rows, seed=0)
    X, y = df.drop(columns=["churned", "customer_id"]), df["churned"]
    schema = infer_schema(X)
    features = FeatureSets(**{k: tuple(schema.by_kind(k)) for k in ("numeric", "categorical", "boolean", "datetime")})
    pipe = Pipeline([("preprocess", build_preprocessor(features)), ("model", RandomForestClassifier(random_state=0))])
    pipe.fit(X, y)
    signature = infer_signature(X, y, task="classification", model=pipe)

    settings = Settings.from_env(work, env={})
    store = Store.open(settings)
    with store.runs.start_run("churn", spec={"name": "churn"}, code_commit="bench", environment={}) as run:
        store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
    registry = Registry(store)
    version = registry.register(run.id, "churn", signature=signature.to_dict())
    registry.promote("churn", version.version, "champion", reason="benchmark")
    store.close()
    mlflow_dir = export_mlflow(pipe, work / "mlflow_model", signature=signature, input_example=X.head(3))

    one = work / "one.json"
    one.write_bytes(body_of(X.iloc[[7]]))
    batch = work / "batch.json"
    batch.write_bytes(body_of(X.iloc[:1000]))

    # in-process scikit-learn on one row
    row = X.iloc[[7]]
    times = []
    for _ in range(300):
        t = time.perf_counter()
        pipe.predict_proba(row)
        times.append(time.perf_counter() - t)
    sk_p50 = statistics.median(times) * 1000

    ports = {"mlflow": free_port(), "skloop": free_port()}
    # mlflow starts `uvicorn` from PATH: put its venv's bin first
    mlflow_bin_dir = str(Path(args.mlflow_bin).parent)
    env_mlflow = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "PATH": mlflow_bin_dir + os.pathsep + os.environ["PATH"],
    }
    procs = {
        "mlflow": subprocess.Popen(
            [
                args.mlflow_bin,
                "models",
                "serve",
                "-m",
                str(mlflow_dir),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(ports["mlflow"]),
            ],
            env=env_mlflow,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        "skloop": subprocess.Popen(
            [
                args.skloop_bin,
                "serve",
                "churn",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["skloop"]),
                "--spec",
                str(work),
            ],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for name in ("skloop", "mlflow"):
            url = f"http://127.0.0.1:{ports[name]}"
            wait_ready(url, procs[name])
            if name == "skloop":
                print(procs[name].stdout.readline().strip(), flush=True)
            results[name] = {}
            for label, body, conc in (("1 row, c=8", one, 8), ("1 row, c=1", one, 1), ("1000 rows, c=1", batch, 1)):
                print(f"  {name}: {label} ...", flush=True)
                results[name][label] = measure(url, procs[name].pid, body, conc, args.duration, work)
    finally:
        for proc in procs.values():
            with contextlib_suppress():
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)

    print()
    print(f"{'scenario':<16} {'server':<7} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'CPU ms/req':>11} {'non-2xx':>8}")
    for label in results["skloop"]:
        for name in ("mlflow", "skloop"):
            r = results[name][label]
            print(
                f"{label:<16} {name:<7} {r['rps']:>9.1f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} "
                f"{r['cpu_ms_per_request']:>11.3f} {r['non2xx']:>8}"
            )
    print(f"in-process scikit-learn predict_proba, 1 row: p50 {sk_p50:.2f} ms")
    print()
    print("ratios (skloop vs mlflow):")
    for label in results["skloop"]:
        s, m = results["skloop"][label], results["mlflow"][label]
        print(
            f"  {label:<16} throughput x{s['rps'] / m['rps']:.1f}   p99 1/{m['p99_ms'] / s['p99_ms']:.1f}   "
            f"CPU/request 1/{m['cpu_ms_per_request'] / max(s['cpu_ms_per_request'], 1e-9):.1f}"
        )
    c1 = results["skloop"]["1 row, c=1"]["p50_ms"]
    print(f"  single-row p50 at c=1: skloop {c1:.2f} ms vs in-process scikit-learn {sk_p50:.2f} ms")


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


if __name__ == "__main__":
    main()
