"""Checks of what the user typed, before a command runs: each failure is a ``UsageError`` (exit 2).

:func:`check_arguments` runs on every command (from :func:`skloop.cli._errors.handle_errors`):
text and paths must be valid UTF-8, since skloop keeps them as text (specs, the database,
Parquet metadata), and integers must fit the database's 64-bit columns. The other helpers
are called by the commands whose options need them.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from typer.models import ArgumentInfo, OptionInfo

from skloop.core import UsageError

__all__ = [
    "MAX_INT",
    "MAX_PORT",
    "MAX_REASON_CHARS",
    "check_arguments",
    "check_out_file",
    "check_port",
    "check_positive",
    "check_reason",
    "option_names",
    "printable",
]

MAX_INT = 2**63 - 1
"""Largest integer an option may take (a signed 64-bit database column)."""

MAX_PORT = 65535
MAX_REASON_CHARS = 4096
"""Longest ``--reason`` kept in the alias history."""


def printable(text: str) -> str:
    """``text`` with bytes that are not UTF-8 (surrogate escapes from the OS) shown as ``\\xff``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@functools.cache
def option_names(fn: Callable[..., Any]) -> dict[str, str]:
    """A command's Python parameter names -> how the user spells them (``--data``, ``VERSION``)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError):  # an annotation that does not resolve: Python names will do
        return {}
    names: dict[str, str] = {}
    for name, hint in hints.items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, ArgumentInfo):
                names[name] = name.upper()
            elif isinstance(info, OptionInfo):
                # typer keeps the first declaration as the default of the Annotated form
                first = (info.default,) if isinstance(info.default, str) else ()
                decls = [d for d in (*first, *(info.param_decls or ())) if d.startswith("--")]
                names[name] = decls[0].split("/")[0] if decls else "--" + name.rstrip("_").replace("_", "-")
    return names


def _not_utf8(value: Any) -> bool:
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_arguments(params: Mapping[str, Any], names: Mapping[str, str] | None = None) -> None:
    """Refuse text that is not UTF-8 and integers beyond 64 bits, naming the option.

    Parameters
    ----------
    params : mapping
        The command's arguments by Python name.
    names : mapping, optional
        How the user spells each (see :func:`option_names`).

    Raises
    ------
    UsageError
        For the first such value.
    """
    for key, value in params.items():
        option = (names or {}).get(key, key)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, Path | str) and _not_utf8(item) and _file_like(item):
                raise UsageError(
                    f"{option}: the file name '{printable(str(item))}' is not valid UTF-8; skloop records paths "
                    "as UTF-8 text (specs, the database, Parquet metadata), so rename the file"
                )
            if isinstance(item, str) and _not_utf8(item):
                raise UsageError(
                    f"{option}: '{printable(item)}' is not valid UTF-8 text; skloop records it as UTF-8, "
                    "so pass UTF-8 text"
                )
            if isinstance(item, int) and not isinstance(item, bool) and not -MAX_INT - 1 <= item <= MAX_INT:
                raise UsageError(f"{option}: {item} is out of range; the largest allowed is {MAX_INT}")


def check_positive(option: str, value: int | None) -> None:
    """``value`` is ``None`` or at least 1."""
    if value is not None and value < 1:
        raise UsageError(f"{option} must be at least 1; got {value}")


def check_n_jobs(value: int | None) -> None:
    """``--n-jobs``: ``None``, a number of processes, or negative (joblib's -1: every core); never 0."""
    if value == 0:
        raise UsageError("--n-jobs must be a number of processes (1, 2, ...) or -1 for every core; got 0")


def check_port(port: int, given: bool) -> None:
    """A TCP port a server can listen on: 1..65535 (0 would pick a random one)."""
    if not 1 <= port <= MAX_PORT:
        where = "--port" if given else "the port setting (SKLOOP_PORT)"
        raise UsageError(f"{where} must be between 1 and {MAX_PORT}; got {port}")


def check_reason(option: str, reason: str | None) -> None:
    """A reason short enough to keep in a history and to print."""
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise UsageError(
            f"{option} is {len(reason):,} characters long; the limit is {MAX_REASON_CHARS:,}, "
            "so summarise it (and link to the details)"
        )


def check_out_file(option: str, path: Path | None, example: str) -> None:
    """``path`` may be written as a file: it is not an existing directory."""
    if path is not None and path.is_dir():
        raise UsageError(f"{option} {printable(str(path))} is a directory; give a file to write, e.g. {path / example}")


def _file_like(item: Path | str) -> bool:
    """A path, or text that names a local file (``--data`` takes URLs too): renaming it is the fix."""
    return isinstance(item, Path) or ("://" not in item and bool(Path(item).suffix))
