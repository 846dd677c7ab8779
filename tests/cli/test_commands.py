"""The lazy command table (skloop.cli._commands) against the commands the modules register."""

from __future__ import annotations

import json
import subprocess
import sys

from skloop.cli._commands import COMMAND_MODULES, MODULES

# In a fresh interpreter: import the core commands' module, then each command module in
# turn, and record which module brought each command, and each group's subcommands.
PROBE = r"""
import importlib, json
import typer
from skloop.cli._commands import _name

def snapshot(app):
    commands = {_name(c) for c in app.registered_commands}
    groups = {g.name: {_name(c) for c in g.typer_instance.registered_commands} for g in app.registered_groups}
    return commands, groups

app = importlib.import_module("skloop.cli._app").app
seen_commands, seen_groups = set(), {}
owners, group_owners = {}, {}
for module in ["skloop.cli._app", *json.loads(__import__("sys").argv[1])]:
    importlib.import_module(module)
    commands, groups = snapshot(app)
    for name in commands - seen_commands:
        owners[name] = module
    for name, subs in groups.items():
        new = subs - seen_groups.get(name, set())
        if new:
            group_owners.setdefault(name, []).append(module)
    seen_commands, seen_groups = commands, {k: set(v) for k, v in groups.items()}
print(json.dumps({"owners": owners, "groups": group_owners}))
"""


def test_every_command_is_in_the_table_under_the_module_that_registers_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(MODULES))], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout)
    names = set(found["owners"]) | set(found["groups"])
    assert names == set(COMMAND_MODULES), "commands missing from / extra in COMMAND_MODULES"
    for name, module in found["owners"].items():
        assert COMMAND_MODULES[name] == module, name
    for name, modules in found["groups"].items():
        # the table's module imports skloop.cli._app, so together they must bring every subcommand
        assert set(modules) <= {COMMAND_MODULES[name], "skloop.cli._app"}, (name, modules)
        assert COMMAND_MODULES[name] in modules, (name, modules)
