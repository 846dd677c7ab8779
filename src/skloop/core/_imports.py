"""Lazy imports: optional extras (with an install hint when missing) and a package's names on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from skloop.core._errors import MissingExtraError

__all__ = ["lazy_names", "module_hint", "optional_import"]


def module_hint(module: str) -> str:
    """What to say after "module X not found": a module in the working folder is not on the import path.

    The ``skloop`` command, unlike ``python script.py``, does not import from the folder it
    runs in; a spec's ``pipeline.factory: mymodule:build`` next to ``skloop.yaml``, or a
    model holding a class of that module, is then not found.

    Examples
    --------
    >>> module_hint("surely_not_a_module_here")
    ' (is the package installed?)'
    """
    import sys
    from pathlib import Path

    top = module.partition(".")[0]
    here = Path.cwd()
    in_folder = (here / f"{top}.py").is_file() or (here / top / "__init__.py").is_file()
    if in_folder and here.resolve() not in {Path(p or ".").resolve() for p in sys.path}:
        return (
            f" on the import path, though {top!r} is in the working folder {str(here)!r}: the command does "
            "not import from there; run it as PYTHONPATH=. skloop ..., or install the package"
        )
    return " (is the package installed?)"


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.split(".")[0], extra) from exc


def lazy_names(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` importing each name of ``table`` on first use.

    ``table`` maps a name to the module it lives in; a name once imported is kept in
    ``namespace`` (the package's ``globals()``), so later lookups are plain attribute reads.

    Examples
    --------
    >>> get, names = lazy_names("pkg", {"sqrt": "math"}, ns := {})
    >>> get("sqrt")(9.0), "sqrt" in ns, names()
    (3.0, True, ['sqrt'])
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table, *namespace.get("__all__", ())} - {"__builtins__"})

    return __getattr__, __dir__
