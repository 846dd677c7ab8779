"""The one place that maps errors to exit codes and messages.

=====  =========================================================================
code   meaning
=====  =========================================================================
0      the command did its work
1      the work failed (a skloop error, or an unexpected one: one line, then
       ``--debug`` shows the traceback)
2      a usage or spec error: the command line or the spec is wrong
3      ``skloop monitor``: the data drifted
130    interrupted (Ctrl-C)
=====  =========================================================================
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
from skloop.core import ReproductionError, SkloopError, SpecError, UsageError

__all__ = [
    "EXIT_DRIFT",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "exit_code_for",
    "handle_errors",
    "set_debug",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_INTERRUPTED = 130

#: An unexpected error's message is cut to this many characters (it must stay one line).
_MAX_UNEXPECTED_CHARS = 500

_err = Console(stderr=True, soft_wrap=True, highlight=False)
logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(exc: BaseException) -> int:
    """Exit code for an exception: 2 for spec/usage errors, 1 for failed work."""
    if isinstance(exc, (SpecError, UsageError)):
        return EXIT_USAGE
    if isinstance(exc, (SkloopError, ReproductionError)):
        return EXIT_FAILURE
    return EXIT_FAILURE


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


def _traceback() -> None:
    sys.stderr.write(printable(traceback.format_exc()))


def handle_errors(fn: F) -> F:
    """Check the arguments, then turn errors into a clear message on stderr and the right exit code.

    skloop's own errors print their message; anything else prints one line naming its
    type (the last resort: no traceback unless ``--debug``).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_arguments(kwargs, option_names(fn))
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # an exit code chosen by the command, or Typer's own usage error
        except SkloopError as exc:
            if _debug():
                _traceback()
            label = "spec error" if isinstance(exc, SpecError) else "error"
            _err.print(f"[bold red]{label}:[/] {escape(printable(str(exc)))}")
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            _err.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # the last resort: a bug or an error we did not foresee
            if _debug():
                _traceback()
                _err.print(f"[bold red]error:[/] {escape(_one_line(exc))}")
            else:
                _err.print(f"[bold red]error:[/] {escape(_one_line(exc))} (rerun with --debug for the traceback)")
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]
