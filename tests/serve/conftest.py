"""Fixtures of the serving tests (shared: each area appends its own, with a distinct prefix)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# -- prediction log fixtures (wal_*): a store on SQLite and, when configured, PostgreSQL --


@pytest.fixture
def wal_store_url(store_url: str) -> str:
    """The shared ``store_url`` (SQLite, and PostgreSQL when configured)."""
    return store_url


@pytest.fixture
def wal_store(wal_store_url: str, tmp_path: Path) -> Iterator[Any]:
    """An open store (see ``wal_store_url``)."""
    from skloop.store import Store

    store = Store.open(wal_store_url, tmp_path / "artifacts")
    try:
        yield store
    finally:
        store.close()


def _wal_record(request_id: str, row: int = 0, *, model: str = "churn", entity: object = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": request_id,
        "row": row,
        "time": "2025-03-01T12:00:00.000000+00:00",
        "model": model,
        "version": 1,
        "inputs": {"tenure": 12, "plan": "basic", "charges": 49.5},
        "outputs": {"prediction": "no", "probabilities": {"no": 0.8, "yes": 0.2}},
        "flags": [],
    }
    if entity is not None:
        record["entity_id"] = entity
    return record


@pytest.fixture
def wal_record() -> Callable[..., dict[str, Any]]:
    """``wal_record(request_id, row=0, *, model="churn", entity=None)``: a record as the server logs it."""
    return _wal_record


# -- model server fixtures (test_app*, test_protocols*, test_fuzz*, test_hotswap*, test_security*)


@pytest.fixture(scope="session")
def srv_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with ``churn`` v1 registered and promoted champion (shared, read-only)."""
    from serve_helpers import project_settings, register_churn

    base = tmp_path_factory.mktemp("srv_project")
    register_churn(project_settings(base))
    return base


@pytest.fixture
def srv_fresh_project(tmp_path: Path) -> Path:
    """A project of this test only (for tests that promote versions)."""
    from serve_helpers import project_settings, register_churn

    register_churn(project_settings(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def srv_row() -> dict[str, Any]:
    """One valid churn row as JSON values."""
    return {
        "signup_date": "2024-06-20",
        "age": 41,
        "tenure_months": 12,
        "contract": "one-year",
        "payment_method": None,
        "paperless_billing": False,
        "has_partner": True,
        "region": "north",
        "monthly_charges": 61.82,
        "total_charges": 700.5,
        "support_calls": 1,
    }


@pytest.fixture
def srv_app(srv_project: Path, tmp_path: Path) -> Iterator[Any]:
    """An app on the shared project, with a started prediction log under ``tmp_path/wal``."""
    from serve_helpers import project_settings

    from skloop.serve import PredictionLog, create_app

    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=log, poll_seconds=None)
    try:
        yield app
    finally:
        log.close()
        app.registry.store.close()


@pytest.fixture
def srv_client(srv_app: Any) -> Iterator[Any]:
    from starlette.testclient import TestClient

    with TestClient(srv_app) as client:
        yield client


def _srv_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def srv_uvicorn() -> Iterator[Callable[[Any], str]]:
    """``start(app) -> base URL``: run an app under a real uvicorn on 127.0.0.1 (stopped after the test)."""
    import contextlib
    import threading
    import time

    import uvicorn

    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:
        port = _srv_free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        with contextlib.suppress(Exception):
            thread.join(10)
