"""Start-up benchmark: ``skloop --help``, ``skloop runs`` and ``skloop serve`` against MLflow's.

Builds a temporary project from the bundled example (``init_example``), trains it once
(4 candidates x 5 folds), promotes the version to ``champion`` and logs ``--runs`` more
runs (params and metrics, as a search leaves them) through the store; logs the same
number of runs to a local MLflow tracking folder; then, alternating the two tools in
each round, measures from the start of the process:

- ``skloop --help`` against ``mlflow --help``;
- ``skloop runs`` (the 20 newest runs, as a table) against ``mlflow runs list
  --experiment-id ...`` on the same number of runs;
- ``skloop serve churn`` until ``/v2/health/ready`` answers 200, against
  ``mlflow models serve --env-manager local`` on the same model (exported with
  ``export_mlflow``) until ``/ping`` answers 200. The first ``skloop serve`` of a
  version also exports it to ONNX and checks its parity (then kept with the version):
  it is measured apart, once, as "serve, first start".

Each figure is the median wall time of ``--repeats`` rounds, with the process's own CPU
(user + system of the process and its children, from ``wait4``) for the commands that
exit. The load average is printed with the figures: on a shared 2-core machine the wall
times move with it, the CPU times much less. Usage::

    python benchmarks/bench_startup.py [--repeats 5] [--runs 30] [--skloop-bin .venv/bin/skloop]
        [--mlflow-bin .venv/bin/mlflow] [--no-mlflow]

The structural guard (``skloop --help`` imports no scikit-learn, pandas, SQLAlchemy,
SciPy or PyArrow) is a test, ``tests/cli/test_startup_imports.py``; this script only
measures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, with children) of a command that exits."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {proc.returncode}: {stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def ready_after(command: list[str], url: str, cwd: Path, env: dict[str, str], timeout: float = 180) -> float:
    """Seconds from starting a server until ``url`` answers 200; the server is stopped after."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{url} did not answer in {timeout} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_project(work: Path, runs: int) -> tuple[Path, Path]:
    """The example project, trained once and promoted, plus ``runs`` logged runs; and its MLflow export."""
    from skloop.registry import Signature, export_mlflow
    from skloop.workflows import Project, init_example

    init_example(work)
    project = Project.load(work)
    result = project.train()
    if result.model_version is None:
        raise RuntimeError("the example did not register a version")
    project.promote(result.model_version, reason="bench_startup")
    store = project.store
    for i in range(runs):
        with store.runs.start_run("churn", spec={"name": "churn"}, code_commit="bench", environment={}) as run:
            store.runs.log_params(run.id, {"model": "RandomForestClassifier", "n_estimators": 100 + i, "depth": i})
            store.runs.log_metrics(run.id, {"cv_roc_auc_mean": 0.8 + i / 1000, "cv_roc_auc_std": 0.01})
    version = project.model()
    signature = Signature.from_dict(version.signature)
    mlflow_dir = export_mlflow(result.model, work / "mlflow_model", signature=signature)
    project.store.close()
    return work, Path(mlflow_dir)


MLFLOW_LOG_RUNS = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
exp = mlflow.create_experiment("churn")
for i in range(int(sys.argv[2])):
    with mlflow.start_run(experiment_id=exp):
        mlflow.log_params({"model": "RandomForestClassifier", "n_estimators": 100 + i, "depth": i})
        mlflow.log_metrics({"cv_roc_auc_mean": 0.8 + i / 1000, "cv_roc_auc_std": 0.01})
print(exp)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30, help="runs logged to each tool's tracking store")
    parser.add_argument("--skloop-bin", default=str(Path(sys.executable).parent / "skloop"))
    parser.add_argument("--mlflow-bin", default=str(Path(sys.executable).parent / "mlflow"))
    parser.add_argument("--no-mlflow", action="store_true", help="measure skloop alone")
    args = parser.parse_args()
    use_mlflow = not args.no_mlflow and Path(args.mlflow_bin).exists()

    work = Path(tempfile.mkdtemp(prefix="skloop-bench-startup-"))
    print(f"setting up the example project in {work} (training it once) ...", flush=True)
    project, mlflow_dir = make_project(work / "project", args.runs)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    mlflow_env = {**env, "PATH": str(Path(args.mlflow_bin).parent) + os.pathsep + os.environ["PATH"]}
    experiment = ""
    tracking = f"sqlite:///{work / 'mlflow.db'}"  # MLflow 3 keeps runs in a database (its file store is deprecated)
    if use_mlflow:
        out = subprocess.run(
            [str(Path(args.mlflow_bin).parent / "python"), "-c", MLFLOW_LOG_RUNS, tracking, str(args.runs)],
            env=mlflow_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        experiment = out.stdout.strip().splitlines()[-1]

    skloop, mlflow = args.skloop_bin, args.mlflow_bin
    # the first start of the version exports it to ONNX and checks its parity (kept with the version)
    port = free_port()
    serve = [skloop, "serve", "churn", "--port", str(port), "--spec", str(project)]
    first_serve = ready_after(serve, f"http://127.0.0.1:{port}/v2/health/ready", project, env)
    print(f"skloop serve, first start (ONNX export and parity check): {first_serve:.2f} s", flush=True)

    commands: dict[str, dict[str, list[str]]] = {
        "--help": {"skloop": [skloop, "--help"], "mlflow": [mlflow, "--help"]},
        "runs": {
            "skloop": [skloop, "runs", "--spec", str(project)],
            "mlflow": [mlflow, "runs", "list", "--experiment-id", experiment],
        },
    }
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    loads = [os.getloadavg()[0]]
    tools = ["skloop", "mlflow"] if use_mlflow else ["skloop"]
    for round_ in range(args.repeats):
        order = tools if round_ % 2 == 0 else tools[::-1]
        for label, by_tool in commands.items():
            for tool in order:
                tool_env = mlflow_env | {"MLFLOW_TRACKING_URI": tracking} if tool == "mlflow" else env
                wall, cpu = timed(by_tool[tool], project, tool_env)
                walls.setdefault((label, tool), []).append(wall)
                cpus.setdefault((label, tool), []).append(cpu)
        for tool in order:
            port = free_port()
            if tool == "skloop":
                command = [skloop, "serve", "churn", "--port", str(port), "--spec", str(project)]
                url, tool_env = f"http://127.0.0.1:{port}/v2/health/ready", env
            else:
                command = [mlflow, "models", "serve", "-m", str(mlflow_dir), "--env-manager", "local",
                           "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
                url, tool_env = f"http://127.0.0.1:{port}/ping", mlflow_env
            walls.setdefault(("serve, ready", tool), []).append(ready_after(command, url, project, tool_env))
        loads.append(os.getloadavg()[0])
        print(f"  round {round_ + 1}/{args.repeats} done, load average {loads[-1]:.1f}", flush=True)

    print()
    print(f"median of {args.repeats} rounds; {args.runs} runs in each tracking store; {os.cpu_count()} CPUs")
    print(f"{'command':<14} {'tool':<7} {'wall s':>8} {'CPU s':>7}")
    for (label, tool), values in walls.items():
        cpu = f"{statistics.median(cpus[(label, tool)]):>7.3f}" if (label, tool) in cpus else f"{'-':>7}"
        print(f"{label:<14} {tool:<7} {statistics.median(values):>8.3f} {cpu}")
    print(f"skloop serve, first start of the version (ONNX export + parity check): {first_serve:.2f} s")
    print(f"load average (1 min) during the rounds: {min(loads):.1f} .. {max(loads):.1f}")
    if use_mlflow:
        print()
        print("ratios (mlflow / skloop, wall):")
        for label in ("--help", "runs", "serve, ready"):
            s = statistics.median(walls[(label, "skloop")])
            m = statistics.median(walls[(label, "mlflow")])
            print(f"  {label:<14} x{m / s:.1f} faster")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
