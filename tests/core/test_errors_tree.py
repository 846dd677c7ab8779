"""The docstring of ``skloop.core._errors`` draws the whole exception family, and stays true.

Every ``SkloopError`` subclass defined anywhere in the package must appear in the tree,
under its own base class, and every name in the tree must be a real class: adding an
error without drawing it (or moving one without redrawing it) fails here.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import skloop
from skloop.core import SkloopError
from skloop.core import _errors as errors_module


def _import_everything() -> None:
    """Import every module of the package, so that every subclass is defined."""
    for info in pkgutil.walk_packages(skloop.__path__, "skloop."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue  # Alembic scripts, run by Alembic only; `python -m` entry points run the CLI
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed: its errors are still core's
            continue


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    todo = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _tree() -> dict[str, str | None]:
    """``{class name: parent name}`` as drawn in the module docstring."""
    doc = errors_module.__doc__ or ""
    block = doc[doc.index("::") + 2 :]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped:
            if parents:
                break  # the end of the drawing
            continue
        match = re.match(r"^(?P<lead>\s*[│ ]*(?:[├└]── )?)(?P<name>[A-Z]\w*Error)\b", line)
        assert match is not None, f"a line of the tree that names no error: {line!r}"
        depth = len(match.group("lead"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        name = match.group("name")
        assert name not in parents, f"{name} is drawn twice"
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_tree_lists_every_skloop_error_under_its_base() -> None:
    _import_everything()
    tree = _tree()
    defined = {cls.__name__: cls for cls in _all_subclasses(SkloopError) if cls.__module__.startswith("skloop.")}
    defined["SkloopError"] = SkloopError
    missing = sorted(set(defined) - set(tree))
    assert not missing, f"SkloopError subclasses missing from the tree in skloop/core/_errors.py: {missing}"
    ghosts = sorted(set(tree) - set(defined))
    assert not ghosts, f"names in the tree that are no SkloopError subclass: {ghosts}"
    for name, parent in tree.items():
        cls = defined[name]
        if parent is None:
            assert cls is SkloopError
        else:
            assert defined[parent] in cls.__bases__, f"{name} is drawn under {parent}, its bases are {cls.__bases__}"


def test_every_error_is_defined_in_core_and_exported() -> None:
    _import_everything()
    import skloop.core

    for cls in _all_subclasses(SkloopError):
        if not cls.__module__.startswith("skloop."):
            continue
        assert cls.__module__ == "skloop.core._errors", f"{cls.__name__} is defined in {cls.__module__}"
        assert getattr(skloop.core, cls.__name__) is cls


def test_the_tree_reader_sees_a_missing_class(monkeypatch: pytest.MonkeyPatch) -> None:
    # the reader is not vacuous: drop a drawn line and the comparison notices
    doc = errors_module.__doc__ or ""
    monkeypatch.setattr(
        errors_module, "__doc__", "\n".join(ln for ln in doc.splitlines() if "LoopLockedError" not in ln)
    )
    assert "LoopLockedError" not in _tree()
    with pytest.raises(AssertionError, match="LoopLockedError"):
        test_the_tree_lists_every_skloop_error_under_its_base()
