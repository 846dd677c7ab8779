"""The one place that maps errors to exit codes and messages.

=====  =========================================================================
code   meaning
=====  =========================================================================
0      the command did its work
1      the work failed: a skloop error (``SkloopError``) other than those below
2      a usage or spec error (``SpecError``, ``UsageError``): the command line
       or the spec is wrong
3      ``skloop monitor``: the data drifted
70     an unexpected error (a bug, not a ``SkloopError``): one line, then
       ``--debug`` shows the traceback
130    interrupted (Ctrl-C)
=====  =========================================================================

:data:`EXIT_CODES` is the table from error class to code (first match wins) and
:func:`exit_for` reads it; ``docs/cli.md`` documents the same table and a test keeps
the two equal for every class of the family.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from skloop.cli._checks import check_arguments, option_names, printable
from skloop.core import SkloopError, SpecError, UsageError

__all__ = [
    "EXIT_CODES",
    "EXIT_DRIFT",
    "EXIT_FAILURE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "exit_for",
    "handle_errors",
    "report",
    "set_debug",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE: an internal software error
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (SpecError, EXIT_USAGE),
    (UsageError, EXIT_USAGE),
    (SkloopError, EXIT_FAILURE),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
)
"""Error class -> exit code, first match wins; anything else is :data:`EXIT_INTERNAL`."""

#: An unexpected error's message is cut to this many characters (it must stay one line).
_MAX_UNEXPECTED_CHARS = 500

_err = Console(stderr=True, soft_wrap=True, highlight=False)
logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def exit_for(exc: BaseException) -> int:
    """The exit code of ``exc`` from :data:`EXIT_CODES` (:data:`EXIT_INTERNAL` when unlisted).

    Examples
    --------
    >>> from skloop.core import SearchFilterError
    >>> exit_for(SearchFilterError("bad filter")), exit_for(RecursionError())
    (2, 70)
    """
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_INTERNAL


_state = {"debug": False}


def set_debug(debug: bool) -> None:
    """Whether errors print their traceback: the global ``--debug`` option (set by the app callback)."""
    _state["debug"] = debug


def _debug() -> bool:
    return _state["debug"]


def _one_line(exc: BaseException) -> str:
    text = " ".join(printable(str(exc)).split())
    if len(text) > _MAX_UNEXPECTED_CHARS:
        text = text[:_MAX_UNEXPECTED_CHARS] + f"... ({len(text) - _MAX_UNEXPECTED_CHARS:,} more characters)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def report(exc: BaseException) -> int:
    """Print ``exc`` as one line on stderr (its traceback first with ``--debug``) and return its exit code.

    skloop's own errors print their message; Ctrl-C prints ``interrupted``; anything
    else is the last resort: ``error: <type>: <message> (rerun with --debug for the
    traceback)``, never a raw traceback.
    """
    code = exit_for(exc)
    if isinstance(exc, KeyboardInterrupt):
        _err.print("[yellow]interrupted[/]")
        return code
    if _debug():
        sys.stderr.write(printable("".join(traceback.format_exception(exc))))
    if isinstance(exc, SkloopError):
        label = "spec error" if isinstance(exc, SpecError) else "error"
        _err.print(f"[bold red]{label}:[/] {escape(printable(str(exc)))}")
    elif _debug():
        _err.print(f"[bold red]error:[/] {escape(_one_line(exc))}")
    else:
        _err.print(f"[bold red]error:[/] {escape(_one_line(exc))} (rerun with --debug for the traceback)")
    return code


def handle_errors(fn: F) -> F:
    """Check the arguments, then turn any error into one line on stderr and its exit code (:func:`report`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_arguments(kwargs, option_names(fn))
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # an exit code chosen by the command, or Typer's own usage error
        except (Exception, KeyboardInterrupt) as exc:  # Exception: the last resort, a bug we did not foresee
            raise typer.Exit(report(exc)) from None

    return wrapper  # type: ignore[return-value]
