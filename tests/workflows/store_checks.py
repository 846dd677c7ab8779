"""What a store must look like after a fault (a kill, a full disk): shared by those tests."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from skloop.cli import app
from skloop.store import ArtifactStore

runner = CliRunner()


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # no such table yet: the schema is being created
        return []
    finally:
        conn.close()


def recorded_hashes(db: Path) -> set[str]:
    """Every SHA-256 the store records, from any column of any table named ``*sha256``."""
    found: set[str] = set()
    for (table,) in query(db, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        for column in query(db, f"PRAGMA table_info('{table}')"):
            if str(column[1]).endswith("sha256"):
                found |= {str(v) for (v,) in query(db, f"SELECT DISTINCT {column[1]} FROM {table}") if v}
    return found


def check_consistent(base: Path, root: Path | None = None) -> list[dict[str, object]]:
    """The invariants after a fault; returns the runs as ``skloop runs --json`` lists them.

    ``base`` is the project (its store in ``.skloop/``), ``root`` the artifact root
    (default ``.skloop/artifacts``).
    """
    db = base / ".skloop" / "skloop.db"
    root = root or base / ".skloop" / "artifacts"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []
    artifacts = ArtifactStore(root)
    for sha in recorded_hashes(db):  # whole: get_bytes verifies the hash, raises when missing
        assert hashlib.sha256(artifacts.get_bytes(sha)).hexdigest() == sha
    for path in root.rglob("*"):  # nothing half-written under an address
        if path.is_file() and not path.name.startswith(".tmp-"):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name + path.name, path
    listed = runner.invoke(app, ["runs", "--spec", str(base / "skloop.yaml"), "--json"])
    assert listed.exit_code == 0, listed.output
    runs: list[dict[str, object]] = json.loads(listed.output)
    assert all(r["status"] != "running" for r in runs)
    return runs
