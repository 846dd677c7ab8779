"""No name, alias, run id or artifact name reaches outside the store, on SQLite and PostgreSQL.

Artifacts are content-addressed (``sha256/ab/cdef...``), so an artifact's logged name is
a label and never a path; model names and aliases refuse path separators, control
characters (NUL) and ``.``/``..``; an unknown run id of any shape is a NotFoundError.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from skloop.core import NotFoundError, StoreError
from skloop.registry import Registry
from skloop.store import Store

HOSTILE = ["../../etc", "..", ".", "/etc/passwd", "a\x00b", "..\\..\\win", "a\nb", "a b", "x@y"]


@pytest.fixture(scope="module")
def reg_model_bytes() -> bytes:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    return sio.dumps(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))


def test_hostile_artifact_names_are_labels_never_paths(store: Store, artifact_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    names = ["../../outside/evil", str(outside / "abs"), "..%2F..%2Foutside%2Fenc", "a\x00b", "sha256/../../x"]
    with store.runs.start_run("churn", spec={"name": "churn"}) as run:
        for i, name in enumerate(names):
            with contextlib.suppress(StoreError):  # refused (PostgreSQL: NUL in text) is as good as a label
                store.runs.log_artifact(run.id, name, f"payload {i}".encode())
    assert list(outside.iterdir()) == []
    stored = store.runs.get_run(run.id).artifacts
    for name, ref in stored.items():
        assert store.artifacts.get_bytes(ref.sha256).startswith(b"payload")
        path = Path(store.artifacts.path_of(ref.sha256)).resolve()
        assert path.is_relative_to(artifact_root.resolve()) and name not in str(path)
    for bad in ("../../etc/passwd", "/etc/passwd", "0" * 63 + "/", "a" * 64):
        with pytest.raises((StoreError, NotFoundError)):
            store.artifacts.get_bytes(bad)


def test_hostile_model_names_and_aliases_are_refused(store: Store, reg_model_bytes: bytes) -> None:
    with store.runs.start_run("churn", spec={"name": "churn"}) as run:
        store.runs.log_artifact(run.id, "model.skops", reg_model_bytes)
    registry = Registry(store)
    registry.register(run.id, "churn")
    for name in HOSTILE:
        with pytest.raises(StoreError, match=r"a model name is|NUL"):  # PostgreSQL: a NUL is not found
            registry.register(run.id, name)
        with pytest.raises(StoreError, match=r"an? alias is"):
            registry.promote("churn", 1, name, reason="audit", force=True)
    assert registry.aliases("churn") == {}
    assert [m.name for m in store.models.list_models()] == ["churn"]


def test_hostile_run_ids_are_not_found(store: Store) -> None:
    """Regression: a NUL in an id or name was a failing-database StoreError on PostgreSQL (a 500 in the UI)."""
    for run_id in ["../../x", "/etc/passwd", "%2e%2e%2f", "\x00", "a" * 10_000, "' OR 1=1 --"]:
        with pytest.raises(NotFoundError):
            store.runs.get_run(run_id)
        with pytest.raises((NotFoundError, LookupError)):
            store.models.get_model_version(run_id, 1)
