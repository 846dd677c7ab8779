"""Leaving the process: what the interpreter does at exit, minus freeing memory.

A training command ends with scikit-learn, pandas, SciPy and the search's workers
loaded. The interpreter's own exit then spends about a second on nothing the user
needs: each idle loky worker frees every module it imported before the command may
end, and the command frees its own heap object by object. :func:`exit_process` keeps
every step a program can observe — threads that are not daemons are joined, ``atexit``
callbacks run (logging's flush, joblib's temporary folders, coverage), the standard
streams are flushed, the exit code is the one ``sys.exit`` would give — and skips the
rest. The workers are ended at once, idle as they are (:func:`skloop.core.stop_workers`).

Only the ``skloop`` console script and ``python -m skloop.cli`` end this way
(:func:`console_main`); :func:`skloop.cli.main` still raises ``SystemExit`` for a
caller that runs it in its own process.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["console_main", "exit_code", "exit_process"]

BROKEN_PIPE = 120
"""The interpreter's own exit code when flushing the standard streams fails at exit."""


def exit_code(code: object) -> int:
    """The status ``sys.exit(code)`` would end the process with (a message is printed to stderr, as there).

    Examples
    --------
    >>> exit_code(None), exit_code(3), exit_code(True)
    (0, 3, 1)
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    print(code, file=sys.stderr)
    return 1


def exit_process(code: object) -> NoReturn:
    """End the process with ``code`` (as ``sys.exit`` takes it), without the interpreter's teardown."""
    from skloop.core import stop_workers

    status = exit_code(code)
    stop_workers()
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter runs first at exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: the interpreter's own status for it
            status = status or BROKEN_PIPE
    os._exit(status)


def console_main() -> NoReturn:
    """The ``skloop`` console script: :func:`skloop.cli.main`, then :func:`exit_process` with its status."""
    from skloop.cli._app import main

    code: object = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    exit_process(code)
