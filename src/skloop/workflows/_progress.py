"""How long-running workflows report progress without printing.

The workflows call a :class:`Progress`; the CLI passes one that draws rich bars, the
Python API passes :class:`NullProgress` unless the caller gives its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["NullProgress", "Progress"]

Advance = Callable[[int], None]


class Progress(Protocol):
    """Receives the steps of a workflow.

    ``step(text)`` announces a short step; ``task(text, total)`` is a context manager
    yielding an ``advance(n)`` function for a long step (``total`` may be unknown).
    ``advance`` may be called from other threads.
    """

    def step(self, text: str) -> None: ...

    def task(self, text: str, total: int | None) -> AbstractContextManager[Advance]: ...


class NullProgress:
    """A :class:`Progress` that records the steps it was told and shows nothing."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.advanced = 0

    def step(self, text: str) -> None:
        self.steps.append(text)

    @contextmanager
    def task(self, text: str, total: int | None) -> Iterator[Advance]:
        self.steps.append(text)

        def advance(n: int) -> None:
            self.advanced += n

        yield advance
