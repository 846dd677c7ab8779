"""Fixtures for the web UI's tests: the seeded store (see ui_helpers) and the UI over it.

``served`` and ``browser`` are module-scoped: each browser test module gets one real
``skloop ui`` over its own seeded SQLite store and one headless Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAUNCH_TIMEOUT_MS,
    TOKEN,
    Seeded,
    Served,
    artifact_dir,
    running_ui,
    seed,
    seed_decisions,
)

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


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, model_bytes: bytes, request: pytest.FixtureRequest
) -> Iterator[Served]:
    """``skloop ui`` (the CLI, in a subprocess) over a seeded store, with ``SKLOOP_TOKEN`` set."""
    root = tmp_path_factory.mktemp("ui-store")
    url, artifacts = f"sqlite:///{root}/skloop.db", root / "artifacts"
    store = Store.open(url, artifacts)
    try:
        seeded = seed(store, model_bytes)
        seed_decisions(seeded)
        settings = {"SKLOOP_STORE_URL": url, "SKLOOP_ARTIFACT_ROOT": str(artifacts), "SKLOOP_TOKEN": TOKEN}
        with running_ui(root, settings) as base:
            yield Served(base, seeded, artifact_dir(request.config.rootpath))
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (``/usr/bin/chromium``) through Playwright, for the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); no browser to drive")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
        try:
            yield chromium
        finally:
            chromium.close()
