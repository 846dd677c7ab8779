"""Every package re-exports its public names with a sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import skloop

PACKAGES = sorted(
    m.name for m in pkgutil.iter_modules(skloop.__path__, "skloop.") if m.ispkg
)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which is missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_of_private_modules_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    for info in pkgutil.iter_modules(module.__path__, f"{name}."):
        if not info.name.rsplit(".", 1)[1].startswith("_") or info.ispkg:
            continue
        sub = importlib.import_module(info.name)
        for item in getattr(sub, "__all__", []):
            if not hasattr(module, item) and not item.isupper():
                pytest.fail(f"{info.name}.{item} is public there but not re-exported by {name}")


def test_import_skloop_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, skloop; print(int('sklearn' in sys.modules), int('sqlalchemy' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
