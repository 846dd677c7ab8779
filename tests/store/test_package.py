"""The package surface: exports and layering."""

from __future__ import annotations

import ast
import subprocess
import sys

import skloop.store


def test_all_is_sorted_and_complete() -> None:
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    def key(name: str) -> tuple[bool, bool, str]:
        return (not name.isupper(), not name[0].isupper(), name)

    assert skloop.store.__all__ == sorted(skloop.store.__all__, key=key)
    public = {n for n in vars(skloop.store) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(skloop.store, n)).__name__ == "module"}
    assert set(skloop.store.__all__) == public - modules


def test_store_imports_only_the_layers_below_it() -> None:
    # DESIGN.md: store sits on data and core (it names classes with data.class_name)
    code = "import sys, skloop.store; print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('skloop.')}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    layers = set(ast.literal_eval(out.stdout.strip()))
    # data is loaded on first use (skloop runs starts without pandas): it may be absent
    assert "store" in layers and layers <= {"core", "data", "store"}, layers
