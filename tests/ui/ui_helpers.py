"""Helpers of the web UI's tests: a store seeded fast, a real search trained fast, the
real server, the page table.

The store holds ``N_BULK`` runs imported in bulk (``Store.import_runs``: no training;
tags ``team`` and ``data``), three runs logged the way training logs them (folds as
metric steps, artifacts, a dataset, the spec, the environment), a failed run, and
model ``churn`` with a registered version and a rejected one retrained from it (its
parent). :func:`log_curves` adds two runs that logged metrics step by step;
:func:`train_search` trains a small grid search.

:func:`running_ui` starts ``skloop ui`` (the CLI, in a subprocess) and returns once it
answers; :data:`UI_PAGES` lists every page of the UI (the accessibility test visits each);
:func:`artifact_dir` is where the browser tests keep their screenshots.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from skloop.core import GatesSpec
from skloop.registry import Registry
from skloop.store import DatasetRecord, Run, Store

if TYPE_CHECKING:
    from skloop.workflows import Project

N_BULK = 120
STATUSES = ("finished", "finished", "finished", "failed", "killed")
GATES = GatesSpec(min={"holdout_roc_auc": 0.75})
TOKEN = "s3cret-token"
FINGERPRINT = "ab" * 32
TEAMS = ("red", "blue", "red", "green")
"""Tag ``team`` of bulk run ``i`` is ``TEAMS[i % 4]``; tag ``data`` is ``v{i % 8}``."""
CURVES = {
    "a": {"loss": [0.9, 0.6, 0.45, 0.4], "accuracy": [0.5, 0.7, 0.8, 0.82]},
    "b": {"loss": [1.0, 0.8, 0.7, 0.66, 0.65, 0.64]},
}
"""What :func:`log_curves` logs: metric values by step, per run name."""
SEARCH_SPEC = """\
name: churn
seed: 7
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.tree.DecisionTreeClassifier
search:
  strategy: grid
  space:
    model__min_samples_leaf: [1, 4, 16, 100]
    model__criterion: [gini, entropy]
  cv: {folds: 3}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
"""
"""A grid of 4 x 2 = 8 candidates (a numeric and a categorical param), 3 folds, on 400 rows."""


@dataclass(frozen=True)
class Seeded:
    """What the seeded store holds, by name."""

    store: Store
    bulk_ids: list[str]
    best: str  # a logged training run: folds, candidates, artifacts, dataset; churn v1
    other: str  # like best with other params; churn v2 (parent v1), rejected by the gates
    failed: str  # a run that raised


def _bulk_runs(t0: datetime) -> list[Run]:
    return [
        Run(
            id="",
            project="churn",
            kind="train",
            status=STATUSES[i % len(STATUSES)],
            start_time=t0 + timedelta(minutes=i),
            end_time=t0 + timedelta(minutes=i, seconds=20 + i % 7),
            name=f"bulk-{i:03d}",
            params={"model__C": str([0.1, 1, 10][i % 3]), "model": "LogisticRegression"},
            tags={"team": TEAMS[i % 4], "data": f"v{i % 8}"},
            metrics={"cv_roc_auc_mean": round(0.5 + i / 400, 4), "holdout_roc_auc": round(0.9 - i / 500, 4)},
        )
        for i in range(N_BULK)
    ]


def _training_run(store: Store, model_bytes: bytes, name: str, c: str, folds: list[float], holdout: float) -> str:
    spec = {"name": "churn", "target": "churned", "pipeline": {"model": "LogisticRegression"}}
    with store.runs.start_run(
        "churn", name=name, spec=spec, code_commit="c0ffee1234", code_dirty=False,
        environment={"python": "3.12.1", "scikit-learn": "1.7.0"}, seed=0,
    ) as run:  # fmt: skip
        store.datasets.log_dataset(
            run.id, DatasetRecord(fingerprint=FINGERPRINT, source="data/churn.csv", n_rows=400, n_columns=9)
        )
        store.runs.log_params(run.id, {"model": "LogisticRegression", "model__C": c, "search.cv.folds": len(folds)})
        metrics = [("cv_roc_auc_fold", s, i) for i, s in enumerate(folds)]
        metrics += [("cv_roc_auc_mean", sum(folds) / len(folds), 0), ("holdout_roc_auc", holdout, 0)]
        store.runs.log_batch(run.id, metrics=metrics)
        store.runs.log_artifact(run.id, "model.skops", model_bytes, media_type="application/x-skops")
        candidates = [
            {"params": {"model__C": v}, "mean_test_roc_auc": m, "rank_test_roc_auc": r}
            for v, m, r in ((0.1, 0.71, 3), (1.0, 0.83, 1), (10.0, 0.79, 2))
        ]
        cv = {"refit": "roc_auc", "scoring": ["roc_auc"], "best_index": 1, "candidates": candidates}
        store.runs.log_artifact(run.id, "cv_results.json", json.dumps(cv).encode(), media_type="application/json")
    return run.id


def seed(store: Store, model_bytes: bytes) -> Seeded:
    """Fill ``store`` as the module docstring says."""
    bulk_ids = store.runs.import_runs(_bulk_runs(datetime(2026, 1, 1, tzinfo=UTC)))
    best = _training_run(store, model_bytes, "best", "1.0", [0.81, 0.84, 0.83], 0.82)
    other = _training_run(store, model_bytes, "other", "10.0", [0.70, 0.66, 0.69], 0.61)
    with pytest.raises(ValueError), store.runs.start_run("churn", name="broken") as run:
        raise ValueError("the CSV has no column 'churned'")
    registry = Registry(store)
    registry.register(best, "churn", gates=GATES)
    registry.register(other, "churn", gates=GATES, parent_version=1)  # retrained from v1, as the loop records it
    return Seeded(store=store, bulk_ids=bulk_ids, best=best, other=other, failed=run.id)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def seed_decisions(seeded: Seeded) -> list[str]:
    """Two loop decisions of ``churn``, written through ``store.loop`` (no loop run).

    The first retrained (run ``other``, v2) against champion v1 and kept v1; the second
    fired nothing. Returns their ids, oldest first.
    """
    loop = seeded.store.loop
    first = loop.create_decision("churn", evaluated_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    loop.update_decision(
        first.id, champion_version=1, challenger_version=2, retrain_run_id=seeded.other, fired=["drift_psi"],
        triggers=[
            {"name": "drift_psi", "fired": True, "value": 0.31, "threshold": 0.2, "detail": "tenure drifted"},
            {"name": "schedule", "fired": False, "value": None, "threshold": None, "detail": "not due"},
        ],
        comparison={"metric": "roc_auc", "method": "paired_bootstrap", "champion": 0.82, "challenger": 0.61,
                    "p_value": 0.0123},
    )  # fmt: skip
    loop.finish_decision(first.id, outcome="kept", reason="the challenger scored worse than the champion")
    second = loop.create_decision("churn", evaluated_at=datetime(2026, 2, 2, 9, 30, tzinfo=UTC))
    loop.update_decision(second.id, champion_version=1, triggers=[{"name": "drift_psi", "fired": False, "value": 0.05}])
    loop.finish_decision(second.id, outcome="none", reason="no trigger fired")
    return [first.id, second.id]


def log_curves(store: Store) -> dict[str, str]:
    """Two runs that logged :data:`CURVES` step by step (``log_metric(..., step=i)``); their ids by name."""
    ids = {}
    for name, metrics in CURVES.items():
        with store.runs.start_run("churn", name=f"curve-{name}") as run:
            for key, values in metrics.items():
                for step, value in enumerate(values):
                    store.runs.log_metric(run.id, key, value, step=step)
            store.runs.log_metric(run.id, "epochs", len(next(iter(metrics.values()))))  # one step: no curve
        ids[name] = run.id
    return ids


def train_search(root: Path) -> tuple[Project, str]:
    """Train :data:`SEARCH_SPEC` (a real GridSearchCV) in ``root``; the project (close it) and the run id."""
    from skloop.workflows import Project, init_example

    spec = init_example(root, n_rows=400, force=True)
    spec.write_text(SEARCH_SPEC)
    project = Project.load(spec)
    return project, project.train(n_jobs=1).run_id


# --- the real server and the browser -----------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
"""The system's Chromium (Debian's package), driven by Playwright; never a browser download."""
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
LAUNCH_TIMEOUT_MS = 120_000
"""Chromium's cold start on a loaded two-core machine can take far longer than Playwright's 30 s."""

READY_TIMEOUT_S = 90.0
"""How long ``skloop ui`` may take to answer: a cold machine imports and compiles everything first."""
PORT_ATTEMPTS = 3


@dataclass
class Served:
    """The running ``skloop ui``: its base URL, what its store holds, where screenshots go."""

    url: str
    seeded: Seeded
    shots: Path


def free_port() -> int:
    """A port nothing listens on now (another process may take it before the server binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PortTaken(Exception):
    """The server could not bind its port: another process took it after :func:`free_port`."""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False
    except OSError:  # refused (not listening yet), reset, or timed out under load
        return False


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, port: int, deadline: float) -> str:
    """The server's URL once it printed it and answers ``/models``; its output in any error.

    Polls the process (``wait`` returns as soon as it exits) and the port, never a fixed
    sleep: a warning printed before the URL line, a slow import or a slow first request
    only make it take longer.
    """
    url = f"http://127.0.0.1:{port}"
    announced = False
    while True:
        output = log.read_text(encoding="utf-8", errors="replace")
        if proc.poll() is not None:
            if "address already in use" in output.lower():
                raise _PortTaken(output)
            raise AssertionError(f"skloop ui exited with {proc.returncode} before answering:\n{output}")
        announced = announced or f"skloop ui at {url}/" in output
        if announced and _answers(url + "/models"):
            return url
        if time.monotonic() > deadline:
            raise AssertionError(f"skloop ui did not answer at {url} in {READY_TIMEOUT_S:.0f} s; its output:\n{output}")
        with suppress(subprocess.TimeoutExpired):  # returns at once when the process exits
            proc.wait(timeout=0.1)


@contextmanager
def running_ui(root: Path, settings: dict[str, str], args: Sequence[str] = ()) -> Iterator[str]:
    """``skloop ui`` in ``root`` (its ``skloop.yaml`` if any) with ``settings``: yields its base URL.

    ``settings`` are the only ``SKLOOP_*`` variables the server sees (``SKLOOP_STORE_URL``,
    ``SKLOOP_ARTIFACT_ROOT``, ``SKLOOP_TOKEN``, ...); without a store URL it reads the spec's.
    ``args`` are more options of ``skloop ui`` (``--server URL``).

    The output (stdout and stderr) goes to a log file under ``root`` rather than a pipe
    nobody reads; the URL line is looked for anywhere in it, not as the first line. A port
    taken between :func:`free_port` and the bind is retried on another port.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env |= settings
    deadline = time.monotonic() + READY_TIMEOUT_S
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        log = root / f"skloop-ui-{port}.log"
        cmd = [
            sys.executable,
            "-m",
            "skloop.cli",
            "ui",
            "--port",
            str(port),
            "--spec",
            str(root / "skloop.yaml"),
            *args,
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                url = _wait_ready(proc, log, port, deadline)
            except _PortTaken:
                if attempt == PORT_ATTEMPTS:
                    raise
                continue
            yield url
            return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def artifact_dir(rootpath: Path) -> Path:
    """Where the UI's browser tests keep their screenshots (created).

    ``$SKLOOP_TEST_ARTIFACTS/ui`` when that variable is set, else ``build/test-artifacts/ui``
    under the repository (git-ignored). Names: ``<module>-<test id>.png``.
    """
    base = os.environ.get("SKLOOP_TEST_ARTIFACTS") or str(rootpath / "build" / "test-artifacts")
    folder = Path(base) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot_name(prefix: str, test_id: str) -> str:
    """A screenshot's file name from a test id (``test_x[runs-narrow]`` → ``prefix-test_x-runs-narrow.png``)."""
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", test_id).strip("-") + ".png"


# --- every page of the UI ---------------------------------------------------------------


@dataclass(frozen=True)
class UIPage:
    """One page of the UI as the accessibility test visits it.

    ``path`` may name the seeded store's ids: ``{best}``, ``{other}``, ``{failed}``
    (run ids) and ``{fingerprint}`` (the dataset's); ``status`` is the HTTP status the
    page answers with.
    """

    name: str
    path: str
    status: int = 200

    def url(self, base: str, seeded: Seeded) -> str:
        """The page's full URL on the server at ``base``."""
        ids = {"best": seeded.best, "other": seeded.other, "failed": seeded.failed, "fingerprint": FINGERPRINT}
        return base + self.path.format(**ids)


UI_PAGES: list[UIPage] = [
    UIPage("projects", "/"),  # the list when the store has two projects and no spec names one
    UIPage("runs", "/projects/churn/runs"),
    UIPage("runs-bad-filter", "/projects/churn/runs?q=metrics.cv_roc_auc_mean+%3E"),
    UIPage("compare", "/compare?run={best}&run={other}"),
    UIPage("run", "/runs/{best}"),
    UIPage("failed-run", "/runs/{failed}"),
    UIPage("models", "/models"),
    UIPage("model", "/models/churn"),
    UIPage("model-card", "/models/churn/1/card"),
    UIPage("loop", "/models/churn/loop"),
    UIPage("serving", "/models/churn/serving"),  # no prediction logged: the empty page
    UIPage("version-lineage", "/models/churn/2/lineage"),
    UIPage("dataset-lineage", "/datasets/{fingerprint}/lineage"),
    UIPage("not-found", "/runs/" + "f" * 32, status=404),
]
"""Every page the UI has: a new page is one more line here (the accessibility test then checks it)."""


@contextmanager
def recording_page(
    browser: Any,
    shot: Path,
    *,
    viewport: tuple[int, int] = (1280, 800),
    errors: list[str] | None = None,
    **context_args: Any,
) -> Iterator[Any]:
    """A fresh page that records console errors and failed requests; no error may remain at the end.

    The screenshot ``shot`` is taken for a failed test too (the page as it was). A test that
    expects an error (a 4xx page logs one) passes its own ``errors`` list and removes it.
    A favicon request aborted by a navigation is not an error of the page.
    """
    errors = [] if errors is None else errors
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **context_args)
    tab = context.new_page()
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))

    def failed(r: Any) -> None:
        if not (r.url.endswith("favicon.svg") and r.failure == "net::ERR_ABORTED"):
            errors.append(f"failed: {r.url} ({r.failure})")

    tab.on("requestfailed", failed)
    try:
        yield tab
    finally:
        try:
            tab.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    assert errors == [], errors
