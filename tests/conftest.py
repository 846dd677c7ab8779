"""Fixtures shared by every test.

- an environment free of the user's ``SKLOOP_*`` settings;
- a store on SQLite and, when ``SKLOOP_TEST_POSTGRES_URL`` names an admin connection
  (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), on PostgreSQL: each
  test then gets a fresh database ``skloop_test_<random>`` cloned from an upgraded
  template, dropped afterwards (``store_url``, ``store``, ``pg_empty_url``);
- tests marked ``long`` (the full-length load, fault and scale runs) are skipped unless
  ``SKLOOP_LONG_TESTS=1``: each has a short version in the default run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from skloop.store import Store, upgrade_database

LONG_ENV = "SKLOOP_LONG_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(LONG_ENV, "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason=f"long run; set {LONG_ENV}=1 to run it (a short version runs by default)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SKLOOP_") and key != "SKLOOP_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)


PG_ENV = "SKLOOP_TEST_POSTGRES_URL"


def _url_for(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[str, sa.Engine]]:
    """The admin URL and an autocommit engine on it (skips when not configured)."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL cases need a server to run against")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    yield url, engine
    engine.dispose()


def _create_db(engine: sa.Engine, name: str, template: str | None = None) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def _drop_db(engine: sa.Engine, name: str) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template(pg_admin: tuple[str, sa.Engine]) -> Iterator[str]:
    """A database at the newest schema, cloned by each PostgreSQL test."""
    url, engine = pg_admin
    name = f"skloop_tmpl_{uuid.uuid4().hex[:10]}"
    _create_db(engine, name)
    try:
        upgrade_database(_url_for(url, name))
        yield name
    finally:
        _drop_db(engine, name)


@pytest.fixture
def pg_empty_url(pg_admin: tuple[str, sa.Engine]) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database."""
    url, engine = pg_admin
    name = f"skloop_test_{uuid.uuid4().hex[:10]}"
    _create_db(engine, name)
    try:
        yield _url_for(url, name)
    finally:
        _drop_db(engine, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty store (SQLite: not created yet; PostgreSQL: upgraded)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/meta/skloop.db"
        return
    url, engine = request.getfixturevalue("pg_admin")
    template = request.getfixturevalue("pg_template")
    name = f"skloop_test_{uuid.uuid4().hex[:10]}"
    _create_db(engine, name, template)
    try:
        yield _url_for(url, name)
    finally:
        _drop_db(engine, name)


@pytest.fixture
def artifact_root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(store_url: str, artifact_root: Path) -> Iterator[Store]:
    s = Store.open(store_url, artifact_root)
    try:
        yield s
    finally:
        s.close()
