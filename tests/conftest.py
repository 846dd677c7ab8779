"""Fixtures shared by every test: an environment free of the user's SKLOOP_* settings."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SKLOOP_") and key != "SKLOOP_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)
