"""The ``skloop`` command line (Typer + rich), thin over the Python API.

``skloop CMD`` imports the module of CMD alone and has Typer build that command alone
(:mod:`skloop.cli._commands`); :data:`app`, the Typer application with every command
(for ``typer.testing.CliRunner``), loads them all on first access. The console script
is :func:`console_main`: :func:`main`, then the process ends without the interpreter's
teardown (:mod:`skloop.cli._exit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skloop.cli._app import main
from skloop.cli._exit import console_main

if TYPE_CHECKING:
    from skloop.cli._app import app

__all__ = ["app", "console_main", "main"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from skloop.cli import _app
        from skloop.cli._commands import load_all

        load_all()
        globals()["app"] = _app.app
        return _app.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
