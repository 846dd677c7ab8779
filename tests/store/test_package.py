"""The package surface: exports and layering."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import skloop.store


def test_all_is_sorted_and_complete() -> None:
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    def key(name: str) -> tuple[bool, bool, str]:
        return (not name.isupper(), not name[0].isupper(), name)

    assert skloop.store.__all__ == sorted(skloop.store.__all__, key=key)
    # every exported name is either defined eagerly or loaded on first use, and resolves
    eager = {
        n for n in vars(skloop.store) if not n.startswith("_") and n not in {"annotations", "TYPE_CHECKING", "Any"}
    }
    eager = {n for n in eager if type(getattr(skloop.store, n)).__name__ != "module"}
    assert set(skloop.store.__all__) == eager | set(skloop.store._LAZY)
    for name in skloop.store.__all__:
        assert getattr(skloop.store, name) is not None, name
    assert set(dir(skloop.store)) >= set(skloop.store.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = skloop.store.Nope


def test_store_parts_load_on_first_use() -> None:
    # importing Store and opening it loads the runs' code, not the other parts'
    code = (
        "import sys, tempfile\n"
        "from skloop.store import Store\n"
        "d = tempfile.mkdtemp()\n"
        "s = Store(f'sqlite:///{d}/x.db', d + '/a')\n"
        "s.runs\n"
        "print(sorted(m for m in sys.modules if m.startswith('skloop.store.')))\n"
        "s.predictions, s.loop, s.mirror\n"
        "print(sorted(m for m in sys.modules if m.startswith('skloop.store.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = (set(ast.literal_eval(line)) for line in out.stdout.strip().splitlines())
    parts = {"skloop.store._predictions", "skloop.store._loop", "skloop.store._mirror", "skloop.store._reports"}
    assert "skloop.store._runs" in before and not before & parts, before
    assert {"skloop.store._predictions", "skloop.store._loop", "skloop.store._mirror"} <= after


def test_store_imports_only_the_layers_below_it() -> None:
    # DESIGN.md: store sits on data and core (it names classes with data.class_name)
    code = "import sys, skloop.store; print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('skloop.')}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    layers = set(ast.literal_eval(out.stdout.strip()))
    # data is loaded on first use (skloop runs starts without pandas): it may be absent
    assert "store" in layers and layers <= {"core", "data", "store"}, layers
