"""The whole chain on one corpus table, as a user runs it through the CLI.

``init`` → ``train`` → ``promote`` → ``serve`` (a real ``skloop serve`` process) →
``predict --log`` → ``labels ingest`` → ``monitor`` → ``explain`` → ``export`` →
``loop run`` on a drifted second half → ``validate``.

The CLI runs in-process (Typer's ``CliRunner``) for speed; the server is a real
``skloop serve`` subprocess under uvicorn on 127.0.0.1, and the MLflow export is loaded
by real MLflow in another subprocess. Every step must succeed, or refuse with one clear
line: no traceback, no "unexpected error" line, an exit code the CLI documents, no 5xx.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from corpus_tables import Table, write_table
from typer.testing import CliRunner

from skloop.cli import app
from skloop.data import read_table

__all__ = ["Chain", "run_chain"]

#: Exit codes the CLI documents (docs/cli.md): 0 ok, 1 failed work, 2 usage/spec, 3 drift.
DOCUMENTED_EXITS = (0, 1, 2, 3)
UNEXPECTED = "rerun with --debug for the traceback"  # the CLI's line for an error it did not foresee

TRAFFIC_ROWS = 400
"""Rows of each half of the traffic: the first like training, the second drifted."""


@dataclass
class Chain:
    """One table's chain: its project folder, the CLI, and what each step took."""

    table: Table
    root: Path
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    runner: CliRunner = field(default_factory=CliRunner)

    # -- the CLI -----------------------------------------------------------------------

    def cli(self, *args: str, ok: tuple[int, ...] = (0,), verdict: bool = False) -> Any:
        """Run ``skloop ARGS`` in the project folder; the exit code must be in ``ok``.

        A non-zero exit is a refusal with one ``error:`` line, unless ``verdict`` says the
        code is the command's answer (``validate``: a check failed).
        """
        with contextlib.chdir(self.root):
            result = self.runner.invoke(app, list(args), catch_exceptions=True)
        out = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"skloop {' '.join(args)} raised {result.exception!r}\n{out}") from result.exception
        assert "Traceback" not in out, f"skloop {' '.join(args)} printed a traceback:\n{out}"
        assert UNEXPECTED not in out, f"skloop {' '.join(args)} hit an unexpected error:\n{out}"
        assert result.exit_code in DOCUMENTED_EXITS, f"skloop {' '.join(args)}: exit {result.exit_code}\n{out}"
        assert result.exit_code in ok, f"skloop {' '.join(args)}: exit {result.exit_code}, expected {ok}\n{out}"
        if result.exit_code not in (0, 3) and not verdict:  # a refusal: one clear line
            errors = [line for line in out.splitlines() if line.startswith(("error:", "spec error:"))]
            assert len(errors) == 1, f"skloop {' '.join(args)} refused without one error line:\n{out}"
        return result

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 2)

    # -- data --------------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return self.root / "data" / f"{self.table.name}{self.table.suffix}"

    def traffic(self, seed: int, shift: float) -> pd.DataFrame:
        """Rows after training: like it (shift 0) or drifted; ``late_missing`` now has missing values."""
        frame = self.table.make(TRAFFIC_ROWS, seed=seed, shift=shift)
        column = self.table.late_missing
        if column is not None:
            holes = np.random.default_rng(seed + 1000).random(len(frame)) < 0.05
            frame[column] = frame[column].astype(float).mask(holes)
        return frame

    def write(self, frame: pd.DataFrame, stem: str) -> Path:
        return write_table(self.table, frame, self.root / f"{stem}{self.table.suffix}")

    @property
    def spec(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "skloop.yaml").read_text())

    # -- the steps ---------------------------------------------------------------------

    def init(self) -> None:
        t = self.table
        write_table(t, t.make(t.rows, seed=0, shift=0.0), self.data_path)
        result = self.cli("init", "--data", str(self.data_path.relative_to(self.root)), "--target", t.target,
                          "--json")  # fmt: skip
        findings = {(f["kind"], f["column"]) for f in json.loads(result.stdout)["findings"]}
        spec = self.spec
        assert spec["task"] == ("regression" if t.task == "regression" else "classification"), spec
        assert spec["data"].get("id") == t.id, (spec["data"], findings)
        assert spec["data"].get("time") == t.time, (spec["data"], findings)
        features = spec.get("features") or {}
        listed = {c for kind, cols in features.items() if kind != "drop" for c in cols or ()}
        assert t.target not in listed, f"the target is listed as a feature: {features}"
        for role in (t.id, t.time):
            assert role is None or role not in listed, f"{role} is listed as a feature: {features}"
        if t.leak is not None:
            assert ("leak", t.leak) in findings and t.leak in features.get("drop", []), (findings, features)
            assert f"{t.leak!r}" in (self.root / "skloop.yaml").read_text(), "the leak's comment is missing"
        if t.dirty is not None:
            assert ("dirty_numeric", t.dirty) in findings and t.dirty in features.get("numeric", []), findings
        self.make_fast(spec)

    def make_fast(self, spec: dict[str, Any]) -> None:
        """What a user edits before the first run: a small forest, no search, and a loop policy."""
        spec["pipeline"]["model"]["params"] = {"n_estimators": 20, "n_jobs": 1}
        spec["search"] = {"strategy": "none", "cv": {"folds": 2}, "n_jobs": 1}
        spec["loop"] = {
            "monitor_window": f"{TRAFFIC_ROWS} rows",
            "triggers": {"drift": True, "top_features": {"k": 3, "min_drifted": 1}},
            "data": {"window": "30d", "holdout": 0.4, "min_rows": 100, "include_training": True},
            "compare": {"n_boot": 200},
            "probation": {"window": None},
        }
        (self.root / "skloop.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    def train(self) -> None:
        out = self.cli("train", "-q").output
        name = self.table.name
        assert f"registered {name} v1" in out or f"{name} v1 recorded" in out, out
        if self.table.task == "binary":
            assert "positive class:" in out, out
        self.cli("promote", name, "1")  # no --reason: a default reason is recorded

    def start_server(self) -> tuple[subprocess.Popen[bytes], int]:
        """A real ``skloop serve`` of the champion, started in the background (it boots while other steps run)."""
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
        with (self.root / "serve.err").open("wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "skloop.cli", "serve", self.table.name, "--port", str(port),
                 "--poll-seconds", "0"],
                cwd=self.root, env=env, stdout=subprocess.DEVNULL, stderr=fh,
            )  # fmt: skip
        return proc, port

    def serve(self, proc: subprocess.Popen[bytes], port: int) -> None:
        """V2, /invocations records, split and CSV; nothing answers 5xx. Then the server is told to stop."""
        try:
            with self.step("serve: ready"):
                _wait_ready(port, proc, self.root / "serve.err")
            self._requests(port)
        finally:
            proc.send_signal(signal.SIGINT)  # uvicorn's shutdown: the log is flushed and ingested

    def stopped(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("skloop serve did not stop on SIGINT") from None
        text = (self.root / "serve.err").read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]

    def _requests(self, port: int) -> None:
        t = self.table
        frame = self.traffic(seed=5, shift=0.0).drop(columns=[t.target]).head(20)
        status, meta = _http(port, "GET", f"/v2/models/{t.name}")
        assert status == 200, meta
        inputs = meta["inputs"]
        unseen = frame.copy()
        for column, value in t.unseen.items():
            if column in unseen.columns:
                unseen[column] = unseen[column].astype(object)
                unseen.loc[:4, column] = value  # never seen in training: flagged, still scored
        rows = _records(unseen)
        tensors = [
            {"name": i["name"], "datatype": i["datatype"], "shape": [len(rows)],
             "data": [_v2_value(r.get(i["name"]), i["datatype"]) for r in rows]}
            for i in inputs
        ]  # fmt: skip
        answers = {
            "v2": _http(port, "POST", f"/v2/models/{t.name}/infer", {"inputs": tensors}),
            "records": _http(port, "POST", "/invocations", {"dataframe_records": rows}),
            "split": _http(port, "POST", "/invocations", {"dataframe_split": {
                "columns": list(unseen.columns), "data": [list(r.values()) for r in rows]}}),
            "csv": _http(port, "POST", "/invocations", unseen.to_csv(index=False).encode(), "text/csv"),
        }  # fmt: skip
        for what, (status, body) in answers.items():
            assert status < 500, f"{what}: {status} {body}"
            assert status == 200, f"{what}: {status} {body}"
        predictions = answers["records"][1]["predictions"]
        assert len(predictions) == len(rows)
        assert answers["split"][1]["predictions"] == predictions
        v2 = {o["name"]: o for o in answers["v2"][1]["outputs"]}
        assert len(v2["predictions"]["data"]) == len(rows)
        # a bad request is a 4xx naming the problem, never a 500
        status, body = _http(port, "POST", "/invocations", {"dataframe_records": [{"nope": 1}]})
        assert 400 <= status < 500, (status, body)

    def predict(self, seed: int, shift: float, stem: str) -> pd.DataFrame:
        """``predict --log`` (the champion, by default) and ``labels ingest`` for one half of the traffic."""
        t = self.table
        frame = self.traffic(seed=seed, shift=shift)
        self.write(frame.drop(columns=[t.target]), stem)
        out = self.root / f"{stem}.predictions.parquet"
        self.cli("predict", t.name, "--data", f"{stem}{t.suffix}", "--out", out.name, "--log", "-q")
        scored = pd.read_parquet(out)
        assert len(scored) == len(frame) and "request_id" in scored.columns, scored.columns
        assert scored["request_id"].nunique() == 1
        if t.id is not None:
            assert scored[t.id].tolist() == frame[t.id].tolist()
            labels = frame[[t.id, t.target]]
            args = ["--id-column", t.id]
        else:
            labels = pd.DataFrame({"request_id": scored["request_id"], "row": scored["row"],
                                   t.target: frame[t.target]})  # fmt: skip
            args = ["--request-id-column", "request_id", "--row-column", "row"]
        labels.to_csv(self.root / f"{stem}.labels.csv", index=False)
        stored = self.cli("labels", "ingest", f"{stem}.labels.csv", "--label-column", t.target, *args).output
        assert f"stored {len(frame)} labels" in stored, stored
        self.write(frame, f"{stem}.labelled")
        return frame

    def monitor(self, stem: str) -> None:
        t = self.table
        name = t.name
        report = json.loads(self.cli("monitor", name, "--current", f"{stem}.labelled{t.suffix}", "--json", "-",
                                     "--n-boot", "50", ok=(0, 3)).stdout)  # fmt: skip
        monitored = {f["name"] for f in report["features"]}
        assert monitored, report
        for column in (t.target, t.id, t.time, t.leak):
            assert column is None or column not in monitored, f"{column} is monitored: {sorted(monitored)}"
        assert report["performance"] is not None, "labels in the file give the realised performance"
        self.cli("monitor", name, "--from-log", "--since", "30d", "--report", "log.html", "--n-boot", "50", ok=(0, 3))
        window = "7d" if t.time is not None else "200"
        self.cli("monitor", name, "--current", f"{stem}.labelled{t.suffix}", "--window", window, "--n-boot", "50",
                 ok=(0, 3))  # fmt: skip

    def explain(self, stem: str) -> None:
        """Contributions that add up to the output, or one line saying why they cannot."""
        rows = self.write(read_table(self.root / f"{stem}{self.table.suffix}").head(40), f"{stem}.head")
        result = self.cli("explain", self.table.name, "--data", rows.name, "--json", ok=(0, 1))
        if result.exit_code:
            self.notes["explain"] = result.output.strip()
            return
        doc = json.loads(result.stdout)
        for row in doc["rows"][:50]:
            total = doc["expected_value"] + sum(row["contributions"].values())
            assert abs(total - row["prediction"]) <= 1e-6 * max(1.0, abs(row["prediction"])), row

    def export(self, stem: str) -> subprocess.Popen[bytes]:
        """MLflow (loaded by real MLflow in a subprocess, started here and checked later) and ONNX."""
        t = self.table
        self.cli("export", t.name, "1", "--format", "mlflow", "--out", "mlflow_model")
        rows = pd.read_parquet(self.root / f"{stem}.predictions.parquet")
        expected = rows["prediction"].head(5).tolist()
        script = (
            "import sys, json, pandas as pd, mlflow.pyfunc\n"
            "m = mlflow.pyfunc.load_model('mlflow_model')\n"
            "from skloop.data import read_table\n"
            f"X = read_table('{stem}{t.suffix}').head(5)\n"
            "print(json.dumps([p.item() if hasattr(p, 'item') else p for p in list(m.predict(X))]))\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        proc.expected = expected  # type: ignore[attr-defined]
        onnx = self.cli("export", t.name, "1", "--format", "onnx", "--out", "model.onnx", ok=(0, 1))
        if onnx.exit_code:
            assert "onnx" in onnx.output.lower(), onnx.output
            self.notes["onnx"] = onnx.output.strip()
        else:
            assert "wrote ONNX model" in onnx.output and (self.root / "model.onnx").is_file()
        return proc

    def check_mlflow(self, proc: subprocess.Popen[bytes]) -> None:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]
        got = json.loads(out.decode().strip().splitlines()[-1])
        expected = proc.expected  # type: ignore[attr-defined]
        if self.table.task == "regression":
            np.testing.assert_allclose(got, expected, rtol=1e-6)
        else:
            assert [str(g) for g in got] == [str(e) for e in expected], (got, expected)

    def loop(self) -> dict[str, Any]:
        decision = json.loads(self.cli("loop", "run", "-q", "--json").stdout)
        assert decision["status"] == "finished", decision
        assert decision["retrain_run_id"], f"the drifted half did not retrain: {decision['triggers']}"
        assert decision["outcome"] in ("promoted", "kept"), decision
        assert decision["reason"], decision
        self.notes["loop"] = f"{decision['outcome']}: {decision['reason']}"
        return decision

    def validate(self) -> None:
        result = self.cli("validate", "--json", ok=(0, 1), verdict=True)
        report = json.loads(result.stdout)
        assert report["checks"], report
        for check in report["checks"]:
            assert check["status"] in ("pass", "fail", "skip"), check
            assert check["status"] != "fail" or check["message"], check
        failed = [f"{c['name']}: {c['message']}" for c in report["checks"] if c["status"] == "fail"]
        if failed:
            self.notes["validate"] = f"failed checks: {failed}"


def run_chain(table: Table, root: Path, *, whole: bool = True) -> Chain:
    """The whole chain on ``table`` in ``root``; returns it with per-step timings.

    Without ``whole``, the chain stops after serving and monitoring: no export, no
    drifted traffic, no loop, no ``validate``.

    The server and the MLflow check are subprocesses that run while the in-process
    steps go on (on two cores their start-up is most of their time).
    """
    chain = Chain(table, root)
    root.mkdir(parents=True, exist_ok=True)
    server = mlflow = None
    try:
        with chain.step("init"):
            chain.init()
        with chain.step("train+promote"):
            chain.train()
        server = chain.start_server()
        with chain.step("predict+labels"):
            chain.predict(seed=1, shift=0.0, stem="traffic1")
        with chain.step("monitor"):
            chain.monitor("traffic1")
        with chain.step("explain"):
            chain.explain("traffic1")
        if whole:
            with chain.step("export"):
                mlflow = chain.export("traffic1")
        with chain.step("serve"):
            chain.serve(*server)
        if whole:
            with chain.step("drifted traffic"):
                chain.predict(seed=2, shift=1.0, stem="traffic2")
            with chain.step("loop"):
                chain.loop()
            with chain.step("validate"):
                chain.validate()
        with chain.step("serve: stop"):  # told to stop before the drifted traffic; its last ingest overlaps
            chain.stopped(server[0])
        if mlflow is not None:
            with chain.step("mlflow: load+predict"):
                chain.check_mlflow(mlflow)
    finally:
        for proc in (server[0] if server else None, mlflow):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    return chain


# -- HTTP --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], err: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"skloop serve exited early: {err.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError):
            if _http(port, "GET", "/v2/health/ready")[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError("skloop serve did not become ready")


def _http(port: int, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body, allow_nan=False).encode()
        conn.request(method, path, data, {"Content-Type": content_type} if data is not None else {})
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON rows: datetimes as ISO-8601 text, missing values as null."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = out.astype(object).where(out.notna(), None)
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in out.to_dict("records")]


def _v2_value(v: Any, datatype: str) -> Any:
    if v is None:
        return None
    if datatype == "BYTES":
        return str(v)
    if datatype == "BOOL":
        return bool(v)
    return float(v) if datatype.startswith("FP") else int(v)
