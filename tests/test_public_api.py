"""Every package re-exports its public names through ``__all__`` (sorted by ruff's RUF022)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import skloop

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(skloop.__path__, "skloop.") if m.ispkg)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"  # order: ruff RUF022
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which is missing"


def test_import_skloop_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, skloop; print(int('sklearn' in sys.modules), int('sqlalchemy' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_import_serve_leaves_out_the_pipelines() -> None:
    # the server scores with a fitted model: it needs no search, builders or transformers' package
    import subprocess
    import sys

    code = (
        "import sys, skloop.serve; "
        "print(sorted(m for m in sys.modules if m.startswith(('skloop.pipelines', 'skloop.workflows'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
