"""skloop: the whole life of a scikit-learn model.

``import skloop`` needs only the core dependencies; heavy integrations load lazily.

Examples
--------
>>> import skloop
>>> project = skloop.Project.load("skloop.yaml")   # doctest: +SKIP
>>> run = project.train()                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Project", "Settings", "SkloopError", "__version__", "load_spec"]


def __getattr__(name: str) -> Any:
    # lazy, so that `import skloop` stays cheap and `skloop --help` is instant
    if name == "Project":
        from skloop.workflows import Project

        return Project
    if name in ("Settings", "SkloopError", "load_spec"):
        import skloop.core as core

        return getattr(core, name)
    raise AttributeError(f"module 'skloop' has no attribute {name!r}")
