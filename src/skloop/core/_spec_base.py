"""The base of the spec's pydantic models: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["SpecModel"]


class SpecModel(BaseModel):
    """A section of the spec: ``extra="forbid"`` (a typo never passes), frozen, keys by alias or name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
