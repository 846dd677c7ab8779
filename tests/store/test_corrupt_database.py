"""A damaged SQLite file is reported as corrupt, naming the file, not as an unreachable or outdated database.

And a deleted write-ahead log that still held committed transactions is named, rather
than the older database opened as if nothing was missing (a present one is recovered).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
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


# -- a write-ahead log deleted after a writer committed to it -------------------------

WRITER = """
import os, sys
from skloop.store import Store
store = Store.open(f"sqlite:///{sys.argv[1]}", sys.argv[2])
for i in range(5):
    run = store.runs.create_run("corrupt", name=f"late{i}")
    store.runs.finish_run(run.id, "finished")
os.kill(os.getpid(), 9)  # committed, never checkpointed: the five runs live only in the -wal file
"""
EVERY_RUN = sorted([f"r{i}" for i in range(20)] + [f"late{i}" for i in range(5)])


def _killed_writer(path: Path) -> None:
    """A writer commits five runs and is killed with SIGKILL before any checkpoint."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(path.parent / "artifacts")], env=env)
    assert done.returncode == -signal.SIGKILL


def _crash_image(path: Path) -> None:
    """The files as a SIGKILL would leave them: copied while a writer that committed is still open."""
    image = path.with_name("image")
    image.mkdir()
    store = Store.open(f"sqlite:///{path}", path.parent / "artifacts")
    try:
        for i in range(5):
            run = store.runs.create_run("corrupt", name=f"late{i}")
            store.runs.finish_run(run.id, "finished")
        for suffix in ("", "-wal", "-shm"):  # the database first: it is the oldest part
            shutil.copyfile(f"{path}{suffix}", image / f"{path.name}{suffix}")
    finally:
        store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
        (image / f"{path.name}{suffix}").rename(f"{path}{suffix}")
    assert path.with_name(path.name + "-wal").stat().st_size > 0


def _names(path: Path) -> list[str]:
    with Store.open(f"sqlite:///{path}", path.parent / "artifacts") as store:
        return sorted(r.name for r in store.runs.search_runs("corrupt"))


@pytest.mark.parametrize("kill", [_crash_image, pytest.param(_killed_writer, marks=pytest.mark.long)])
def test_a_deleted_wal_is_named_not_silently_dropped(tmp_path: Path, kill: Callable[[Path], None]) -> None:
    path = tmp_path / "skloop.db"
    _store_with_runs(path)
    kill(path)
    wal, shm = path.with_name("skloop.db-wal"), path.with_name("skloop.db-shm")
    saved, saved_shm = wal.read_bytes(), shm.read_bytes()
    wal.unlink()
    message = str(_reopen_and_search(path))
    assert f"the database file {path} has lost its write-ahead log: {wal} is missing" in message
    assert "silently drop the latest transactions" in message and f"delete {shm}" in message
    assert not wal.exists() and shm.read_bytes() == saved_shm  # refused before SQLite touched anything
    wal.write_bytes(saved)  # put back: every committed run is there (the recovery of a kill)
    assert _names(path) == EVERY_RUN
    assert not wal.exists() and not shm.exists()  # checkpointed into the database by the clean close
    assert _names(path) == EVERY_RUN


def test_accepting_the_loss_of_a_deleted_wal(tmp_path: Path) -> None:
    path = tmp_path / "skloop.db"
    _store_with_runs(path)
    _crash_image(path)
    path.with_name("skloop.db-wal").unlink()
    path.with_name("skloop.db-shm").unlink()  # what the error offers: the older, consistent database
    assert _names(path) == sorted(f"r{i}" for i in range(20))
