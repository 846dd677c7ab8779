"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from skloop.core import ArtifactIntegrityError, NotFoundError, StoreError
from skloop.store import ArtifactRef, ArtifactStore, Store


def test_put_and_get(tmp_path: Path) -> None:
    root = tmp_path / "art"
    store = ArtifactStore(root)
    assert not root.exists()  # the constructor creates nothing
    ref = store.put_bytes(b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    assert ref == ArtifactRef(sha, 5)
    path = root / "sha256" / sha[:2] / sha[2:]
    assert path.read_bytes() == b"hello" and store.path_of(sha) == str(path)
    assert store.exists(sha) and not store.exists("0" * 64)
    assert store.get_bytes(sha) == b"hello"
    assert store.open_path(sha) == path
    assert store.get_file(sha, tmp_path / "out" / "copy.txt").read_bytes() == b"hello"
    mtime = path.stat().st_mtime_ns
    assert store.put_bytes(b"hello") == ref  # writing an existing hash is a no-op
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in path.parent.iterdir()] == [sha[2:]]  # no temporary files left


def test_put_file(tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"x" * 3_000_000)
    store = ArtifactStore(tmp_path / "art")
    ref = store.put_file(src)
    assert ref.size == 3_000_000 and store.get_bytes(ref.sha256) == src.read_bytes()


def test_fsspec_url() -> None:
    store = ArtifactStore(f"memory://skloop-test-{uuid.uuid4().hex}")
    ref = store.put_bytes(b"remote")
    assert store.exists(ref.sha256) and store.get_bytes(ref.sha256) == b"remote"
    assert store.open_path(ref.sha256).read_bytes() == b"remote"


def test_missing_and_malformed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "art")
    with pytest.raises(NotFoundError, match=f"artifact {'0' * 64} is not in the artifact store"):
        store.get_bytes("0" * 64)
    with pytest.raises(NotFoundError, match=r"not an artifact address"):
        store.get_bytes("../../etc/passwd")


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_artifact_refuses_to_load(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "art")
    ref = store.put_bytes(b"trusted model bytes")
    path = Path(store.path_of(ref.sha256))
    _flip_one_byte(path)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    for load in (
        lambda: store.get_bytes(ref.sha256, name="model.skops"),
        lambda: store.open_path(ref.sha256, name="model.skops"),
        lambda: store.get_file(ref.sha256, tmp_path / "copy", name="model.skops"),
    ):
        with pytest.raises(ArtifactIntegrityError) as info:
            load()
        message = str(info.value)
        assert "'model.skops'" in message and ref.sha256 in message and actual in message
        assert "modified" in message
    assert not (tmp_path / "copy").exists()


def test_tampered_artifact_of_a_run(store: Store) -> None:
    run = store.runs.create_run("proj")
    ref = store.runs.log_artifact(run.id, "model.skops", b"weights" * 100)
    _flip_one_byte(Path(store.artifacts.path_of(ref.sha256)))
    with pytest.raises(ArtifactIntegrityError, match=r"artifact 'model.skops'.*expected sha256"):
        store.runs.load_artifact(run.id, "model.skops")


def test_an_artifact_path_that_is_a_directory_is_named(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "art")
    sha = store.put_bytes(b"model bytes").sha256
    path = Path(store.path_of(sha))
    path.unlink()
    path.mkdir()  # e.g. a restore gone wrong
    for read in (
        lambda: store.get_bytes(sha, name="model.skops"),
        lambda: store.open_path(sha, name="model.skops"),
        lambda: store.get_file(sha, tmp_path / "copy", name="model.skops"),
    ):
        with pytest.raises(StoreError, match=r"artifact 'model.skops' at .* cannot be read: Is a directory; restore"):
            read()
