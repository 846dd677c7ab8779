"""The console script's exit (skloop.cli._exit): what the interpreter's exit does, without its teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import skloop
from skloop.cli._exit import exit_code


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(skloop.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_threads_atexit_and_piped_output_all_finish(tmp_path: Path) -> None:
    done = _python(
        """
        import atexit, sys, threading, time
        atexit.register(lambda: print("atexit ran"))
        def late():
            time.sleep(0.3)
            print("thread done")
        threading.Thread(target=late).start()  # not a daemon: joined, as at any exit
        sys.argv = ["skloop", "--help"]
        print("buffered " * 1000)  # a pipe is block-buffered: lost unless flushed
        from skloop.cli import console_main
        console_main()
        print("never")
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Usage" in out and out.count("buffered") == 1000
    assert out.index("thread done") < out.index("atexit ran")  # the interpreter's order
    assert "never" not in out


def test_a_command_s_status_is_the_process_s(tmp_path: Path) -> None:
    done = _python(
        """
        import sys
        sys.argv = ["skloop", "runs", "--format", "nope"]
        from skloop.cli import console_main
        console_main()
        """,
        tmp_path,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--format" in done.stderr


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (True, 1)])
def test_exit_code_is_sys_exit_s(code: object, status: int) -> None:
    assert exit_code(code) == status


def test_a_message_exits_1_and_is_printed(tmp_path: Path) -> None:
    done = _python("from skloop.cli._exit import exit_process\nexit_process('bye now')\n", tmp_path)
    assert done.returncode == 1 and done.stderr.strip() == "bye now"


def test_the_search_workers_are_ended_with_the_process(tmp_path: Path) -> None:
    done = _python(
        """
        import os
        from joblib import Parallel, delayed
        pids = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(8)))
        print(",".join(map(str, pids - {os.getpid()})), flush=True)
        from skloop.cli._exit import exit_process
        exit_process(0)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    pids = [int(p) for p in done.stdout.strip().split(",")]
    assert pids

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
