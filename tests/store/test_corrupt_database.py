"""A damaged SQLite file is reported as corrupt, naming the file, not as an unreachable or outdated database."""

from __future__ import annotations

from pathlib import Path

import pytest

from skloop.core import StoreError
from skloop.store import Store

PAGE = 4096


def _store_with_runs(path: Path) -> None:
    store = Store.open(f"sqlite:///{path}", path.parent / "artifacts")
    try:
        for i in range(20):
            run = store.runs.create_run("corrupt", name=f"r{i}")
            store.runs.log_params(run.id, {f"p{j}": "x" * 50 for j in range(30)})
            store.runs.finish_run(run.id, "finished")
    finally:
        store.close()
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0


def _reopen_and_search(path: Path) -> StoreError:
    with pytest.raises(StoreError) as info:
        store = Store.open(f"sqlite:///{path}", path.parent / "artifacts")
        try:
            store.runs.search_runs("corrupt")
        finally:
            store.close()
    return info.value


def test_damaged_pages_name_the_file_and_say_restore(tmp_path: Path) -> None:
    path = tmp_path / "skloop.db"
    _store_with_runs(path)
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * PAGE
    data[PAGE:] = b"\xa5" * (len(data) - PAGE)  # keep the header page, trash every table page
    path.write_bytes(bytes(data))
    message = str(_reopen_and_search(path))
    assert f"the database file {path} is corrupt (SQLite: database disk image is malformed)" in message
    assert "restore it from a backup" in message and "skloop db upgrade" not in message


def test_a_file_that_is_no_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "skloop.db"
    _store_with_runs(path)
    path.write_bytes(b"not a database at all, just garbage " * 200)
    message = str(_reopen_and_search(path))
    assert f"the database file {path} is corrupt (SQLite: file is not a database)" in message
    assert "restore it from a backup" in message and "reachable" not in message
