"""Tables of per-column records looked up by name: schemas, profiles, drift references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, Protocol, TypeVar

__all__ = ["ColumnsByName"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...  # read-only, so that frozen dataclasses match


C = TypeVar("C", bound=_Named)


class ColumnsByName(Generic[C]):
    """Mixin for frozen dataclasses with a ``columns`` tuple of records that have a ``name``.

    Gives ``names``, ``obj["col"]`` (a ``KeyError`` listing the columns), ``in``,
    iteration and ``len``. Subclasses call :meth:`_index_columns` from ``__post_init__``
    and set ``_noun`` for the error message.
    """

    columns: tuple[C, ...]
    _noun: ClassVar[str] = "table"

    def _index_columns(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def __post_init__(self) -> None:
        self._index_columns()

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> C:
        by_name: dict[str, C] = self.__dict__["_by_name"]
        try:
            return by_name[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in the {self._noun}; columns: {self.names}") from None

    def __contains__(self, name: Any) -> bool:
        return name in self.__dict__["_by_name"]

    def __iter__(self) -> Iterator[C]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)
