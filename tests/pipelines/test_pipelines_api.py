from __future__ import annotations

import doctest
import inspect

import pytest

import skloop.pipelines as pipelines
from skloop.pipelines import _build, _categorical, _estimators, _features, _transformers

MODULES = [_build, _categorical, _estimators, _features, _transformers]


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete():
    assert pipelines.__all__ == sorted(pipelines.__all__, key=_isort_key)
    public = {
        name for name, value in vars(pipelines).items() if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(pipelines.__all__)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
