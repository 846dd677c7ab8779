"""Which module defines each command, so that ``skloop CMD`` loads and builds only CMD.

Typer turns every registered command into a click command before it runs any (reading
each function's signature: ~27 ms for skloop's 28), and the command modules take ~12 ms
to import. :func:`run` reads the command's name from the arguments, imports the module
that defines it (:data:`COMMAND_MODULES`) and has Typer build that command alone. For
``skloop``, ``skloop --help`` and a name that is no command, every module is loaded
and every command built, so that the help lists them all and a typo gets click's own
error. ``tests/cli/test_commands.py`` checks the table against the registered commands.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer

__all__ = ["COMMAND_MODULES", "MODULES", "command_name", "load_all", "only", "run"]

#: The command modules, in the order that gives ``skloop --help`` its order of commands.
MODULES = (
    "skloop.cli._db_cmds",
    "skloop.cli._export_cmds",
    "skloop.cli._labels_cmds",
    "skloop.cli._loop_cmds",
    "skloop.cli._mirror_cmds",
    "skloop.cli._monitor_cmds",
    "skloop.cli._registry_cmds",
    "skloop.cli._serve_cmds",
    "skloop.cli._ui_cmds",
    "skloop.cli._validate_cmds",
)

_APP = "skloop.cli._app"
#: command or group name -> the module that registers it (a group: the last of its modules;
#: each imports ``skloop.cli._app``, which registers the core commands and ``db upgrade``/``prune``)
COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(("init", "train", "runs", "show", "datasets", "reproduce", "register", "demo"), _APP),
    "db": "skloop.cli._db_cmds",
    "export": "skloop.cli._export_cmds",
    "predict": "skloop.cli._export_cmds",
    "labels": "skloop.cli._labels_cmds",
    "logs": "skloop.cli._labels_cmds",
    "loop": "skloop.cli._loop_cmds",
    "decisions": "skloop.cli._loop_cmds",
    "mirror": "skloop.cli._mirror_cmds",
    "import-mlflow": "skloop.cli._mirror_cmds",
    "monitor": "skloop.cli._monitor_cmds",
    "explain": "skloop.cli._monitor_cmds",
    **dict.fromkeys(("models", "promote", "rollback", "aliases", "lineage", "card"), "skloop.cli._registry_cmds"),
    "serve": "skloop.cli._serve_cmds",
    "ui": "skloop.cli._ui_cmds",
    "validate": "skloop.cli._validate_cmds",
}


def load_all() -> None:
    """Import every command module: the app then holds every command."""
    for module in MODULES:
        importlib.import_module(module)


def command_name(args: Sequence[str]) -> str | None:
    """The command ``args`` name, when it is one of :data:`COMMAND_MODULES`; else None.

    The options before it are the app's callback's, all flags (``-v``, ``--debug``:
    the test checks it), so the first argument that is not an option is the command.

    Examples
    --------
    >>> command_name(["-v", "runs", "--limit", "5"]), command_name(["--help"]), command_name(["rnus"])
    ('runs', None, None)
    """
    for arg in args:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMAND_MODULES else None
    return None


def _name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    if info.callback is None:  # pragma: no cover - every skloop command has a function
        return ""
    return typer.main.get_command_name(info.callback.__name__)


@contextmanager
def only(app: typer.Typer, name: str) -> Iterator[None]:
    """While in the block, ``app`` holds only the command or group ``name`` (so Typer builds only it)."""
    commands, groups = list(app.registered_commands), list(app.registered_groups)
    app.registered_commands[:] = [c for c in commands if _name(c) == name]
    app.registered_groups[:] = [g for g in groups if g.name == name]
    try:
        yield
    finally:
        app.registered_commands[:], app.registered_groups[:] = commands, groups


def run(app: typer.Typer, args: Sequence[str]) -> None:
    """Run ``app`` on ``args`` (``sys.argv[1:]``), loading and building only the command they name."""
    name = command_name(args)
    if name is None:
        load_all()
        app()
        return
    importlib.import_module(COMMAND_MODULES[name])
    with only(app, name):
        app()
