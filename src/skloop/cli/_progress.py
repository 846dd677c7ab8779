"""Rich progress for the workflows' :class:`~skloop.workflows.Progress`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["RichProgress"]


class RichProgress:
    """Steps as dim lines, long tasks as a bar with count, elapsed and remaining time."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet

    def step(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]· {text}[/]")

    @contextmanager
    def task(self, text: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda n: None
            return
        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, transient=False) as bar:
            task_id = bar.add_task(text, total=total)

            def advance(n: int) -> None:
                bar.advance(task_id, n)

            yield advance
            if total is not None:
                bar.update(task_id, completed=total)
