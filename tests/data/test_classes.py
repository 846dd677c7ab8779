"""One name per class (class_name) and the positive class of a binary target (positive_class)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.data import class_name, class_names, positive_class


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ([0, 1, np.int64(1), 0.0, 1.0, np.float64(1.0), -0.0], ["0", "1", "1", "0", "1", "1", "0"]),
        ([0.5, np.float32(0.25), 1e-3], ["0.5", "0.25", "0.001"]),
        ([True, False, np.bool_(True)], ["True", "False", "True"]),  # booleans keep their names
        (["stay", np.str_("leave"), "1.0"], ["stay", "leave", "1.0"]),  # strings as they are
        ([None, float("nan"), np.nan, pd.NA, pd.NaT], [None] * 5),
    ],
)
def test_class_name_rules(values: list[object], names: list[str | None]) -> None:
    assert [class_name(v) for v in values] == names


def test_containers_are_named_by_their_values() -> None:
    assert class_names(pd.Series(pd.Categorical(["leave", "stay", None]))) == ["leave", "stay", None]
    assert class_names(pd.Series([0.0, 1.0])) == class_names(pd.Series([0, 1])) == ["0", "1"]
    assert class_names(pd.array([1, None], dtype="Int64")) == ["1", None]
    assert class_names(np.array([True, False])) == ["True", "False"]


def test_positive_class_rule() -> None:
    assert positive_class([0, 1]) == 1 and positive_class([0.0, 1.0]) == 1.0
    assert positive_class([False, True]) is True
    assert positive_class([-1, 1]) == 1 and positive_class([1, 2]) == 1  # scikit-learn's pos_label=1
    assert positive_class(["leave", "stay"], ["stay"] * 3 + ["leave"]) == "leave"  # the minority
    assert positive_class(["no", "yes"], ["yes"] * 3 + ["no"]) == "no"
    assert positive_class(["a", "b"], ["a", "b"]) == "b"  # a tie: the last, as without y
    assert positive_class(["a", "b", "c"], ["a"]) is None and positive_class(["a"]) is None
    assert positive_class(["leave", "stay"], None, declared="stay") == "stay"
    assert positive_class([0.0, 1.0], declared=0) == 0.0  # matched by name


def test_a_declared_class_must_be_one_of_a_binary_targets() -> None:
    with pytest.raises(DataError, match=r"'maybe' is not a class of the target; its classes are \['no', 'yes'\]"):
        positive_class(["no", "yes"], declared="maybe")
    with pytest.raises(DataError, match="binary target; this one has 3 classes"):
        positive_class(["a", "b", "c"], declared="a")
