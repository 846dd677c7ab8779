"""The ``skloop`` command line (Typer + rich), thin over the Python API."""

from skloop.cli import (  # noqa: F401
    _db_cmds,
    _export_cmds,
    _labels_cmds,
    _loop_cmds,
    _mirror_cmds,
    _monitor_cmds,
    _registry_cmds,
    _serve_cmds,
    _ui_cmds,
    _validate_cmds,
)
from skloop.cli._app import app, main

__all__ = ["app", "main"]
