"""Helpers for the serving tests: train the churn pipeline and register it in a project."""

from __future__ import annotations

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
