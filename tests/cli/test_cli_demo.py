"""`skloop demo`, the main job, end to end: the loop closes and the server follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app


@pytest.mark.timeout(600)
def test_demo_closes_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "drift detected" in out and "decision: promoted" in out
    assert "the server now answers with churn/2" in out
    report = tmp_path / "report.html"
    assert report.is_file() and "<svg" in report.read_text()
    # the story is in the store too
    monkeypatch.chdir(tmp_path)
    decisions = json.loads(runner.invoke(app, ["decisions", "churn", "--json"]).output)
    assert [d["outcome"] for d in decisions] == ["promoted"]
    models = json.loads(runner.invoke(app, ["models", "--json"]).output)
    assert models[0]["aliases"] == {"champion": 2}
