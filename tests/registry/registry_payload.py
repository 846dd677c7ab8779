"""A type that no loader should trust: rebuilding it from a saved state writes a file.

The persistence tests put it into crafted skops artifacts and check that loading
them is refused before any of its code runs (the marker file does not appear).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SideEffect:
    """Writes ``ran`` to ``path`` when skops (or pickle) restores it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["path"]).write_text("ran")
        self.__dict__.update(state)
