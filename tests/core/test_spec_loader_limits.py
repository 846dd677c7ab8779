"""The spec loader refuses what would exhaust memory or hide a mistake: alias bombs, recursion, duplicate keys."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from skloop.core import MAX_EXPANDED_NODES, SpecError, parse_spec

VALID = """\
name: churn
data:
  train: data/churn.csv
  target: churned
"""


def _laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each level is a list of ``width`` aliases of the one before."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "skloop.yaml")
    return info.value


@pytest.mark.parametrize("levels", [6, 10])
def test_billion_laughs_is_refused_fast_with_bounded_memory(levels: int) -> None:
    # 9**6 (half a million) values took 2 s and 84 MB; 9**10 grew by ~100 MB/s until killed
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = _error(_laughs(levels))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 5_000_000
    text = str(error)
    assert text.startswith("skloop.yaml: line ")
    assert f"more than {MAX_EXPANDED_NODES:,} values through anchors and aliases" in text
    assert error.problems[0]["line"] is not None and error.problems[0]["line"] <= levels


def test_aliases_of_anchors_under_the_bound_are_counted_where_they_add_up() -> None:
    text = _laughs(5) + "b: [1, 2]\nc:\n  - *a4\n  - *a4\n"  # each *a4 is 66,430 values, both together too many
    error = _error(text)
    assert str(error).startswith("skloop.yaml: line 8: the value that starts here expands")
    assert error.problems[0]["line"] == 8


def test_a_few_aliases_still_work_and_keep_line_numbers() -> None:
    text = VALID + "search:\n  space: &space\n    model__max_depth: [3, 5]\n  cv: {folds: 3}\nmonitoring: {}\n"
    assert parse_spec(text).search.space == {"model__max_depth": [3, 5]}
    error = _error(VALID + "x: &x {a: 1}\ny: *x\n")
    assert "line 5: x: unknown key 'x'" in str(error) and "line 6: y: unknown key 'y'" in str(error)


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a\n  - x\n  - [1, *a]\n"])
def test_a_recursive_alias_is_a_spec_error_not_a_recursion_error(text: str) -> None:
    error = _error(text)
    assert "the alias *a is inside the node it names (&a at line 1)" in str(error)
    assert "recursive" in str(error) and "skloop.yaml" in str(error)


def test_a_duplicate_key_names_the_key_and_both_lines() -> None:
    error = _error(VALID.replace("  target: churned\n", "  target: churned\n  train: other.csv\n"))
    assert str(error) == (
        "skloop.yaml: line 5: the key 'train' is given twice in one mapping (first at line 3); "
        "YAML would keep only the last, so remove one"
    )
    assert error.problems[0]["line"] == 5 and error.problems[0]["key"] == "train"


def test_duplicate_keys_compare_as_values_and_top_level_counts() -> None:
    assert "the key 'name' is given twice" in str(_error(VALID + "name: other\n"))
    assert "the key 1 is given twice" in str(_error("1: a\n01: b\n"))


def test_merge_keys_may_be_overridden() -> None:
    text = VALID + "search:\n  cv: &cv {folds: 3, shuffle: true}\n  space: {}\nx_cv:\n  <<: *cv\n  folds: 5\n"
    error = _error(text)  # x_cv is unknown, but overriding a merged key is not a duplicate
    assert "given twice" not in str(error) and "x_cv" in str(error)
