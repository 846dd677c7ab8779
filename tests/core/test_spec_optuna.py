"""The spec keys of ``search.strategy: optuna``: n_trials, timeout, pruning."""

from __future__ import annotations

import pytest

from skloop.core import SpecError, parse_spec, spec_from_dict

SPEC = """\
name: churn
data: {train: data/churn.csv, target: churned}
search:
  strategy: optuna
  space:
    model__max_depth: {dist: randint, low: 2, high: 12}
"""


def test_defaults_and_a_duration_for_timeout() -> None:
    search = parse_spec(SPEC).search
    assert (search.n_trials, search.timeout, search.pruning) == (20, None, True)
    assert parse_spec(SPEC + "  timeout: 10min\n").search.timeout == 600.0
    assert parse_spec(SPEC + "  timeout: 45\n").search.timeout == 45.0


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("  n_trials: 0\n", "search.n_trials", "greater than or equal to 1"),
        ("  timeout: soon\n", "search.timeout", "not a duration"),
        ("  timeout: -3\n", "search.timeout", "greater than 0"),
    ],
)
def test_bad_values_are_named(extra: str, key: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC + extra, "skloop.yaml")
    assert key in str(info.value) and words in str(info.value)


def test_optuna_keys_with_another_strategy_are_refused() -> None:
    with pytest.raises(SpecError, match=r"'n_trials', 'pruning' only apply to strategy 'optuna'"):
        parse_spec(SPEC.replace("optuna", "random") + "  n_trials: 5\n  pruning: false\n")


def test_a_grid_runs_snapshot_with_the_defaults_loads_again() -> None:
    spec = parse_spec(SPEC.replace("optuna", "grid").replace("{dist: randint, low: 2, high: 12}", "[2, 4]"))
    assert spec_from_dict(spec.to_dict()) == spec
