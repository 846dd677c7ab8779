"""Lazy imports of optional extras, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from skloop.core._errors import MissingExtraError

__all__ = ["optional_import"]


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.split(".")[0], extra) from exc
