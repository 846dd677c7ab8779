"""A flipped byte in a page of the SQLite store: every command that opens it names the file.

A byte flipped in the schema page (read by every connection) makes every command that
opens the store fail with one line naming the database file and saying to restore it; a
byte flipped in the ``runs`` table's page does the same for every command that reads or
writes runs. Never a traceback, never an "upgrade" or "unreachable" hint.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app
from skloop.store import Store

runner = CliRunner()
PAGE = 4096


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds runs (its database is copied, then damaged, by each test)."""
    base = tmp_path_factory.mktemp("corrupt") / "p"
    result = runner.invoke(app, ["init", "--example", str(base), "--rows", "200"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store.open(f"sqlite:///{base / '.skloop' / 'skloop.db'}", base / ".skloop" / "artifacts") as store:
        for i in range(20):
            run = store.runs.create_run("churn", name=f"r{i}")
            store.runs.log_params(run.id, {f"p{j}": "x" * 50 for j in range(30)})
            store.runs.finish_run(run.id, "finished")
    return base


def _root_page(db: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0])
    finally:
        conn.close()


def _damaged_copy(intact: Path, tmp_path: Path, offset_of: str) -> tuple[Path, Path]:
    base = tmp_path / "p"
    shutil.copytree(intact, base)
    db = base / ".skloop" / "skloop.db"
    # the b-tree page header: byte 0 is the page type; page 1 starts after the 100-byte file header
    offset = 100 if offset_of == "schema" else (_root_page(db, offset_of) - 1) * PAGE
    data = bytearray(db.read_bytes())
    data[offset] ^= 0xFF
    db.write_bytes(bytes(data))
    return base, db


EVERY_COMMAND = [
    ["runs"],
    ["runs", "--all"],
    ["show", "0123abcd"],
    ["datasets"],
    ["models"],
    ["aliases", "churn"],
    ["promote", "churn", "1"],
    ["lineage", "churn@champion"],
    ["card", "churn", "1"],
    ["predict", "churn", "--data", "data/churn.csv", "--out", "out.parquet"],
    ["monitor", "churn", "--current", "data/churn.csv"],
    ["decisions", "churn"],
    ["db", "upgrade"],
    ["db", "prune"],
    ["logs", "ingest"],
    ["train", "-q"],
]
RUN_COMMANDS = [["runs"], ["runs", "--all"], ["show", "0123abcd"], ["train", "-q"]]


def _check_named(base: Path, db: Path, commands: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(base)
    for command in commands:
        result = runner.invoke(app, command)
        output = " ".join(result.output.split())
        assert result.exit_code != 0, (command, output)
        assert f"the database file {db} is corrupt (SQLite: database disk image is malformed)" in output, (
            command,
            output,
        )
        assert "restore it from a backup" in output and "Traceback" not in output, (command, output)
        assert "db upgrade" not in output and "reachable" not in output, (command, output)


def test_a_flipped_byte_in_the_schema_page(intact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, db = _damaged_copy(intact, tmp_path, "schema")
    _check_named(base, db, EVERY_COMMAND, monkeypatch)


def test_a_flipped_byte_in_a_table_page(intact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, db = _damaged_copy(intact, tmp_path, "runs")
    _check_named(base, db, RUN_COMMANDS, monkeypatch)
