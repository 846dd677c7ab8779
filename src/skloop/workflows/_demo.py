"""``skloop demo``: the whole loop on the bundled example, start to finish.

train → register → promote → serve (a real uvicorn on 127.0.0.1) → replay traffic whose
distribution shifts part-way → labels arrive → the monitor flags drift and decay →
the loop retrains → the challenger wins → promotion (the server hot-swaps) → report.

The workflow reports what happens through ``tell(section, text)``; the CLI prints it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import SkloopError
from skloop.data import make_churn
from skloop.registry import Registry
from skloop.serve import Ingestor, PredictionLog, create_app, default_log_dir, ingest_once
from skloop.workflows._init import init_example
from skloop.workflows._loop import run_loop
from skloop.workflows._monitor import monitor_model
from skloop.workflows._progress import Progress
from skloop.workflows._project import Project

__all__ = ["DEMO_LOOP_POLICY", "DemoResult", "run_demo"]

Tell = Callable[[str, str], None]

DEMO_LOOP_POLICY = """\
monitoring:
  drift: {share: 0.3}
loop:
  monitor_window: 1d
  triggers:
    drift: true
    performance: {margin: 0.05, min_labels: 200}
  data:
    window: 1d
    holdout: 0.3
    min_rows: 200
    include_training: true       # the original data, plus the recent traffic weighted up
    weighting: {method: duplicate, factor: 3}
  guards: {cooldown: 1h, max_per_day: 3}
  compare: {margin: 0.0, confidence: 0.95}
"""
"""The loop policy the demo appends to the example spec (docs/loop.md has every key)."""

CHUNKS = (0.0, 0.0, 0.5, 1.0, 1.0, 1.0)
"""The shift of each chunk of replayed traffic: stable, then drifting, then shifted."""


@dataclass
class DemoResult:
    """Figures of a demo run, for the summary and for tests."""

    workdir: Path
    first_version: int | None = None
    served_rows: int = 0
    labelled_rows: int = 0
    auc_by_chunk: list[float] = field(default_factory=list)
    drifted_features: list[str] = field(default_factory=list)
    decision_outcome: str | None = None
    decision_reason: str | None = None
    comparison: dict[str, Any] | None = None
    champion_after: int | None = None
    served_after: str | None = None
    report_path: Path | None = None
    seconds: float = 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(project: Project, name: str) -> Iterator[tuple[str, Any]]:
    """A real uvicorn serving ``name@champion`` on 127.0.0.1, with the prediction log and its ingestor."""
    import uvicorn

    settings = project.settings
    log = PredictionLog(default_log_dir(settings)).start()
    ingestor = Ingestor(log.directory, project.store).start()
    app = create_app(settings, model_name=name, prediction_log=log, poll_seconds=0.5)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="skloop-demo-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise SkloopError("the demo server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)
        log.close()
        ingestor.close()
        app.registry.store.close()


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read()), dict(response.headers)


def _infer(url: str, name: str, frame: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Score ``frame`` over KServe V2 (one BYTES tensor of JSON rows): P(positive) and the version that answered."""
    rows = [json.dumps(r, default=str) for r in _json_rows(frame)]
    body = {"inputs": [{"name": "rows", "shape": [len(rows)], "datatype": "BYTES", "data": rows}]}
    answer, headers = _post(f"{url}/v2/models/{name}/infer", body)
    out = {o["name"]: o for o in answer["outputs"]}
    proba = np.asarray(out["probabilities"]["data"], dtype=float).reshape(out["probabilities"]["shape"])
    return proba[:, -1], headers.get("x-skloop-model", "?")


def _json_rows(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for row in rows:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.isoformat()
    return rows


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(set(y.tolist())) > 1 else float("nan")


def run_demo(
    workdir: str | Path,
    *,
    rows: int = 4000,
    chunk_rows: int = 400,
    tell: Tell | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole loop on the bundled example in ``workdir``.

    Parameters
    ----------
    workdir : path
        An empty or disposable directory; the project, its store and the report go there.
    rows : int
        Rows of the training data.
    chunk_rows : int
        Rows per chunk of replayed traffic (``len(CHUNKS)`` chunks).
    tell : callable, optional
        ``tell(section, text)`` for each thing that happens.
    progress : Progress, optional
        Progress of the training runs.

    Returns
    -------
    DemoResult
    """
    started = time.perf_counter()
    say: Tell = tell or (lambda section, text: None)
    root = Path(workdir)
    spec_path = init_example(root, n_rows=rows, force=True)
    spec_path.write_text(spec_path.read_text() + DEMO_LOOP_POLICY, encoding="utf-8")
    result = DemoResult(workdir=root)
    with Project.load(spec_path) as project:
        name = project.spec.name
        target = project.spec.data.target
        say("train", f"{rows} customers, {project.spec.search.strategy} search, {project.spec.search.cv.folds} folds")
        trained = project.train(progress=progress)
        result.first_version = trained.model_version
        say(
            "train",
            f"run {trained.run_id[:8]}: CV roc_auc {trained.cv['roc_auc']['mean']:.3f} ± "
            f"{trained.cv['roc_auc']['std']:.3f}, holdout {trained.holdout.get('roc_auc', float('nan')):.3f}; "
            f"registered {name} v{trained.model_version}",
        )
        registry = Registry(project.store)
        registry.promote(name, trained.model_version, "champion", reason="first model", actor="skloop demo")  # type: ignore[arg-type]
        say("registry", f"{name} v{trained.model_version} promoted to champion")

        with _served(project, name) as (url, app):
            say("serve", f"{name}@champion served at {url} ({app.model.runtime}); replaying traffic")
            token = {"Authorization": f"Bearer {project.settings.token}"} if project.settings.token else {}
            for i, shift in enumerate(CHUNKS):
                chunk = make_churn(chunk_rows, seed=1000 + i, shift=shift)
                chunk["customer_id"] = [f"live-{i}-{j}" for j in range(len(chunk))]
                proba, served_by = _infer(url, name, chunk.drop(columns=[target]))
                auc = _auc(chunk[target].to_numpy(), proba)
                result.auc_by_chunk.append(auc)
                result.served_rows += len(chunk)
                # the labels of this chunk arrive (here at once; in life, days later)
                labels = [
                    {"id": cid, "label": int(y)} for cid, y in zip(chunk["customer_id"], chunk[target], strict=True)
                ]
                _post(f"{url}/v2/models/{name}/labels", labels, token)
                result.labelled_rows += len(labels)
                say(
                    "traffic",
                    f"chunk {i + 1}/{len(CHUNKS)}: shift {shift:.1f}, {len(chunk)} rows served by {served_by}, "
                    f"live roc_auc {auc:.3f} (labels arrived)",
                )
            ingest_once(default_log_dir(project.settings), project.store)

            report = monitor_model(
                project.store, f"{name}@champion", project.settings, from_log=True, window=chunk_rows
            )
            result.drifted_features = list(report.drift.drifted_features)
            report_path = root / "report.html"
            from skloop.monitor import render_report_html

            report_path.write_text(render_report_html(report), encoding="utf-8")
            result.report_path = report_path
            say(
                "monitor",
                f"drift {'detected' if report.drift.drifted else 'not detected'}: "
                f"{len(result.drifted_features)} features ({', '.join(result.drifted_features[:5])}); "
                f"report {report_path}",
            )

            decision = run_loop(project.spec, project.settings, store=project.store, progress=progress)
            result.decision_outcome, result.decision_reason = decision.outcome, decision.reason
            result.comparison = decision.comparison
            fired = ", ".join(decision.fired) or "none"
            say("loop", f"triggers fired: {fired}")
            if decision.comparison:
                c = decision.comparison
                say(
                    "loop",
                    f"challenger v{decision.challenger_version} vs champion v{decision.champion_version} on "
                    f"{c['n_rows']} recent labelled rows ({c['method']}): {c['metric']} "
                    f"{c['challenger']:.3f} vs {c['champion']:.3f}, p = {c['p_value']:.3g}",
                )
            say("loop", f"decision: {decision.outcome} — {decision.reason}")
            champion = registry.resolve(f"{name}@champion")
            result.champion_after = champion.version
            deadline = time.monotonic() + 10
            while app.model.version != champion.version and time.monotonic() < deadline:
                time.sleep(0.1)  # the server follows the alias by itself
            probe = make_churn(400, seed=4242, shift=1.0)
            proba, result.served_after = _infer(url, name, probe.drop(columns=[target]))
            say(
                "serve",
                f"the server now answers with {result.served_after}: "
                f"roc_auc {_auc(probe[target].to_numpy(), proba):.3f} on new shifted traffic",
            )
    result.seconds = time.perf_counter() - started
    return result
