"""Names every layer agrees on, kept apart so that importing them costs nothing."""

from __future__ import annotations

__all__ = ["SPEC_FILENAME"]

SPEC_FILENAME = "skloop.yaml"
"""The spec file a project folder holds."""
