"""Artifacts on an S3-compatible object store (moto's server on 127.0.0.1, through s3fs).

Upload, verify-on-read (a tampered object is refused, naming the artifact and both
hashes), and an upload cut short (an error mid-stream, a killed process) never shows
under its final key nor leaves a record pointing at it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from s3_server import S3, s3  # noqa: F401  (the session fixture)
from skloop.core import ArtifactIntegrityError, NotFoundError, StoreError
from skloop.store import Store
from skloop.store import _artifacts as artifacts_module

MB = 1 << 20
BLOCK = 5 * MB  # S3's smallest multipart part: uploads above this go in several parts


def _open(tmp_path: Path, root: str, s3: S3, **options: object) -> Store:  # noqa: F811
    return Store.open(f"sqlite:///{tmp_path / 'skloop.db'}", root, storage_options={**s3.options, **options})


def _content_keys(s3: S3, bucket: str) -> list[str]:  # noqa: F811
    return [k for k in s3.keys(bucket) if "/.tmp-" not in k]


def test_upload_and_verified_read(tmp_path: Path, s3: S3) -> None:  # noqa: F811
    bucket = s3.new_bucket()
    store = _open(tmp_path, f"s3://{bucket}/team/models", s3)
    try:
        run = store.runs.create_run("proj")
        small = store.runs.log_artifact(run.id, "model.skops", b"weights" * 1000)
        big_file = tmp_path / "data.parquet"
        big_file.write_bytes(os.urandom(6 * MB))  # above the block size: a multipart upload
        big = store.runs.log_artifact(run.id, "data.parquet", big_file)
        assert s3.keys(bucket) == sorted(
            f"team/models/sha256/{r.sha256[:2]}/{r.sha256[2:]}" for r in (small, big)
        )  # exactly the two addresses: no temporary object left behind
        assert s3.unfinished_uploads(bucket) == []
        assert store.runs.load_artifact(run.id, "model.skops") == b"weights" * 1000
        assert store.artifacts.open_path(big.sha256).read_bytes() == big_file.read_bytes()
        assert store.runs.log_artifact(run.id, "data.parquet", big_file) == big  # no-op: already there
        store.runs.finish_run(run.id, "finished")
        recorded = store.runs.get_run(run.id).artifacts
        assert {name: a.sha256 for name, a in recorded.items()} == {
            "data.parquet": big.sha256,
            "model.skops": small.sha256,
        }
        assert store.artifacts.path_of(small.sha256).startswith(f"{bucket}/team/models/sha256/")
    finally:
        store.close()


def test_a_tampered_object_is_refused(tmp_path: Path, s3: S3) -> None:  # noqa: F811
    bucket = s3.new_bucket()
    store = _open(tmp_path, f"s3://{bucket}/p", s3)
    try:
        run = store.runs.create_run("proj")
        ref = store.runs.log_artifact(run.id, "model.skops", b"trusted model bytes" * 100)
        key = f"p/sha256/{ref.sha256[:2]}/{ref.sha256[2:]}"
        forged = b"forged model bytes!" * 100  # same size: only the hash can tell
        s3.client.put_object(Bucket=bucket, Key=key, Body=forged)
        for load in (
            lambda: store.runs.load_artifact(run.id, "model.skops"),
            lambda: store.artifacts.open_path(ref.sha256, name="model.skops"),
            lambda: store.artifacts.get_file(ref.sha256, tmp_path / "copy", name="model.skops"),
        ):
            with pytest.raises(ArtifactIntegrityError) as info:
                load()
            message = str(info.value)
            assert f"artifact 'model.skops' at s3://{bucket}/{key} does not match its hash" in message
            assert ref.sha256 in message and hashlib.sha256(forged).hexdigest() in message
        assert not (tmp_path / "copy").exists()
        s3.client.delete_object(Bucket=bucket, Key=key)
        with pytest.raises(NotFoundError, match=f"artifact 'model.skops' \\({ref.sha256}\\) is not in the artifact"):
            store.runs.load_artifact(run.id, "model.skops")
    finally:
        store.close()


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), KeyboardInterrupt()])
def test_an_upload_cut_short_is_never_visible(
    tmp_path: Path,
    s3: S3,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    bucket = s3.new_bucket()
    store = _open(tmp_path, f"s3://{bucket}/p", s3, default_block_size=BLOCK)
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(11 * MB))
    real_chunks = artifacts_module._chunks
    streams = {"n": 0}
    in_flight: list[str] = []  # the multipart upload under way when the stream failed

    def failing_chunks(fh):  # the second pass is the upload: fail after two 5 MB parts went out
        streams["n"] += 1
        for i, chunk in enumerate(real_chunks(fh)):
            if streams["n"] == 2 and i == 10:
                in_flight.extend(s3.unfinished_uploads(bucket))
                raise error
            yield chunk

    try:
        run = store.runs.create_run("proj")
        monkeypatch.setattr(artifacts_module, "_chunks", failing_chunks)
        with pytest.raises((StoreError, KeyboardInterrupt)) as info:
            store.runs.log_artifact(run.id, "model.bin", source)
        if isinstance(error, OSError):
            assert info.type is StoreError
            assert f"cannot write artifact to s3://{bucket}/p/sha256/" in str(info.value)
            assert "Connection reset by peer" in str(info.value) and "nothing was stored" in str(info.value)
        assert len(in_flight) == 1 and "/.tmp-" in in_flight[0]  # two parts had gone out to a temporary key
        assert s3.keys(bucket) == [] and s3.unfinished_uploads(bucket) == []  # aborted: no part, no object
        assert store.runs.get_run(run.id).artifacts == {}  # and no record
        monkeypatch.undo()
        ref = store.runs.log_artifact(run.id, "model.bin", source)  # the next try stores it whole
        assert store.runs.load_artifact(run.id, "model.bin") == source.read_bytes()
        assert _content_keys(s3, bucket) == [f"p/sha256/{ref.sha256[:2]}/{ref.sha256[2:]}"]
    finally:
        store.close()


UPLOADER = textwrap.dedent(
    """
    import json, os, sys
    from skloop.store import Store
    db, root, options, source = sys.argv[1:]
    store = Store.open(f"sqlite:///{db}", root, storage_options=json.loads(options))
    run = store.runs.create_run("proj")
    print(run.id, flush=True)
    store.runs.log_artifact(run.id, "model.bin", source)
    print("stored", flush=True)
    """
)


def _kill_mid_upload(tmp_path: Path, s3: S3, parts: int) -> None:  # noqa: F811
    """Kill an uploading process once ``parts`` parts of its upload have arrived; check nothing shows."""
    import json

    bucket = s3.new_bucket()
    root = f"s3://{bucket}/p"
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom((parts + 2) * BLOCK))
    db = tmp_path / "skloop.db"
    options = json.dumps({**s3.options, "default_block_size": BLOCK})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, str(db), root, options, str(source)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            uploads = s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            done = [
                len(s3.client.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
                for u in uploads
            ]
            if done and max(done) >= parts:
                break
            assert proc.poll() is None, "the upload finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail(f"the upload never reached {parts} parts")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert _content_keys(s3, bucket) == []  # nothing under a final address; at most an unfinished upload
    store = _open(tmp_path, root, s3)
    try:
        assert store.runs.reap_stale_runs() == [run_id]
        run = store.runs.get_run(run_id)
        assert run.status == "killed" and run.artifacts == {}
        sha = hashlib.sha256(source.read_bytes()).hexdigest()
        assert not store.artifacts.exists(sha)
        with pytest.raises(NotFoundError):
            store.artifacts.get_bytes(sha)
    finally:
        store.close()


@pytest.mark.long  # a process of its own per point; the default run cuts uploads short in process (above)
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_a_process_killed_mid_upload_at_several_points(tmp_path: Path, s3: S3, parts: int) -> None:  # noqa: F811
    _kill_mid_upload(tmp_path, s3, parts=parts)
