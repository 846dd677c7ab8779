"""Helpers for the serving tests: train the churn pipeline and register it in a project."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from skloop.core import Settings
from skloop.registry import Registry, infer_signature, save_model
from skloop.store import Store


def churn_pipeline(n_rows: int = 600, n_estimators: int = 10, seed: int = 0) -> tuple[Any, Any, Any]:
    """``(fitted pipeline, X, y)``: the auto preprocessing and a small random forest on make_churn."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from skloop.data import infer_schema, make_churn
    from skloop.pipelines import FeatureSets, build_preprocessor

    df = make_churn(n_rows, seed=seed)
    X = df.drop(columns=["churned", "customer_id"])
    y = df["churned"]
    schema = infer_schema(X)
    features = FeatureSets(**{k: tuple(schema.by_kind(k)) for k in ("numeric", "categorical", "boolean", "datetime")})
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=8, random_state=seed, n_jobs=1)
    pipe = Pipeline([("preprocess", build_preprocessor(features)), ("model", model)])
    return pipe.fit(X, y), X, y


def register_churn(
    settings: Settings, name: str = "churn", *, promote: bool = True, seed: int = 0, n_rows: int = 600
) -> int:
    """Train, register as the next version of ``name`` and (by default) promote it champion."""
    pipe, X, y = churn_pipeline(n_rows=n_rows, seed=seed)
    store = Store.open(settings)
    try:
        with store.runs.start_run(name, spec={"name": name}, code_commit="c0ffee", environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"), media_type="application/x-skops")
        signature = infer_signature(X, y, task="classification", model=pipe)
        registry = Registry(store)
        version = registry.register(run.id, name, signature=signature.to_dict())
        if promote:
            registry.promote(name, version.version, "champion", reason="test")
        return version.version
    finally:
        store.close()


def project_settings(base: Path) -> Settings:
    """Settings of a project rooted at ``base`` (its own SQLite store and artifacts)."""
    return Settings.from_env(base, env={})


# -- real servers in child processes (the workers, load and durability tests) -------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: Any, stderr: Path, timeout: float = 240.0) -> None:
    """Wait until the server on ``port`` answers ``/v2/health/ready`` (fails if ``proc`` exits first)."""
    import http.client
    import time

    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"skloop serve exited early ({proc.returncode}): {stderr.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"skloop serve did not become ready in {timeout:g} s")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (from ``/proc/PID/task/*/children``)."""
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        found.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    frontier += [int(c) for c in fh.read().split()]
            except OSError:
                continue
    return found
