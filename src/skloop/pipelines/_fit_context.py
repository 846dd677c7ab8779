"""scikit-learn's ``_fit_context`` decorator, typed.

scikit-learn ships no type information, so its decorator would make every decorated
``fit`` untyped to mypy. This wrapper declares what the decorator does to a signature
(nothing: it validates the parameters and sets the configuration around the call), so
callers of ``fit`` keep their types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sklearn.base import _fit_context

__all__ = ["fit_context"]

F = TypeVar("F", bound=Callable[..., Any])


def fit_context(*, prefer_skip_nested_validation: bool) -> Callable[[F], F]:
    """:func:`sklearn.base._fit_context`, typed to keep the decorated method's signature."""
    decorator: Callable[[F], F] = _fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)
    return decorator
