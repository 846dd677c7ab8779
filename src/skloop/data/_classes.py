"""One way to name a class, and which class of a binary target is the positive one.

A classifier's classes travel as text: in the prediction log (``probabilities`` keyed
by class), as ``proba_<class>`` columns, as stored labels and predictions, in
reports. :func:`class_name` is the one rule that turns a class or a label into that
text, so a label posted as ``1`` joins a model trained on ``1.0``:

- integers, and floats that are whole numbers, as the integer (``0``, ``0.0``,
  ``np.float64(0)`` → ``"0"``); other finite floats as their ``repr`` (``"0.5"``);
- booleans as ``"False"`` / ``"True"`` (a boolean target keeps its own names: ``True``
  and ``1`` are different labels);
- strings as they are;
- numpy scalars by the rule of their Python value; a pandas ``Categorical`` by the
  rule of its values;
- ``None``, ``NaN`` and ``pd.NA`` are no class (``None``).

:func:`positive_class` picks the class that binary ``f1``, ``precision``, ``recall``
and ``average_precision`` are about.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError

__all__ = ["class_name", "class_names", "positive_class"]


def class_name(value: Any) -> str | None:
    """The canonical text of a class or label (see the module docstring).

    Examples
    --------
    >>> class_name(1.0), class_name(np.int64(1)), class_name("yes"), class_name(True), class_name(0.25)
    ('1', '1', 'yes', 'True', '0.25')
    >>> class_name(None), class_name(float("nan"))
    (None, None)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def class_names(values: Iterable[Any]) -> list[str | None]:
    """:func:`class_name` of each value (a Series, array, ``Categorical`` or list).

    Examples
    --------
    >>> class_names(pd.Series(["a", "b"], dtype="category")), class_names(np.array([0.0, 1.0]))
    (['a', 'b'], ['0', '1'])
    """
    if isinstance(values, pd.Series | pd.Index | pd.Categorical):
        values = np.asarray(values, dtype=object)
    return [class_name(v) for v in values]


def positive_class(classes: Sequence[Any], y: Any = None, declared: Any = None) -> Any:
    """The positive class of a binary target (``None`` for more or fewer classes).

    The rule: the ``declared`` class (the spec's ``data.positive_class``) when given;
    else the class named ``"1"`` or ``"True"`` (``1``, ``1.0``, ``True``: scikit-learn's
    default ``pos_label``); else the minority class of ``y``; else (no ``y``, or a tie)
    the last of ``classes``.

    Parameters
    ----------
    classes : sequence
        The classes, in the model's order (``classes_``).
    y : array-like, optional
        The training target, to find the minority class.
    declared : scalar, optional
        A class given by the user, matched by :func:`class_name`.

    Returns
    -------
    scalar or None
        One of ``classes`` (its own value, not its name).

    Raises
    ------
    DataError
        ``declared`` is not one of the classes.

    Examples
    --------
    >>> positive_class([0.0, 1.0]), positive_class([False, True])
    (1.0, True)
    >>> positive_class(["leave", "stay"], ["stay", "stay", "leave"])
    'leave'
    >>> positive_class(["a", "b", "c"]) is None
    True
    """
    values = list(classes)
    names = class_names(values)
    if declared is not None:
        wanted = class_name(declared)
        if wanted not in names:
            raise DataError(
                f"data.positive_class: {declared!r} is not a class of the target; its classes are "
                f"{[n for n in names if n is not None]}; give one of them"
            )
        if len(values) != 2:
            raise DataError(
                f"data.positive_class is for a binary target; this one has {len(values)} classes {names}; "
                "remove the key"
            )
        return values[names.index(wanted)]
    if len(values) != 2:
        return None
    for conventional in ("1", "True"):
        if conventional in names:
            return values[names.index(conventional)]
    if y is not None:
        counts = pd.Series(class_names(y)).value_counts()
        a, b = (int(counts.get(n, 0)) for n in names)
        if a != b:
            return values[0] if a < b else values[1]
    return values[-1]
