"""``skloop db check``: a whole store passes; a damaged artifact, a missing one, a leftover upload,
a schema behind and a damaged database file are each reported (local folder and moto's S3)."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s3_server import S3, s3  # noqa: F401  (the session fixture)
from skloop.cli import app
from skloop.core import StoreError, utcnow
from skloop.store import Store, check_store


def _fill(store: Store) -> tuple[str, str]:
    run = store.runs.create_run("proj")
    model = store.runs.log_artifact(run.id, "model.skops", b"weights" * 100)
    card = store.runs.log_artifact(run.id, "card.html", b"<p>card</p>")
    store.runs.finish_run(run.id, "finished")
    return model.sha256, card.sha256


def test_a_whole_store_passes_then_each_damage_is_named(tmp_path: Path) -> None:
    url, root = f"sqlite:///{tmp_path / 'skloop.db'}", tmp_path / "artifacts"
    with Store.open(url, root) as store:
        model, card = _fill(store)
        artifacts = store.artifacts
    clean = check_store(url, artifacts, deep=True)
    assert clean.ok and clean.integrity == "ok" and clean.revision == clean.head
    assert (clean.referenced, clean.stored, clean.missing, clean.corrupt) == (2, 2, [], [])
    assert clean.journal["mode"] == "wal"

    Path(artifacts.path_of(model)).write_bytes(b"WEIGHTS" * 100)  # same size, other bytes
    assert check_store(url, artifacts).ok  # only the size is compared without --deep
    damaged = check_store(url, artifacts, deep=True)
    assert not damaged.ok and damaged.corrupt == [f"{artifacts.path_of(model)}: the content hashes to "
                                                  + damaged.corrupt[0].rsplit(" ", 1)[-1]]  # fmt: skip
    assert "do not match their record" in damaged.problems[0]
    os.remove(artifacts.path_of(card))
    gone = check_store(url, artifacts)
    assert gone.missing == [card] and "restore them from a backup" in gone.problems[0]

    orphan = artifacts.put_bytes(b"nobody names me")
    folder = Path(artifacts.path_of(orphan.sha256)).parent
    old, fresh = folder / ".tmp-0ld", folder / ".tmp-fresh"
    old.write_bytes(b"half an upl")
    fresh.write_bytes(b"still being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    listed = check_store(url, artifacts)
    assert listed.orphaned == [orphan.sha256] and {Path(x.path).name for x in listed.leftovers} == {
        old.name,
        fresh.name,
    }
    assert any("orphaned" in w for w in listed.warnings) and any("--fix" in w for w in listed.warnings)
    fixed = check_store(url, artifacts, fix=True)
    assert {Path(x.path).name: x.removed for x in fixed.leftovers} == {old.name: True, fresh.name: False}
    assert not old.exists() and fresh.exists()  # a young upload may be live: left alone


def test_the_cli_exits_non_zero_on_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKLOOP_STORE_URL", f"sqlite:///{tmp_path / 'skloop.db'}")
    monkeypatch.setenv("SKLOOP_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    with Store.open(f"sqlite:///{tmp_path / 'skloop.db'}", tmp_path / "artifacts") as store:
        model, _ = _fill(store)
        path = Path(store.artifacts.path_of(model))
    runner = CliRunner()
    ok = runner.invoke(app, ["db", "check", "--deep", "--spec", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "the store is whole" in ok.output
    path.write_bytes(b"x")
    bad = runner.invoke(app, ["db", "check", "--json", "--spec", str(tmp_path)])
    assert bad.exit_code == 1
    body = json.loads(bad.output)
    assert body["ok"] is False and body["corrupt"] == [f"{path}: 1 bytes stored, 700 recorded"]
    assert runner.invoke(app, ["db", "check", "--stale-after", "soon", "--spec", str(tmp_path)]).exit_code != 0


def test_a_damaged_database_file_is_named(tmp_path: Path) -> None:
    db = tmp_path / "skloop.db"
    with Store.open(f"sqlite:///{db}", tmp_path / "a") as store:
        _fill(store)
        artifacts = store.artifacts
    data = bytearray(db.read_bytes())
    data[0:16] = b"not a database!!"
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=f"{db}.*corrupt"):
        check_store(f"sqlite:///{db}", artifacts)
    with pytest.raises(StoreError, match="no database file"):
        check_store(f"sqlite:///{tmp_path / 'none.db'}", artifacts)


def test_on_an_object_store(tmp_path: Path, s3: S3) -> None:  # noqa: F811
    bucket = s3.new_bucket()
    url = f"sqlite:///{tmp_path / 'skloop.db'}"
    with Store.open(url, f"s3://{bucket}/team", storage_options=s3.options) as store:
        model, card = _fill(store)
        artifacts = store.artifacts
    assert check_store(url, artifacts, deep=True).ok
    key = f"team/sha256/{model[:2]}/{model[2:]}"
    s3.client.put_object(Bucket=bucket, Key=key, Body=b"WEIGHTS" * 100)  # tampered behind skloop's back
    s3.client.put_object(Bucket=bucket, Key=f"team/sha256/{card[:2]}/.tmp-cut", Body=b"half")
    found = check_store(url, artifacts, deep=True)
    assert not found.ok and len(found.corrupt) == 1 and found.corrupt[0].startswith(f"s3://{bucket}/{key}")
    (leftover,) = found.leftovers
    assert leftover.path == f"s3://{bucket}/team/sha256/{card[:2]}/.tmp-cut"
    assert check_store(url, artifacts, fix=True).leftovers[0].removed is False  # just uploaded: may be live
    later = check_store(url, artifacts, fix=True, now=utcnow() + timedelta(hours=2))
    assert later.leftovers[0].removed and not any(".tmp-" in k for k in s3.keys(bucket))
