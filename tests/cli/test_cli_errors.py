"""Bad input and broken state give one line on stderr and the documented exit code, never a traceback."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import skloop.workflows
from skloop.cli import app
from skloop.cli._checks import MAX_REASON_CHARS
from skloop.cli._errors import EXIT_INTERNAL
from skloop.store import MAX_FILTER_DEPTH

runner = CliRunner()

FAST = {
    "n_estimators: 60": "n_estimators: 5",
    "folds: 5": "folds: 2",
    "model__max_depth: [6, 12]": "model__max_depth: [4]",
    "model__min_samples_leaf: [1, 5]": "model__min_samples_leaf: [5]",
}


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result, code: int, *needles: str) -> str:
    """The single line a failed command printed, checked against its exit code and contents."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(("error: ", "spec error: ")), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("errors") / "p"
    assert invoke("init", "--example", str(root), "--rows", "300").exit_code == 0
    spec = root / "skloop.yaml"
    text = spec.read_text()
    for old, new in FAST.items():
        text = text.replace(old, new)
    spec.write_text(text)
    assert invoke("train", "-q", "--spec", str(spec)).exit_code == 0
    assert invoke("promote", "churn", "1", "--reason", "first", "--spec", str(spec)).exit_code == 0
    data = root / "data" / "churn.csv"
    (root / "header.csv").write_text(data.read_text().splitlines()[0] + "\n")
    return root


@pytest.fixture
def project(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(trained)
    return trained


# -- runs: filters and limits ---------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 200, 1000, 5000])
def test_a_deeply_nested_filter_is_a_usage_error(project: Path, depth: int) -> None:
    text = "(" * depth + "status = 'finished'" + ")" * depth
    line = one_line_error(invoke("runs", "--filter", text), 2, f"parentheses nest more than {MAX_FILTER_DEPTH} deep")
    assert "RecursionError" not in line and len(line) < 600


def test_a_deeply_nested_filter_from_the_shell(project: Path) -> None:
    # the installed entry point in a fresh interpreter: no RecursionError, no traceback
    import subprocess
    import sys

    text = "(" * 5000 + "status = 'finished'" + ")" * 5000
    done = subprocess.run(
        [sys.executable, "-m", "skloop.cli", "runs", "--filter", text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=project,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert f"parentheses nest more than {MAX_FILTER_DEPTH} deep" in done.stderr


def test_order_by_takes_a_key_in_backticks_like_the_filter(project: Path) -> None:
    ordered = invoke(
        "runs", "--order-by", "metrics.`cv_roc_auc_mean` DESC", "--filter", "metrics.`cv_roc_auc_mean` > 0"
    )
    assert ordered.exit_code == 0, ordered.output
    assert "train" in ordered.output
    spaced = invoke("runs", "--order-by", "metrics.`val loss` DESC", "--filter", "metrics.`val loss` is null")
    assert spaced.exit_code == 0, spaced.output
    one_line_error(invoke("runs", "--order-by", "metrics.`val loss` SIDEWAYS"), 2, "bad order_by item")


def test_a_bad_filter_or_ordering_exits_2(project: Path) -> None:
    one_line_error(invoke("runs", "--filter", "status ="), 2, "bad search filter", "expected a value")
    one_line_error(invoke("runs", "--order-by", "colour"), 2, "bad order_by item 'colour'")


@pytest.mark.parametrize(("value", "needle"), [("999999999999999999999", "out of range"), ("0", "at least 1")])
def test_runs_limit_out_of_range(project: Path, value: str, needle: str) -> None:
    one_line_error(invoke("runs", "-n", value), 2, "--limit", needle)


# -- registry commands ------------------------------------------------------------------


def test_a_version_beyond_64_bits_is_a_usage_error(project: Path) -> None:
    line = one_line_error(invoke("promote", "churn", "99999999999999999999", "-r", "x"), 2, "VERSION")
    assert "99999999999999999999 is out of range; the largest allowed is 9223372036854775807" in line


def test_a_time_before_year_one_is_a_usage_error(project: Path) -> None:
    one_line_error(invoke("aliases", "churn", "--at", "0001-01-01"), 2, "--at '0001-01-01' is out of range")
    assert invoke("aliases", "churn", "--at", "9999-12-31T23:59").exit_code == 0


def test_a_reason_is_bounded_and_long_text_renders_fast(project: Path) -> None:
    started = time.perf_counter()
    result = invoke("promote", "churn", "1", "-r", "why " * 30_000)
    line = one_line_error(result, 2, "--reason is 120,000 characters long", f"the limit is {MAX_REASON_CHARS:,}")
    assert len(line) < 200 and time.perf_counter() - started < 5
    ok = invoke("promote", "churn", "1", "-r", "a" * MAX_REASON_CHARS)
    assert ok.exit_code == 0 and "a" * MAX_REASON_CHARS in ok.output

    from skloop.cli._app import console

    started = time.perf_counter()
    with console.capture() as captured:  # highlighting took 40 s on a 48 KB line
        console.print("(" + "a" * 30_000 + ")")
    assert time.perf_counter() - started < 1 and len(captured.get()) > 30_000


def test_a_long_reason_recorded_through_the_api_is_clipped_in_the_history(project: Path) -> None:
    from skloop.registry import Registry
    from skloop.store import Store

    store = Store.open(f"sqlite:///{project / '.skloop' / 'skloop.db'}", project / ".skloop" / "artifacts")
    try:
        Registry(store).promote("churn", 1, "long", reason="b" * 50_000)
    finally:
        store.close()
    result = invoke("aliases", "churn", "--alias", "long")
    assert result.exit_code == 0
    squeezed = "".join(ch for ch in result.output if ch not in " │\n")
    assert "45,904morecharacters;--jsonshowsall" in squeezed and squeezed.count("b") < 5_000


# -- data and output files --------------------------------------------------------------


def test_a_header_only_csv_has_no_rows(project: Path) -> None:
    predict = invoke("predict", "churn", "-a", "champion", "--data", "header.csv", "--out", "o.parquet", "-q")
    one_line_error(predict, 1, "header.csv has no rows to score")
    one_line_error(invoke("monitor", "churn", "--current", "header.csv"), 1, "header.csv has no rows", "monitor")
    one_line_error(
        invoke("monitor", "churn", "--current", "data/churn.csv", "--reference", "header.csv"),
        1,
        "header.csv has no rows",
    )


def test_non_utf8_file_names_are_named_and_refused(project: Path) -> None:
    weird = os.fsdecode(b"\xff.csv")  # what Python makes of a file name that is not UTF-8
    shutil.copy(project / "data" / "churn.csv", os.fsencode(project / weird))
    data = invoke("predict", "churn", "-a", "champion", "--data", weird, "--out", "o.parquet", "-q")
    one_line_error(data, 2, r"--data: the file name '\xff.csv' is not valid UTF-8", "rename the file")
    out = invoke("predict", "churn", "-a", "champion", "--data", "data/churn.csv", "--out", os.fsdecode(b"\xfe.pq"))
    one_line_error(out, 2, r"--out: the file name '\xfe.pq' is not valid UTF-8")
    init = invoke("init", "--data", weird, "--target", "churned", "--out", "other/skloop.yaml")
    one_line_error(init, 2, r"--data: the file name '\xff.csv'")
    assert not (project / "other").exists()
    reason = invoke("promote", "churn", "1", "-r", os.fsdecode(b"because \xff"))
    one_line_error(reason, 2, r"--reason: 'because \xff' is not valid UTF-8 text")


def test_init_from_data_refuses_a_name_its_spec_could_not_hold(tmp_path: Path) -> None:
    from skloop.core import UsageError

    weird = tmp_path / os.fsdecode(b"d\xff.csv")
    shutil.copy(Path(__file__).parent.parent / "conftest.py", os.fsencode(weird))  # content never read
    with pytest.raises(UsageError, match=r"the data file name '.*d\\xff.csv' is not valid UTF-8"):
        skloop.workflows.init_from_data(weird, "y", out=tmp_path / "skloop.yaml")
    assert not (tmp_path / "skloop.yaml").exists()


@pytest.mark.parametrize(
    ("args", "option", "example"),
    [
        (("predict", "churn", "-a", "champion", "--data", "data/churn.csv", "--out", "adir"), "--out", "predictions"),
        (("card", "churn", "--out", "adir"), "--out", "card.md"),
        (("monitor", "churn", "--current", "data/churn.csv", "--report", "adir"), "--report", "report.html"),
        (("monitor", "churn", "--current", "data/churn.csv", "--json", "adir"), "--json", "report.json"),
        (("validate", "--junit", "adir"), "--junit", "report.xml"),
        (("export", "churn", "1", "--format", "onnx", "--out", "adir"), "--out", "model.onnx"),
    ],
)
def test_an_output_file_that_is_a_directory(project: Path, args: tuple[str, ...], option: str, example: str) -> None:
    (project / "adir").mkdir(exist_ok=True)
    one_line_error(invoke(*args), 2, f"{option} adir is a directory; give a file to write, e.g. adir/{example}")


def test_an_artifact_that_became_a_directory(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    [model] = [p for p in (copy / ".skloop" / "artifacts").rglob("*") if p.is_file() and p.stat().st_size > 100_000]
    model.unlink()
    model.mkdir()
    result = invoke("predict", "churn", "-a", "champion", "--data", "data/churn.csv", "--out", "o.pq", "-s", str(copy))
    one_line_error(result, 1, "cannot be read", "Is a directory")


# -- other commands ---------------------------------------------------------------------


def test_since_before_year_one_is_a_usage_error(project: Path) -> None:
    result = invoke("monitor", "churn", "--from-log", "--since", "99999999d")
    one_line_error(result, 2, "--since 99999999d reaches back before the year 1")


@pytest.mark.parametrize("rows", ["0", "-3", "10000001"])
def test_init_example_rows_out_of_range(tmp_path: Path, rows: str) -> None:
    one_line_error(invoke("init", "--example", str(tmp_path / "D"), "--rows", rows), 2, "--rows must be between 1")
    assert not (tmp_path / "D").exists()


@pytest.mark.timeout(120)  # before the fix, --port 99999 served on a random port until killed
@pytest.mark.parametrize("port", ["99999", "-1", "0"])
def test_serve_port_out_of_range(project: Path, port: str) -> None:
    one_line_error(invoke("serve", "churn", "--port", port), 2, f"--port must be between 1 and 65535; got {port}")


def test_a_corrupt_database_is_named(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    db = copy / ".skloop" / "skloop.db"
    db.write_bytes(b"garbage " * 4096)
    line = one_line_error(invoke("runs", "-s", str(copy)), 1, f"the database file {db} is corrupt")
    assert "restore it from a backup" in line and "reachable" not in line


# -- the last resort --------------------------------------------------------------------


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("something\nnobody foresaw")


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skloop.workflows, "init_example", _boom)
    result = invoke("init", "--example", str(tmp_path / "x"))
    line = one_line_error(result, EXIT_INTERNAL)
    assert line == "error: RuntimeError: something nobody foresaw (rerun with --debug for the traceback)"

    debug = invoke("--debug", "init", "--example", str(tmp_path / "x"))
    assert debug.exit_code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in debug.output and "_boom" in debug.output
    assert debug.output.strip().splitlines()[-1] == "error: RuntimeError: something nobody foresaw"
    assert "Traceback" not in invoke("init", "--example", str(tmp_path / "x")).output  # --debug does not stick
