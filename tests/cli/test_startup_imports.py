"""``skloop --help`` and ``skloop runs`` start without the heavy libraries (issue 14, part 5).

A structural guard, not a timing threshold: each command runs through the real entry
point in a fresh interpreter, which then reports the modules it imported. Start-up time
is measured by ``benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import skloop

# what a command that does not use them must not pay for at start-up
HEAVY = ("sklearn", "pandas", "scipy", "pyarrow", "numpy", "sqlalchemy", "alembic", "skloop.registry")


# the store's parts that ``skloop runs`` does not use (issue 14, part 5: the store loads lazily)
OTHER_PARTS = (
    "skloop.store._predictions",
    "skloop.store._prediction_pages",
    "skloop.store._serving_stats",
    "skloop.store._schema_predictions",
    "skloop.store._loop",
    "skloop.store._schema_loop",
    "skloop.store._mirror",
    "skloop.store._schema_mirror",
    "skloop.store._retention",
    "skloop.store._check",
    "skloop.store._reports",
    "skloop.store._models",
)


def imported(args: list[str], cwd: Path, watch: tuple[str, ...] = HEAVY) -> tuple[int, set[str], str]:
    """Exit code, the watched modules imported, and the output of ``skloop ARGS`` in a fresh interpreter."""
    code = (
        "import sys\n"
        "heavy = sys.argv[1].split(',')\n"
        "sys.argv = ['skloop', *sys.argv[2:]]\n"
        "from skloop.cli import main\n"
        "status = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    status = exc.code or 0\n"
        "print('IMPORTED=' + ','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    # the project's own store, whatever the environment running the tests points at
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")} | {"COLUMNS": "120"}
    # the skloop this test imports, wherever the interpreter's own install points
    env["PYTHONPATH"] = os.pathsep.join([str(Path(skloop.__file__).parents[1]), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", code, ",".join(watch), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    line = next(x for x in out.stderr.splitlines() if x.startswith("IMPORTED="))
    found = {m for m in line.removeprefix("IMPORTED=").split(",") if m}
    return out.returncode, found, out.stdout + out.stderr


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["train", "--help"], ["runs", "--help"]])
def test_help_imports_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    status, found, output = imported(args, tmp_path)
    assert status == 0, output
    assert "Usage" in output
    assert found == set(), f"skloop {' '.join(args)} imported {sorted(found)}"


def test_runs_imports_the_store_but_no_data_library(tmp_path: Path) -> None:
    from skloop.core import Settings
    from skloop.store import Store
    from skloop.workflows import init_example

    init_example(tmp_path, n_rows=200)
    store = Store.open(Settings.from_env(tmp_path, env={}))
    try:
        with store.runs.start_run("churn", spec={"name": "churn"}, code_commit="test", environment={}) as run:
            store.runs.log_params(run.id, {"n_estimators": 10})
            store.runs.log_metrics(run.id, {"cv_roc_auc_mean": 0.75})
    finally:
        store.close()
    # no ORM, no spec models (the name comes from load_spec_head), no fsspec for a local
    # artifact root, no PostgreSQL dialect for a SQLite store, no other command's module
    watch = (*HEAVY, "sqlalchemy.orm", "skloop.core._spec", "fsspec", "sqlalchemy.dialects.postgresql",
             "skloop.cli._serve_cmds", "skloop.cli._monitor_cmds")  # fmt: skip
    status, found, output = imported(["runs", "--spec", str(tmp_path)], tmp_path, watch)
    assert status == 0, output
    assert run.id[:8] in output  # the run is listed: the store was read
    # SQLAlchemy (Core) reads the runs; Alembic only when the schema is not at head
    assert found == {"sqlalchemy"}, f"skloop runs imported {sorted(found)}"
    # and of the store, only the runs' part: no prediction, loop, mirror, report or check code
    status, found, output = imported(["runs", "--spec", str(tmp_path)], tmp_path, OTHER_PARTS)
    assert status == 0, output
    assert found == set(), f"skloop runs imported {sorted(found)}"


def test_runs_still_upgrades_an_old_store(tmp_path: Path) -> None:
    # the quick check of the schema version must not skip a needed upgrade: an empty
    # database file (no version table) is created at head by the first command
    from skloop.workflows import init_example

    init_example(tmp_path, n_rows=200)
    status, found, output = imported(["runs", "--spec", str(tmp_path)], tmp_path)
    assert status == 0, output
    assert "alembic" in found  # the schema was created through Alembic
