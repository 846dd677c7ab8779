"""``skloop train`` on a full artifact root (a real 2 MB tmpfs): a clear error, nothing half-written.

The error names the path and says "No space left on device" (no traceback); the run is
recorded ``failed``; no artifact file is visible that does not hash to its address and no
record points at one that is missing; once space returns, training works again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from small_project import write_small_project
from store_checks import check_consistent, query
from typer.testing import CliRunner

from skloop.cli import app
from small_disk import SmallDisk, small_disk  # noqa: F401  (the fixture)

runner = CliRunner()


def _train(base: Path) -> object:
    return runner.invoke(app, ["train", "-q", "--spec", str(base / "skloop.yaml")])


def _check_refused(base: Path, root: Path, result: object) -> dict[str, object]:
    output = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert result.exit_code != 0, output  # type: ignore[attr-defined]
    assert "Traceback" not in output and "No space left on device" in output, output
    assert f"cannot write artifact to {root}/sha256/" in output and "nothing was stored" in output, output
    assert not list(root.rglob(".tmp-*"))  # the temporary file was removed
    [run] = check_consistent(base, root)  # every recorded artifact whole, every file its hash
    assert run["status"] == "failed" and "No space left on device" in str(run["error"])
    return run


def test_training_on_a_full_artifact_root(
    tmp_path: Path,
    small_disk: SmallDisk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = tmp_path / "p"
    write_small_project(base, rows=300)
    root = small_disk.path / "artifacts"
    monkeypatch.setenv("SKLOOP_ARTIFACT_ROOT", str(root))
    small_disk.fill(leave=0)
    run = _check_refused(base, root, _train(base))
    assert run["artifacts"] == {}  # the first write (the data snapshot) failed: nothing recorded
    assert query(base / ".skloop" / "skloop.db", "SELECT count(*) FROM model_versions") == [(0,)]


@pytest.mark.long
def test_training_fills_the_artifact_root_mid_save_then_recovers(
    tmp_path: Path,
    small_disk: SmallDisk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = tmp_path / "p"
    write_small_project(base, rows=1200)
    root = small_disk.path / "artifacts"
    monkeypatch.setenv("SKLOOP_ARTIFACT_ROOT", str(root))
    small_disk.fill(leave=64 << 10)  # the data snapshot fits, the fitted forest does not
    run = _check_refused(base, root, _train(base))
    assert run["artifacts"] != {} or query(base / ".skloop" / "skloop.db", "SELECT count(*) FROM datasets") != [(0,)]
    small_disk.free()
    trained = _train(base)
    assert trained.exit_code == 0, trained.output
    assert "registered churn v1" in trained.output
    runs = check_consistent(base, root)
    assert sorted(str(r["status"]) for r in runs) == ["failed", "finished"]
