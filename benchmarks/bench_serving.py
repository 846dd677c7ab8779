"""Serving benchmark: ``skloop serve`` against ``mlflow models serve`` on the same model.

Trains the canonical pipeline (the ``auto`` preprocessing + RandomForestClassifier) on
50,000 rows of ``make_churn``, registers and promotes it in a temporary project,
exports it as an MLflow model directory, starts both servers on 127.0.0.1 and drives
both with the same closed-loop load generator (``wrk``, POSTing the same
``dataframe_split`` body to ``/invocations``):

- single-row requests at concurrency 8 and 1, 1,000-row and 10,000-row requests at concurrency 1;
- requests/s, p50 and p99 (``wrk --latency``), and server CPU time per request
  (utime + stime of the server process tree from ``/proc``, before and after);
- and, for scale, the scikit-learn pipeline called in-process on a one-row DataFrame.

skloop runs with validation and the durable prediction log on (every row fsynced
before the answer). Usage::

    python benchmarks/bench_serving.py [--rows 50000] [--duration 15]
        [--mlflow-bin .venv-bench/bin/mlflow] [--skloop-bin .venv/bin/skloop]
        [--servers skloop,mlflow]

``--servers skloop`` skips MLflow: with ``PYTHONPATH`` pointing at another checkout's
``src``, it compares two versions of skloop on the same machine.

``--routers`` measures instead the cost of the router alone: the same app, the same
handlers and the same process setup (what ``skloop serve`` starts: the durable log,
its ingestion child, uvicorn with uvloop/httptools), once dispatched by the server's
Starlette ``Router`` (built from the route table; its endpoints hand the matched route
to the app) and once by the raw ASGI route table it replaced (dict lookups, kept here
as :class:`RawRouter`). Both servers run side by side; single-row requests at c=8
alternate between them for ``--repeats`` rounds, and the table gives the median CPU
per request (process tree, and the server process alone) and the ratio. The same
requests are then driven straight into the two ASGI apps in one process, no network,
which measures the router's own cost without the noise of the servers' micro-batching::

    python benchmarks/bench_serving.py --routers [--rows 50000] [--duration 8] [--repeats 5]

``--workers 1,2`` measures instead horizontal serving: ``skloop serve churn --workers N``
(``N`` = 1 is the single-process server; above, N processes on one port with
``SO_REUSEPORT``), single-row requests at c=16 (keep-alive connections, spread over the
workers by the kernel), rounds alternating between the settings; the table gives the
median throughput, p50, p99 and the ratio to one worker, with the load average (the
2-core machine is shared: the load generator takes a core's share too)::

    python benchmarks/bench_serving.py --workers 1,2 [--rows 50000] [--duration 10] [--repeats 3]

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


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 900) -> None:
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


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` alone (its threads, not its children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def measure(url: str, pid: int, body: Path, concurrency: int, duration: int, workdir: Path) -> dict[str, float]:
    run_wrk(url, body, concurrency, 2, workdir)  # warm up
    before, own_before = tree_cpu_seconds(pid), process_cpu_seconds(pid)
    result = run_wrk(url, body, concurrency, duration, workdir)
    n = max(result["requests"], 1)
    result["cpu_ms_per_request"] = (tree_cpu_seconds(pid) - before) * 1000 / n
    result["own_cpu_ms_per_request"] = (process_cpu_seconds(pid) - own_before) * 1000 / n
    return result


def body_of(frame) -> bytes:
    data = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    return json.dumps({"dataframe_split": {"columns": data["columns"], "data": data["data"]}}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=None, help="seconds per scenario (15; 8 with --routers)")
    parser.add_argument("--mlflow-bin", default=str(ROOT / ".venv-bench" / "bin" / "mlflow"))
    parser.add_argument("--skloop-bin", default=str(Path(sys.executable).parent / "skloop"))
    parser.add_argument(
        "--servers", default="skloop,mlflow", help="comma-separated: skloop alone compares two skloop versions"
    )
    parser.add_argument("--routers", action="store_true", help="skloop's raw route table against Starlette's router")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per setting (5 with --routers, 3 --workers)")
    parser.add_argument("--workers", default=None, help="comma-separated worker counts to compare, e.g. 1,2")
    # internal: one server of the --routers scenario
    parser.add_argument("--serve-router", choices=("raw", "starlette"), help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    servers = [name for name in ("skloop", "mlflow") if name in args.servers.split(",")]
    if args.serve_router is not None:
        serve_with_router(args.serve_router, Path(args.project), args.port)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if args.duration is None:
        args.duration = 8 if args.routers else 10 if args.workers else 15
    if args.repeats is None:
        args.repeats = 3 if args.workers else 5

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
    if args.routers:
        compare_routers(work, one, args.duration, args.repeats)
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.workers:
        counts = [int(n) for n in args.workers.split(",")]
        compare_workers(work, one, counts, args.duration, args.repeats, args.skloop_bin)
        shutil.rmtree(work, ignore_errors=True)
        return
    batch = work / "batch.json"
    batch.write_bytes(body_of(X.iloc[:1000]))
    big = work / "big.json"
    big.write_bytes(body_of(X.iloc[1000:11_000]))

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
    commands = {
        "mlflow": lambda: subprocess.Popen(
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
        "skloop": lambda: subprocess.Popen(
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
    load_start = os.getloadavg()[0]
    procs = {name: commands[name]() for name in servers}
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for name in servers:
            url = f"http://127.0.0.1:{ports[name]}"
            wait_ready(url, procs[name])
            if name == "skloop":
                print(procs[name].stdout.readline().strip(), flush=True)
            results[name] = {}
            scenarios = (
                ("1 row, c=8", one, 8),
                ("1 row, c=1", one, 1),
                ("1000 rows, c=1", batch, 1),
                ("10000 rows, c=1", big, 1),
            )
            for label, body, conc in scenarios:
                print(f"  {name}: {label} ...", flush=True)
                # a 10,000-row request takes seconds on a busy machine: long enough for several of them
                duration = args.duration * 3 if body is big else args.duration
                results[name][label] = measure(url, procs[name].pid, body, conc, duration, work)
    finally:
        for proc in procs.values():
            with contextlib_suppress():
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)

    print()
    print(f"{'scenario':<16} {'server':<7} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'CPU ms/req':>11} {'non-2xx':>8}")
    for label in results["skloop"]:
        for name in reversed(servers):
            r = results[name][label]
            print(
                f"{label:<16} {name:<7} {r['rps']:>9.1f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} "
                f"{r['cpu_ms_per_request']:>11.3f} {r['non2xx']:>8}"
            )
    print(f"in-process scikit-learn predict_proba, 1 row: p50 {sk_p50:.2f} ms")
    print(f"load average at the start: {load_start:.1f}, at the end: {os.getloadavg()[0]:.1f}")
    if "mlflow" not in results:
        return
    print()
    print("ratios (skloop vs mlflow):")
    for label in results["skloop"]:
        s, m = results["skloop"][label], results["mlflow"][label]
        if min(s["requests"], m["requests"]) == 0:
            print(f"  {label:<16} no request answered within the scenario: rerun with a longer --duration")
            continue
        print(
            f"  {label:<16} throughput x{s['rps'] / m['rps']:.1f}   p50 1/{m['p50_ms'] / s['p50_ms']:.1f}   "
            f"p99 1/{m['p99_ms'] / s['p99_ms']:.1f}   "
            f"CPU/request 1/{m['cpu_ms_per_request'] / max(s['cpu_ms_per_request'], 1e-9):.1f}"
        )
    c1 = results["skloop"]["1 row, c=1"]["p50_ms"]
    print(f"  single-row p50 at c=1: skloop {c1:.2f} ms vs in-process scikit-learn {sk_p50:.2f} ms")


class RawRouter:
    """The server's raw ASGI router before it moved onto Starlette (the baseline of ``--routers``).

    The route table in dicts, built once: an exact path is one dict lookup; a templated
    one, a split of the path and one lookup per template shape of its segment count.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.exact: dict = {}
        self.templated: dict = {}
        for bound in app.router.bound:
            segments = tuple(bound.route.template.strip("/").split("/"))
            if not bound.route.params:
                self.exact["/" + "/".join(segments)] = bound
                continue
            holes = tuple(i for i, s in enumerate(segments) if s.startswith("{"))
            fixed = tuple(i for i in range(len(segments)) if i not in holes)
            groups = self.templated.setdefault(len(segments), [])
            table = next((t for h, _, t in groups if h == holes), None)
            if table is None:
                table = {}
                groups.append((holes, fixed, table))
            table[tuple(segments[i] for i in fixed)] = bound

    def match(self, path: str):
        exact = self.exact.get(path.rstrip("/") or "/")
        if exact is not None:
            return exact, {}
        parts = path.strip("/").split("/")
        for holes, fixed, table in self.templated.get(len(parts), ()):
            bound = table.get(tuple(parts[i] for i in fixed))
            if bound is not None and all(parts[i] for i in holes):
                return bound, dict(zip(bound.route.params, (parts[i] for i in holes), strict=True))
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":  # the app's own start-up and shut-down (poller, store)
            await self.app(scope, receive, send)
        else:
            await self.app._http(scope, receive, send, self.match(scope["path"]))


def routed(app, router: str):
    """``app`` dispatched by its own (Starlette) router, or by the raw baseline."""
    return app if router == "starlette" else RawRouter(app)


def serve_with_router(router: str, project: Path, port: int) -> None:
    """One server of ``--routers``: what ``skloop serve churn`` starts, with the given router in front."""
    import importlib.util

    import uvicorn

    from skloop.core import Settings
    from skloop.serve import IngestProcess, PredictionLog, create_app

    settings = Settings.from_env(project, env={})
    log = PredictionLog(project / f"predictions-{router}").start()
    ingestor = IngestProcess(log.directory, settings.store_url, settings.artifact_root).start()
    try:
        app = create_app(settings, model_name="churn", alias="champion", prediction_log=log)
        asgi = routed(app, router)
        print(f"{router}: serving {app.model.ref} ({app.model.runtime}) on port {port}", flush=True)
        uvicorn.run(
            asgi,
            host="127.0.0.1",
            port=port,
            loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            http="httptools" if importlib.util.find_spec("httptools") else "h11",
            access_log=False,
            log_level="warning",
            lifespan="on",
        )
    finally:
        log.close()
        ingestor.close()


def asgi_cpu_per_request(asgi, method: str, path: str, body: bytes, n: int, concurrency: int = 8) -> float:
    """Process CPU seconds per request of ``n`` requests driven straight into ``asgi``, ``concurrency`` at a time."""
    import asyncio

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def one() -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        status = 0

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await asgi(scope, receive, send)
        return status

    async def worker(count: int) -> None:
        for _ in range(count):
            if await one() != 200:
                raise RuntimeError(f"{method} {path} did not answer 200")

    async def run() -> float:
        await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm up
        start = time.process_time()
        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        return (time.process_time() - start) / (n // concurrency * concurrency)

    return asyncio.run(run())


def compare_routers_in_process(work: Path, body: Path, repeats: int) -> dict[str, dict[str, float]]:
    """The two routers in one process, no network: the router's own CPU per request, far less noisy."""
    from skloop.core import Settings
    from skloop.serve import PredictionLog, create_app

    settings = Settings.from_env(work, env={})
    log = PredictionLog(work / "predictions-in-process").start()
    app = create_app(settings, model_name="churn", alias="champion", prediction_log=log, poll_seconds=None)
    variants = {"raw": routed(app, "raw"), "starlette": routed(app, "starlette")}
    payload = body.read_bytes()
    cases = {
        "POST /invocations (1 row)": ("POST", "/invocations", payload, 2000),
        "GET /ping": ("GET", "/ping", b"", 20000),  # the table's 2nd route
        "GET /v2/health/ready": ("GET", "/v2/health/ready", b"", 20000),  # 9th
        "GET /v2/models/churn/versions/1/ready": ("GET", "/v2/models/churn/versions/1/ready", b"", 20000),  # 14th
    }
    runs: dict[str, dict[str, list[float]]] = {case: {name: [] for name in variants} for case in cases}
    try:
        for round_ in range(repeats):
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            for case, (method, path, data, n) in cases.items():
                for name in order:
                    runs[case][name].append(asgi_cpu_per_request(variants[name], method, path, data, n))
    finally:
        log.close()
    medians = {case: {name: statistics.median(v) * 1e6 for name, v in by.items()} for case, by in runs.items()}
    print()
    print(f"in process, no network: ASGI requests 8 at a time, {repeats} rounds (medians, CPU us per request)")
    print(f"{'request':<38} {'raw':>9} {'starlette':>10} {'difference':>11}")
    for case, m in medians.items():
        diff = m["starlette"] - m["raw"]
        print(f"{case:<38} {m['raw']:>9.1f} {m['starlette']:>10.1f} {diff:>+8.1f} us ({diff / m['raw']:+.1%})")
    return medians


def compare_routers(work: Path, body: Path, duration: int, repeats: int) -> None:
    """Both routers side by side; single-row c=8 rounds alternate between them; medians and ratio."""
    names = ("raw", "starlette")
    ports = {name: free_port() for name in names}
    procs = {
        name: subprocess.Popen(
            [sys.executable, __file__, "--serve-router", name, "--project", str(work), "--port", str(ports[name])],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for name in names
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    try:
        for name in names:
            wait_ready(f"http://127.0.0.1:{ports[name]}", procs[name])
            print(" ", procs[name].stdout.readline().strip(), flush=True)
        for round_ in range(repeats):
            order = names if round_ % 2 == 0 else names[::-1]  # neither router always runs first
            for name in order:
                r = measure(f"http://127.0.0.1:{ports[name]}", procs[name].pid, body, 8, duration, work)
                runs[name].append(r)
                print(
                    f"  round {round_ + 1}/{repeats} {name:<9} {r['rps']:>8.1f} req/s  "
                    f"CPU {r['cpu_ms_per_request']:.3f} ms/req (server alone {r['own_cpu_ms_per_request']:.3f})  "
                    f"non-2xx {r['non2xx']}",
                    flush=True,
                )
    finally:
        for proc in procs.values():
            with contextlib_suppress():
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    print()
    print(f"1 row, c=8, {repeats} rounds of {duration} s each (medians)")
    print(f"{'router':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'server alone':>13}")
    for name in names:
        print(
            f"{name:<10} {med(name, 'rps'):>9.1f} {med(name, 'p50_ms'):>8.2f} {med(name, 'p99_ms'):>8.2f} "
            f"{med(name, 'cpu_ms_per_request'):>11.3f} {med(name, 'own_cpu_ms_per_request'):>13.3f}"
        )
    tree = med("starlette", "cpu_ms_per_request") / med("raw", "cpu_ms_per_request") - 1
    own = med("starlette", "own_cpu_ms_per_request") / med("raw", "own_cpu_ms_per_request") - 1
    print(f"Starlette vs raw, CPU per request: {tree:+.1%} (process tree), {own:+.1%} (server process alone)")
    # the micro-batcher makes a server's CPU per request depend on how requests happen to
    # group, so on a busy machine the servers' figures wander by more than the router costs;
    # the same requests straight into the ASGI app measure the router's own cost
    inproc = compare_routers_in_process(work, body, max(repeats, 9))
    # the GET routes' handlers are trivial, so their difference is the router's alone;
    # the worst of them (a templated route late in the table) against a server's request
    extra_us = max(m["starlette"] - m["raw"] for case, m in inproc.items() if case.startswith("GET"))
    per_request_us = med("raw", "cpu_ms_per_request") * 1000
    print(
        f"Starlette's router costs at most {extra_us:.1f} us more per request: {extra_us / per_request_us:+.1%} of "
        f"the raw server's {per_request_us:.0f} us of CPU per single-row request at c=8 (process tree)"
    )


def compare_workers(work: Path, body: Path, counts: list[int], duration: int, repeats: int, skloop_bin: str) -> None:
    """``skloop serve --workers N`` for each N, one at a time; c=16 single-row rounds alternate between them."""
    concurrency = 16
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    load: list[float] = [os.getloadavg()[0]]
    for round_ in range(repeats):
        order = counts if round_ % 2 == 0 else counts[::-1]
        for n in order:
            port = free_port()
            command = [skloop_bin, "serve", "churn", "--workers", str(n), "--port", str(port), "--spec", str(work),
                       "--log-dir", str(work / f"predictions-{n}")]  # fmt: skip
            proc = subprocess.Popen(
                command,
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                wait_ready(url, proc)
                time.sleep(3)  # every worker listening (the first may answer alone before)
                r = measure(url, proc.pid, body, concurrency, duration, work)
            finally:
                with contextlib_suppress():
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
            runs[n].append(r)
            load.append(os.getloadavg()[0])
            print(
                f"  round {round_ + 1}/{repeats} workers={n}: {r['rps']:>8.1f} req/s  p50 {r['p50_ms']:.2f} ms  "
                f"p99 {r['p99_ms']:.2f} ms  CPU {r['cpu_ms_per_request']:.3f} ms/req  non-2xx {r['non2xx']}  "
                f"load average {load[-1]:.1f}",
                flush=True,
            )

    def med(n: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[n])

    base = counts[0]
    print()
    print(f"1 row, c={concurrency}, {repeats} rounds of {duration} s each (medians); {os.cpu_count()} CPUs")
    print(f"{'workers':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'x vs ' + str(base):>8}")
    for n in counts:
        print(
            f"{n:<8} {med(n, 'rps'):>9.1f} {med(n, 'p50_ms'):>8.2f} {med(n, 'p99_ms'):>8.2f} "
            f"{med(n, 'cpu_ms_per_request'):>11.3f} {med(n, 'rps') / med(base, 'rps'):>8.2f}"
        )
    print(f"load average (1 min) during the rounds: {min(load):.1f} .. {max(load):.1f}")


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


if __name__ == "__main__":
    main()
