"""The loop from a shell script: predict --log a chunk, ingest its labels, loop run; decisions; loop watch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app

sys.path.insert(0, str(Path(__file__).parents[1] / "workflows"))
from loop_helpers import chunk, write_loop_project

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _score_and_label(root: Path, n: int, *, seed: int, shift: float) -> None:
    """What a nightly script does: score the new rows with the champion, later record their outcomes."""
    frame = chunk(n, seed=seed, shift=shift)
    frame.drop(columns=["churned"]).to_csv(root / f"rows{seed}.csv", index=False)
    frame[["customer_id", "churned"]].to_csv(root / f"labels{seed}.csv", index=False)
    invoke("predict", "churn", "--alias", "champion", "--data", f"rows{seed}.csv", "--out", f"p{seed}.parquet",
           "--log", "-q")  # fmt: skip
    invoke("labels", "ingest", f"labels{seed}.csv", "--model", "churn", "--id-column", "customer_id",
           "--label-column", "churned")  # fmt: skip


def test_a_chunk_by_chunk_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    write_loop_project(root)
    monkeypatch.chdir(root)
    invoke("train", "-q")
    invoke("promote", "churn", "1", "--reason", "first")

    _score_and_label(root, 500, seed=31, shift=0.0)
    stable = invoke("loop", "run", "churn", "-q")
    assert "none: no trigger fired" in stable.output and "triggers" in stable.output

    _score_and_label(root, 900, seed=32, shift=1.0)
    drifted = invoke("loop", "run", "churn", "-q")
    assert "retrained: run" in drifted.output and "promoted: v2 beats v1" in drifted.output, drifted.output

    watch = invoke("loop", "watch", "churn", "--every", "1s", "--max-iterations", "2", "-q")
    assert watch.output.count("decision ") == 2

    decisions = json.loads(invoke("decisions", "churn", "--json").output)
    assert [d["outcome"] for d in decisions] == ["none", "promoted", "none", "none"]
    assert decisions[1]["challenger_version"] == 2 and decisions[1]["comparison"]["better"]
    table = invoke("decisions", "churn").output
    assert all(d["id"][:8] in table for d in decisions)
    assert "churn" in invoke("aliases", "churn").output


def test_loop_run_without_a_champion_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    write_loop_project(root)
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["loop", "run"])
    assert result.exit_code == 1 and "not in the registry" in result.output
    assert "no loop decisions" in invoke("decisions").output
