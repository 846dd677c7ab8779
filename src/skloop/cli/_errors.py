"""The one place that maps skloop's errors to exit codes and messages."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from skloop.core import ReproductionError, SkloopError, SpecError, UsageError

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "exit_code_for", "handle_errors"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_err = Console(stderr=True, soft_wrap=True)
logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(exc: BaseException) -> int:
    """Exit code for an exception: 2 for spec/usage errors, 1 for failed work."""
    if isinstance(exc, (SpecError, UsageError)):
        return EXIT_USAGE
    if isinstance(exc, (SkloopError, ReproductionError)):
        return EXIT_FAILURE
    return EXIT_FAILURE


def handle_errors(fn: F) -> F:
    """Turn skloop errors into a clear message on stderr and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SkloopError as exc:
            label = "spec error" if isinstance(exc, SpecError) else "error"
            _err.print(f"[bold red]{label}:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            _err.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]
