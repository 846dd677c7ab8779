"""The dask integration's errors: a missing extra names it, a bad backend names the allowed ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from skloop.core import MissingExtraError, SpecError, UsageError, load_spec
from skloop.integrations import connect
from skloop.workflows import SearchBackend, resolve_search_backend

SPEC = """\
name: churn
data: {train: data.csv, target: y}
pipeline:
  model: {class: sklearn.linear_model.LogisticRegression}
search:
  backend: %s
"""


def test_an_unknown_backend_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "skloop.yaml"
    path.write_text(SPEC % "spark")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    text = str(err.value)
    assert "search.backend" in text and "'spark'" in text and "'local'" in text and "'dask'" in text
    assert "line 6" in text or ":6" in text


def test_the_backend_follows_the_spec_then_the_scheduler_setting(tmp_path: Path) -> None:
    from skloop.core import Settings

    path = tmp_path / "skloop.yaml"
    path.write_text(SPEC % "dask")
    spec = load_spec(path)
    plain = Settings.from_env(tmp_path, env={})
    assert resolve_search_backend(spec.search, plain) == SearchBackend("dask", None)  # a local cluster
    env = Settings.from_env(tmp_path, env={"SKLOOP_DASK_SCHEDULER": "tcp://10.1.2.3:8786"})
    assert resolve_search_backend(spec.search, env) == SearchBackend("dask", "tcp://10.1.2.3:8786")
    assert resolve_search_backend(spec.search.model_copy(update={"backend": "local"}), env).name == "local"


def test_a_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without dask imports
    with pytest.raises(MissingExtraError, match=r"pip install 'skloop\[dask\]'"), connect(None):
        pass


def test_skloop_imports_and_helps_without_dask(tmp_path: Path) -> None:
    # a meta-path finder that refuses dask and distributed: as if the extra were not installed
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dask', 'distributed'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import skloop, skloop.workflows, skloop.integrations\n"
        "from skloop.cli import main\n"
        "sys.argv = ['skloop', 'predict', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert not any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--dask" in done.stdout and "--scheduler" in done.stdout


def test_an_unreachable_scheduler_is_a_usage_error() -> None:
    pytest.importorskip("distributed")
    match = r"cannot reach the dask scheduler at tcp://127\.0\.0\.1:1"
    with pytest.raises(UsageError, match=match), connect("tcp://127.0.0.1:1", timeout="1s"):
        pass


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--from-log", "--dask"], r"the prediction log is in the SQL store.*drop --dask/--scheduler"),
        (["--from-log", "--scheduler", "tcp://127.0.0.1:1"], r"not to --from-log.*--current FILE --dask"),
        (["--from-log", "--window", "1d", "--dask"], r"not to --from-log"),
        (["--current", "new.parquet", "--window", "1d", "--dask"], r"windows are cut in time order.*drop --window"),
    ],
)
def test_monitor_on_dask_refuses_the_log_and_windows_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], why: str
) -> None:
    """Refused before any store is opened or cluster started: a usage error (exit 2) with the reason and the way out."""
    from typer.testing import CliRunner

    from skloop.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["monitor", "churn", *args])
    assert result.exit_code == 2, result.output
    assert re.search(why, " ".join(result.output.split()), re.DOTALL), result.output
    assert not (tmp_path / ".skloop").exists()
