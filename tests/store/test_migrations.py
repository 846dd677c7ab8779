"""Schema migrations: fresh upgrades, automatic SQLite upgrades, out-of-date servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from skloop.core import SchemaOutOfDateError, Settings
from skloop.store import Store, current_revision, head_revision, upgrade_database
from skloop.store._engine import VERSION_TABLE
from skloop.store._schema import full_metadata

metadata = full_metadata()

TABLES = {"runs", "params", "tags", "metrics", "latest_metrics", "datasets", "run_inputs",
          "artifacts", "model_versions", "aliases", "alias_events", "predictions", "labels",
          "loop_decisions", "loop_steps", "loop_locks", "version_artifacts", "monitor_reports",
          "prediction_minutes", "prediction_flag_minutes", "mirror_outbox",
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


def _before_parents(url: str, revision: str) -> None:
    """A store at ``revision`` (before parent versions, 0010), with versions and loop decisions in it."""
    from alembic import command

    from skloop.store._engine import _config

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), revision)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        meta = sa.MetaData()
        runs, versions, decisions, aliases = (
            sa.Table(name, meta, autoload_with=engine)
            for name in ("runs", "model_versions", "loop_decisions", "aliases")
        )
        assert "parent_version" not in versions.c
        with engine.begin() as conn:
            conn.execute(sa.insert(runs), [
                {"id": rid, "project": "churn", "kind": "train", "status": "finished", "start_time": t0}
                for rid in ("a" * 32, "b" * 32)
            ])  # fmt: skip
            conn.execute(sa.insert(versions), [
                {"name": name, "version": v, "run_id": run, "status": "registered", "artifact_sha256": "cd" * 32,
                 "artifact_format": "skops", "metrics": {"holdout_roc_auc": 0.5 + v / 4}, "created": t0}
                for name, v, run in (("churn", 1, "a" * 32), ("churn", 2, "b" * 32), ("churn", 3, "b" * 32),
                                     ("fraud", 1, "a" * 32))
            ])  # fmt: skip
            conn.execute(sa.insert(aliases), {"name": "churn", "alias": "champion", "version": 2, "updated": t0})
            conn.execute(sa.insert(decisions), [
                {"id": did, "name": name, "status": "finished", "outcome": "kept", "evaluated_at": t0,
                 "started": t0 + timedelta(hours=hour), "champion_version": champ, "challenger_version": chall}
                for did, name, hour, champ, chall in (
                    ("d" * 32, "churn", 1, 1, 2),  # retrained v2 from v1
                    ("e" * 32, "churn", 2, 2, 3),  # retrained v3 from v2 ...
                    ("f" * 32, "churn", 3, 1, 3),  # ... and a later decision (v1 champion again) reused it
                    ("0" * 32, "fraud", 1, 1, 1),  # no version is its own parent
                    ("1" * 32, "churn", 4, 3, None),  # nothing retrained
                )
            ])  # fmt: skip
    finally:
        engine.dispose()


def _check_upgraded(url: str, revision: str, artifacts: Path) -> None:
    assert current_revision(url) == revision
    assert upgrade_database(url) == head_revision()
    assert _schema_diff(url) == []
    with Store.open(url, artifacts) as store:
        parents = {(v.name, v.version): v.parent_version for n in ("churn", "fraud")
                   for v in store.models.list_model_versions(n)}  # fmt: skip
        assert parents == {("churn", 1): None, ("churn", 2): 1, ("churn", 3): 2, ("fraud", 1): None}
        v2 = store.models.get_model_version("churn", 2)
        assert (v2.run_id, v2.metrics, v2.aliases) == ("b" * 32, {"holdout_roc_auc": 1.0}, ("champion",))
        assert [d.id for d in store.loop.list_decisions("churn")] == ["d" * 32, "e" * 32, "f" * 32, "1" * 32]
        produced = store.loop.decision_for_version("churn", 3)
        assert produced is not None and produced.id == "e" * 32
        assert {r.id for r in store.runs.search_runs("churn")} == {"a" * 32, "b" * 32}


@pytest.mark.parametrize("revision", ["0007", "0009"])
def test_an_older_sqlite_store_upgrades_keeping_its_data(tmp_path: Path, revision: str) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    _before_parents(url, revision)
    _check_upgraded(url, revision, tmp_path / "art")


@pytest.mark.postgres
@pytest.mark.parametrize("revision", ["0007", "0009"])
def test_an_older_postgres_store_upgrades_keeping_its_data(pg_empty_url: str, tmp_path: Path, revision: str) -> None:
    _before_parents(pg_empty_url, revision)
    _check_upgraded(pg_empty_url, revision, tmp_path / "art")


def test_0010_downgrades_to_0009_keeping_the_versions(tmp_path: Path) -> None:
    from alembic import command

    from skloop.store._engine import _config

    url = f"sqlite:///{tmp_path}/old.db"
    _before_parents(url, "0007")
    upgrade_database(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0009")
        inspector = sa.inspect(engine)
        assert "monitor_reports" in inspector.get_table_names()  # only 0010 was undone
        assert "parent_version" not in {c["name"] for c in inspector.get_columns("model_versions")}
        assert "ix_loop_decisions_name_challenger_version" not in {
            ix["name"] for ix in inspector.get_indexes("loop_decisions")
        }
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM model_versions")).scalar() == 4
            assert conn.execute(sa.text("SELECT count(*) FROM aliases")).scalar() == 1
    finally:
        engine.dispose()
    assert upgrade_database(url) == head_revision()  # and up again


UI_INDEXES = {"params": {"ix_params_key_value"},
              "predictions": {"ix_predictions_model_time_version_row", "ix_predictions_model_flagged"}}  # fmt: skip


def _indexes(engine: sa.Engine, table: str) -> set[str]:
    return {str(ix["name"]) for ix in sa.inspect(engine).get_indexes(table)}


def _check_ui_indexes_round_trip(url: str) -> None:
    from alembic import command

    from skloop.store._engine import _config

    assert upgrade_database(url) == head_revision() == "0015"
    engine = sa.create_engine(url)
    try:
        for table, names in UI_INDEXES.items():
            assert names <= _indexes(engine, table), table
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0011")
        for table, names in UI_INDEXES.items():
            assert not names & _indexes(engine, table), table
        assert "ix_predictions_model_id" in _indexes(engine, "predictions")  # only 0012 was undone
    finally:
        engine.dispose()
    assert current_revision(url) == "0011"
    assert upgrade_database(url) == head_revision()  # and up again
    assert _schema_diff(url) == []


def test_0012_ui_indexes_downgrade_and_upgrade_on_sqlite(tmp_path: Path) -> None:
    _check_ui_indexes_round_trip(f"sqlite:///{tmp_path}/ui.db")


@pytest.mark.postgres
def test_0012_ui_indexes_downgrade_and_upgrade_on_postgres(pg_empty_url: str) -> None:
    _check_ui_indexes_round_trip(pg_empty_url)
