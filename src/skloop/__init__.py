"""skloop: the whole life of a scikit-learn model.

``import skloop`` needs only the core dependencies; heavy integrations load lazily.
:class:`Project` drives the loop (train, register, promote, predict, serve, monitor,
explain, loop, validate); the ``compare_*`` functions compare two tables or two models
without a project. See ``docs/python-api.md``.

Examples
--------
>>> import skloop
>>> project = skloop.Project.load("skloop.yaml")   # doctest: +SKIP
>>> run = project.train()                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "Project",
    "Settings",
    "SkloopError",
    "__version__",
    "active_run",
    "autolog",
    "compare_data",
    "compare_data_files",
    "compare_models",
    "load_spec",
    "start_run",
]

# name -> the module it lives in, imported on first use, so that `import skloop` stays
# cheap and `skloop --help` is instant
_LAZY = {
    "Project": "skloop.workflows",
    "Settings": "skloop.core",
    "SkloopError": "skloop.core",
    "load_spec": "skloop.core",
    "start_run": "skloop.workflows",
    "active_run": "skloop.workflows",
    "autolog": "skloop.workflows",
    "compare_data": "skloop.monitor",
    "compare_data_files": "skloop.monitor",
    "compare_models": "skloop.monitor",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skloop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
