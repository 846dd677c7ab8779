"""Names every layer agrees on, kept apart so that importing them costs nothing."""

from __future__ import annotations

import re

__all__ = [
    "PROJECT_NAME",
    "PROJECT_NAME_RULE",
    "SPEC_FILENAME",
    "SPEC_KEYS",
    "TRACKING_URI",
    "TRACKING_URI_RULE",
]

SPEC_FILENAME = "skloop.yaml"
"""The spec file a project folder holds."""

SPEC_KEYS = frozenset(
    ("name", "task", "seed", "data", "features", "pipeline", "search", "gates", "registry", "tracking",
     "monitoring", "validate", "loop")
)  # fmt: skip
"""The top-level keys of a spec (``tests/core/test_spec_head.py`` checks them against :class:`Spec`)."""

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""What the spec's ``name`` must match (checked by the full spec and by its head alike)."""
PROJECT_NAME_RULE = "must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"

TRACKING_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
"""What ``tracking.mlflow_uri`` must match once stripped."""
TRACKING_URI_RULE = "must be an MLflow tracking URI such as http://127.0.0.1:5000"
