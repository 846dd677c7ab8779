"""0 parallel fits is refused up front, naming the option or the spec key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import SpecError, spec_from_dict
from skloop.workflows import init_example

runner = CliRunner()


def test_cli_n_jobs_zero_is_a_usage_error(tmp_path: Path) -> None:
    spec = init_example(tmp_path, n_rows=200)
    result = runner.invoke(app, ["train", "--spec", str(spec), "-j", "0"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "--n-jobs" in result.output and "got 0" in result.output


def test_spec_n_jobs_zero_names_the_key() -> None:
    base = {"name": "t", "data": {"train": "t.csv", "target": "y"}}
    with pytest.raises(SpecError, match=r"search\.n_jobs.*0 processes"):
        spec_from_dict({**base, "search": {"n_jobs": 0}})
    assert spec_from_dict({**base, "search": {"n_jobs": -1}}).search.n_jobs == -1
