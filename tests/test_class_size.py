"""No public class in skloop has more than 25 public methods (issue 11: the store in parts).

A class that keeps growing methods is several classes sharing one name; the store was
one of 58 before it became a database object carrying parts. Methods are counted over
the class and its skloop bases; what a third-party base brings (pydantic's
``BaseModel``, scikit-learn's ``BaseEstimator``, ``Exception``) is not skloop's to split.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import skloop

MAX_PUBLIC_METHODS = 25
#: optional extras (and Alembic's scripts, which run only inside a migration)
_SKIP_PREFIXES = ("skloop.store.migrations",)


def _modules() -> list[ModuleType]:
    modules = [skloop]
    for info in pkgutil.walk_packages(skloop.__path__, "skloop."):
        if info.name.startswith(_SKIP_PREFIXES) or info.name.endswith("__main__"):
            continue
        try:
            modules.append(importlib.import_module(info.name))
        except ImportError as exc:  # an optional extra that is not installed
            if getattr(exc, "name", None) and not str(exc.name).startswith("skloop"):
                continue
            raise
    return modules


def public_methods(cls: type) -> set[str]:
    """Public methods of ``cls`` defined by skloop: its own and its skloop bases'."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("skloop"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or isinstance(value, property):
                continue
            if inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
                names.add(name)
    return names


def _public_classes() -> list[type]:
    seen: dict[str, type] = {}
    for module in _modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and not name.startswith("_") and obj.__module__ == module.__name__:
                seen[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [seen[k] for k in sorted(seen)]


def test_the_walk_finds_the_store_parts() -> None:
    names = {f"{c.__module__}.{c.__qualname__}" for c in _public_classes()}
    assert {"skloop.store._store.Store", "skloop.store._runs.RunStore", "skloop.store._models.ModelStore"} <= names


def test_public_methods_counts_skloop_bases_only() -> None:
    class Base:
        def a(self) -> None: ...

    Base.__module__ = "skloop.fake"

    class Child(Base, dict):  # type: ignore[type-arg]
        def b(self) -> None: ...

        def _private(self) -> None: ...

        @property
        def c(self) -> int:
            return 1

    Child.__module__ = "skloop.fake"
    assert public_methods(Child) == {"a", "b"}  # dict's methods and the property are not counted


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_no_public_class_has_more_than_25_public_methods(cls: type) -> None:
    methods = public_methods(cls)
    assert len(methods) <= MAX_PUBLIC_METHODS, (
        f"{cls.__module__}.{cls.__qualname__} has {len(methods)} public methods (at most {MAX_PUBLIC_METHODS}): "
        f"{', '.join(sorted(methods))}; split it into parts that each own one concern"
    )
