"""Lazy imports: optional extras (with an install hint when missing) and a package's names on first use."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from skloop.core._errors import MissingExtraError

__all__ = ["lazy_names", "optional_import", "warm_imports"]

logger = logging.getLogger(__name__)


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


def warm_imports(*modules: str) -> threading.Thread:
    """Import ``modules`` in a daemon thread, while the caller waits on something else.

    A training run spends its search waiting on worker processes; the modules it needs
    afterwards (``skops.io``, whose import walks every scikit-learn estimator, the
    registry) can be imported in that wait instead of after it. The thread only warms
    ``sys.modules``: a module that fails here is left for the caller's own import to
    fail with its own error. Python's per-module import locks make a later import of the
    same module wait for this one to finish.

    Examples
    --------
    >>> warm_imports("json", "no_such_module_here").join()
    >>> import sys; "json" in sys.modules
    True
    """

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:
                logger.debug("warming %s failed: %s", name, exc)

    thread = threading.Thread(target=run, name="skloop-warm-imports", daemon=True)
    thread.start()
    return thread
