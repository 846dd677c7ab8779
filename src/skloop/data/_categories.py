"""The category label of a value, shared by the transformers, the ONNX feed and the server.

One function, so that a category fitted by :mod:`skloop.pipelines`, fed to an exported
ONNX graph by :mod:`skloop.registry` and sent to the server by :mod:`skloop.serve` is
the same string in all three; it lives in :mod:`skloop.data` so that the last two need
not import the pipelines (and scikit-learn's search machinery) to get it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_category"]


def as_category(value: Any) -> str:
    """The category label of one value.

    Integral floats lose their ``.0`` so that ``3`` and ``3.0`` are the same category
    (a column of integer codes becomes floats as soon as one value is missing).

    Examples
    --------
    >>> as_category(3.0), as_category(3), as_category("a"), as_category(True)
    ('3', '3', 'a', 'True')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
