"""The server's ASGI aliases are Starlette's types, so either side takes the other's callables."""

from __future__ import annotations

import starlette.types

from skloop.serve import _types


def test_the_asgi_aliases_equal_starlettes() -> None:
    for name in _types.__all__:
        assert getattr(_types, name) == getattr(starlette.types, name), name
