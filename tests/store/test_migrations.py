"""Schema migrations: fresh upgrades, automatic SQLite upgrades, out-of-date servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from skloop.core import SchemaOutOfDateError, Settings
from skloop.store import Store, current_revision, head_revision, upgrade_database
from skloop.store._engine import VERSION_TABLE
from skloop.store._schema import metadata

TABLES = {"runs", "params", "tags", "metrics", "latest_metrics", "datasets", "run_inputs",
          "artifacts", "model_versions", "aliases", "alias_events", "predictions", "labels",
          "loop_decisions", "loop_steps", "loop_locks", "version_artifacts", "monitor_reports",
          VERSION_TABLE}  # fmt: skip


def _schema_diff(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_fresh_sqlite_upgrade_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/fresh.db"
    assert upgrade_database(url) == head_revision()
    assert current_revision(url) == head_revision()
    assert _tables(url) == TABLES
    assert _schema_diff(url) == []
    assert upgrade_database(url) == head_revision()  # running it again is harmless


@pytest.mark.postgres
def test_fresh_postgres_upgrade_matches_the_models(pg_empty_url: str) -> None:
    assert current_revision(pg_empty_url) is None
    assert upgrade_database(pg_empty_url) == head_revision()
    assert current_revision(pg_empty_url) == head_revision()
    assert _tables(pg_empty_url) == TABLES
    assert _schema_diff(pg_empty_url) == []


def test_embedded_sqlite_upgrades_itself(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path, env={})
    db = tmp_path / ".skloop" / "skloop.db"
    store = Store(settings.store_url, settings.artifact_root)  # the constructor creates nothing
    store.close()
    assert not db.exists() and not (tmp_path / ".skloop").exists()
    with Store.open(settings) as opened:
        assert db.exists() and opened.artifacts.root == settings.artifact_root
        assert not Path(settings.artifact_root).exists()  # created by the first artifact
    assert current_revision(settings.store_url) == head_revision()


@pytest.mark.postgres
def test_out_of_date_postgres_names_the_upgrade_command(pg_empty_url: str, tmp_path: Path) -> None:
    with pytest.raises(SchemaOutOfDateError, match=r"run `skloop db upgrade`") as info:
        Store.open(pg_empty_url, tmp_path / "art")
    assert "revision none" in str(info.value) and head_revision() in str(info.value)
    assert _tables(pg_empty_url) == set()  # nothing was created behind the user's back
    upgrade_database(pg_empty_url)
    with Store.open(pg_empty_url, tmp_path / "art") as store:
        assert store.runs.search_runs() == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    upgrade_database(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(Exception, match=r"newer than this skloop knows"):
        Store.open(url, tmp_path / "art")


def test_bad_url(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"is not a database URL"):
        Store.open("not a url", tmp_path)
