"""The ``skloop`` command line (Typer + rich), thin over the Python API."""

from skloop.cli import _export_cmds, _labels_cmds, _registry_cmds  # noqa: F401
from skloop.cli._app import app, main

__all__ = ["app", "main"]
