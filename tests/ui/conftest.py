"""Fixtures for the web UI's tests: the seeded store (see ui_helpers) and the UI over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from ui_helpers import TOKEN, Seeded, seed

from skloop.store import Store
from skloop.ui import create_app


@pytest.fixture(scope="session")
def model_bytes() -> bytes:
    """A tiny fitted model, saved with skops."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    return sio.dumps(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))


@pytest.fixture
def seeded(store_url: str, tmp_path: Path, model_bytes: bytes) -> Iterator[Seeded]:
    """The seeded store on SQLite and, when configured, PostgreSQL (the shared ``store_url``)."""
    store = Store.open(store_url, tmp_path / "artifacts")
    try:
        yield seed(store, model_bytes)
    finally:
        store.close()


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    """The UI without a token."""
    with TestClient(create_app(seeded.store, project="churn", actor="tester@host")) as c:
        yield c


@pytest.fixture
def token_client(seeded: Seeded) -> Iterator[TestClient]:
    """The UI with ``SKLOOP_TOKEN`` set to :data:`TOKEN`."""
    with TestClient(create_app(seeded.store, token=TOKEN, project="churn", actor="tester@host")) as c:
        yield c
