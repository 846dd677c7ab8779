"""Training: ``skloop train`` against a hand-written scikit-learn ``GridSearchCV`` script.

Each scenario trains the bundled churn example's spec (``skloop init --example``) through
the ``skloop train`` CLI and through a plain script (read the CSV, split the holdout,
``GridSearchCV`` over a ``ColumnTransformer`` pipeline, score the holdout, save the
model with joblib), each in its own process, same grid, folds, seeds and machine, and
prints their wall and search times and the ratios. Two plain scripts run:

- ``plain``: scikit-learn's own transformers only, what a user would write
  (``SimpleImputer``, ``OneHotEncoder(min_frequency=...)``, a ``FunctionTransformer``
  for the calendar, scaled like the numbers: unscaled, the logistic regression of the
  ``cache`` scenario stops at ``max_iter`` on every fit); its one-hot columns come in another
  order (scikit-learn puts the
  infrequent column last), so its forest's CV scores differ slightly (printed);
- ``plain, skloop's pipeline``: the same script with the pipeline skloop builds, by
  hand from ``skloop.pipelines``' public transformers; its CV scores must equal
  ``skloop train``'s exactly (checked).

Then one in-process ``skloop train`` with each part timed (import, store, read,
fingerprint, snapshot, profile, waiting for the workers started early, search, holdout,
reference, save, importance, register). Scenarios: ``example`` (5,000 rows, 4 candidates x 5 folds of a random
forest), ``big`` (the same on 100,000 rows), ``cache`` (100,000 rows, a 20-candidate
grid over a logistic regression's ``C``: only the model's parameters change, which
``search.cache`` exploits; also run with ``search.cache: false``)::

    python benchmarks/bench_train.py [--scenario example big cache] [--repeats 1] [--n-jobs -1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

PLAIN = r"""
import importlib, json, sys, time
t0 = time.perf_counter()
import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

cfg = json.loads(sys.argv[1])
NUMERIC = ["age", "tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["contract", "payment_method", "region"]
BOOLEAN = ["paperless_billing", "has_partner"]
DATETIME = ["signup_date"]


def calendar(X):
    d = X.iloc[:, 0]
    return np.column_stack([d.dt.year, d.dt.month, d.dt.day, d.dt.dayofweek, d.dt.hour]).astype(float)


def sklearn_only():
    return ColumnTransformer([
        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC),
        ("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=0.01, sparse_output=False)),
        ]), CATEGORICAL),
        ("boolean", "passthrough", BOOLEAN),
        ("datetime", Pipeline([("calendar", FunctionTransformer(calendar)), ("scale", StandardScaler())]), DATETIME),
    ])


def skloops_pipeline():
    from skloop.pipelines import BooleanEncoder, DatetimeFeatures, MissingCategoryFiller, RareCategoryGrouper

    def impute(strategy):
        return SimpleImputer(strategy=strategy, keep_empty_features=True)

    return ColumnTransformer([
        ("numeric", Pipeline([("impute", impute("median")), ("scale", StandardScaler())]), NUMERIC),
        ("categorical", Pipeline([
            ("fill", MissingCategoryFiller()),
            ("group", RareCategoryGrouper(min_frequency=0.01)),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), CATEGORICAL),
        ("boolean", Pipeline([("encode", BooleanEncoder()), ("impute", impute("most_frequent"))]), BOOLEAN),
        ("datetime", Pipeline([
            ("extract", DatetimeFeatures()), ("impute", impute("median")), ("scale", StandardScaler()),
        ]), DATETIME),
    ], sparse_threshold=0.0)


df = pd.read_csv(cfg["csv"], parse_dates=DATETIME)
y = df["churned"]
train, hold = train_test_split(np.arange(len(df)), test_size=0.2, random_state=cfg["seed"], stratify=y)
train, hold = np.sort(train), np.sort(hold)
X = df[NUMERIC + CATEGORICAL + BOOLEAN + DATETIME]
module, _, name = cfg["model"].rpartition(".")
model = getattr(importlib.import_module(module), name)(**cfg["params"])
pre = skloops_pipeline() if cfg["same_pipeline"] else sklearn_only()
search = GridSearchCV(
    Pipeline([("preprocess", pre), ("model", model)]), cfg["space"], scoring=cfg["scoring"], refit=cfg["scoring"][0],
    cv=StratifiedKFold(cfg["folds"], shuffle=True, random_state=cfg["seed"]), n_jobs=cfg["n_jobs"],
)
t = time.perf_counter()
search.fit(X.iloc[train], y.iloc[train])
search_s = time.perf_counter() - t
best = search.best_estimator_
holdout = {s: float(get_scorer(s)(best, X.iloc[hold], y.iloc[hold])) for s in cfg["scoring"]}
joblib.dump(best, cfg["out"])
r = search.cv_results_
folds = {s: [float(r[f"split{i}_test_{s}"][search.best_index_]) for i in range(cfg["folds"])] for s in cfg["scoring"]}
print(json.dumps({"search_s": search_s, "folds": folds, "holdout": holdout, "inner_s": time.perf_counter() - t0}))
"""

BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
import skloop.cli  # what `skloop train` imports before it starts
from skloop.workflows import Project
import_s = time.perf_counter() - t0
import pandas as pd
import skloop.registry
import skloop.workflows._train as tr
from skloop.store import Store

parts = {}

def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
    return wrapper

tr.read_table = timed("read", tr.read_table)
tr.fingerprint = timed("fingerprint", tr.fingerprint)
pd.DataFrame.to_parquet = timed("snapshot", pd.DataFrame.to_parquet)
tr.profile = timed("profile", tr.profile)
tr._log_reference = timed("reference", tr._log_reference)
tr._holdout_scores = timed("holdout", tr._holdout_scores)
tr.register_result = timed("register", tr.register_result)
tr.wait_for_workers = timed("workers", tr.wait_for_workers)  # in the CLI they start while it imports
skloop.registry.column_importance = timed("importance", skloop.registry.column_importance)
Store.open = timed("store", Store.open)
build_search = tr.build_search

def build_search_timed(*a, **k):
    plan = build_search(*a, **k)
    plan.search.fit = timed("search", plan.search.fit)
    return plan

tr.build_search = build_search_timed


class Steps:
    def __init__(self):
        self.marks = []

    def step(self, text):
        self.marks.append((text, time.perf_counter()))

    def task(self, text, total):
        from contextlib import contextmanager

        @contextmanager
        def cm():
            self.marks.append((text, time.perf_counter()))
            yield lambda n: None
        return cm()


steps = Steps()
from pathlib import Path
from skloop.core import warm_search_workers

warm_search_workers(Path(sys.argv[1]))  # as `skloop train` does first: its workers also write the skops file
project = Project.load(sys.argv[1])
t = time.perf_counter()
project.train(progress=steps)
end = time.perf_counter()
project.close()
marks = dict(steps.marks)
saving = marks["saving the pipeline"]
parts["save"] = marks.get("registering the model", end) - saving
parts["import"] = import_s
print(json.dumps({"total_s": end - t0, "parts": parts}))
"""

PART_ORDER = (
    "import", "store", "read", "fingerprint", "snapshot", "profile", "workers", "search", "holdout", "reference",
    "save", "importance", "register",
)  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(args: list[str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{out.stdout}\n{out.stderr}")
    return wall, out.stdout


def _project(root: Path, rows: int, model: dict[str, Any] | None, space: dict[str, Any] | None) -> Path:
    from skloop.workflows import init_example

    spec_path = init_example(root, n_rows=rows, force=True)
    spec = yaml.safe_load(spec_path.read_text())
    if model is not None:
        spec["pipeline"]["model"] = model
    if space is not None:
        spec["search"]["space"] = space
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path


def _skloop(spec_path: Path, cache: bool, n_jobs: int) -> tuple[float, dict[str, Any]]:
    spec = yaml.safe_load(spec_path.read_text())
    spec["search"]["cache"] = cache
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    args = [sys.executable, "-m", "skloop.cli", "train", "--spec", str(spec_path), "--json", "-j", str(n_jobs)]
    wall, out = _run(args, spec_path.parent)
    result = json.loads(out)
    return wall, result


def _plain(spec_path: Path, same_pipeline: bool, n_jobs: int) -> tuple[float, dict[str, Any]]:
    spec = yaml.safe_load(spec_path.read_text())
    model = spec["pipeline"]["model"]
    cfg = {
        "csv": str(spec_path.parent / spec["data"]["train"]),
        "seed": spec["seed"],
        "model": model["class"],
        "params": {**model.get("params", {}), "random_state": spec["seed"]},
        "space": spec["search"]["space"],
        "scoring": spec["search"]["scoring"],
        "folds": spec["search"]["cv"]["folds"],
        "n_jobs": n_jobs,
        "same_pipeline": same_pipeline,
        "out": str(spec_path.parent / "plain.joblib"),
    }
    script = spec_path.parent / "plain_train.py"
    script.write_text(PLAIN)
    wall, out = _run([sys.executable, str(script), json.dumps(cfg)], spec_path.parent)
    return wall, json.loads(out)


def _breakdown(spec_path: Path) -> dict[str, Any]:
    script = spec_path.parent / "breakdown.py"
    script.write_text(BREAKDOWN)
    _, out = _run([sys.executable, str(script), str(spec_path)], spec_path.parent)
    return json.loads(out)  # type: ignore[no-any-return]


SCENARIOS: dict[str, dict[str, Any]] = {
    "example": {"rows": 5000, "model": None, "space": None},
    "big": {"rows": 100_000, "model": None, "space": None},
    "cache": {
        "rows": 100_000,
        "model": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}},
        "space": {"model__C": [float(f"{10 ** (-3 + 5 * i / 19):.4g}") for i in range(20)]},
    },
}


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--repeats", type=int, default=1, help="timings per tool; the best is kept")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--no-same-pipeline", action="store_true", help="skip the plain script on skloop's pipeline")
    args = parser.parse_args()
    for name in args.scenario:
        sc = SCENARIOS[name]
        with tempfile.TemporaryDirectory(prefix=f"bench_train_{name}_") as tmp:
            spec_path = _project(Path(tmp), sc["rows"], sc["model"], sc["space"])
            spec = yaml.safe_load(spec_path.read_text())
            n_cand = 1
            for values in spec["search"]["space"].values():
                n_cand *= len(values)
            print(f"\n== {name}: {sc['rows']:,} rows, {n_cand} candidates x {spec['search']['cv']['folds']} folds, "
                  f"{spec['pipeline']['model']['class'].rsplit('.', 1)[1]}, n_jobs {args.n_jobs}; "
                  f"load average {_load()} (1/5/15 min) at start")  # fmt: skip
            runs: dict[str, list[tuple[float, float, dict[str, Any]]]] = {}
            tools = ["skloop train", "plain", "plain, skloop's pipeline"]
            if name == "cache":
                tools.insert(1, "skloop train, cache off")
            if args.no_same_pipeline:
                tools.remove("plain, skloop's pipeline")
            for _ in range(args.repeats):
                for tool in tools:
                    if tool.startswith("skloop"):
                        wall, res = _skloop(spec_path, cache=not tool.endswith("off"), n_jobs=args.n_jobs)
                        search_s, folds = res["duration_s"], {k: v["folds"] for k, v in res["cv"].items()}
                    else:
                        wall, res = _plain(spec_path, same_pipeline="skloop" in tool, n_jobs=args.n_jobs)
                        search_s, folds = res["search_s"], res["folds"]
                    runs.setdefault(tool, []).append((wall, search_s, folds))
            best = {tool: min(r, key=lambda r: r[0]) for tool, r in runs.items()}
            if args.repeats > 1:  # the spread, as well as the best of each
                medians = {tool: statistics.median(w for w, _, _ in r) for tool, r in runs.items()}
                print("median wall: " + ", ".join(
                    f"{tool} {m:.2f} s ({m / medians['plain']:.2f}x)" for tool, m in medians.items()
                ))  # fmt: skip
            base_wall, base_search, _ = best["plain"]
            print(f"{'tool':<26} {'wall s':>8} {'search s':>9} {'wall / plain':>13} {'search / plain':>15}  CV folds")
            ours = best["skloop train"][2]
            for tool, (wall, search_s, folds) in best.items():
                if tool == "skloop train":
                    same = "-"
                else:
                    diff = max(abs(a - b) for m in ours for a, b in zip(ours[m], folds[m], strict=True))
                    same = "equal" if diff == 0 else f"max |diff| {diff:.4f}"
                print(
                    f"{tool:<26} {wall:8.2f} {search_s:9.2f} {wall / base_wall:12.2f}x "
                    f"{search_s / base_search:14.2f}x  {same}"
                )
            if "plain, skloop's pipeline" in best and best["plain, skloop's pipeline"][2] != ours:
                print("!! skloop's CV fold scores differ from GridSearchCV's on the same pipeline")
            if not args.no_breakdown:
                parts = _breakdown(spec_path)
                line = ", ".join(f"{p} {parts['parts'][p]:.2f}" for p in PART_ORDER if p in parts["parts"])
                other = parts["total_s"] - sum(parts["parts"].values())
                print(f"skloop train in one process, {parts['total_s']:.2f} s: {line}, other {other:.2f}")
            print(f"load average {_load()} at the end")


if __name__ == "__main__":
    main()
