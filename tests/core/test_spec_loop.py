"""The spec's loop: section: defaults, durations, unknown keys, methods that fit the metric."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from skloop.core import LoopSpec, Spec, parse_duration, parse_window_length

BASE = {"name": "churn", "data": {"train": "data.csv", "target": "y"}}


def test_defaults_make_a_working_policy() -> None:
    loop = Spec.model_validate(BASE).loop
    assert loop.alias == "champion" and loop.triggers.drift and loop.guards.cooldown == "6h"
    assert loop.compare.method == "auto" and loop.data.holdout == 0.3 and loop.probation.window == "3d"
    assert Spec.model_validate({**BASE, "loop": {}}).to_dict()["loop"]["compare"]["confidence"] == 0.95


def test_a_full_policy() -> None:
    loop = LoopSpec.model_validate({
        "triggers": {"drift": False, "top_features": {"k": 5, "min_drifted": 2}, "performance": None,
                     "quality": True, "schedule": "7d", "new_labels": 500},
        "data": {"window": "14d", "holdout": 0.25, "include_training": False,
                 "weighting": {"method": "duplicate", "factor": 3, "newer_than": "2d"}},
        "guards": {"cooldown": None, "max_per_day": 1},
        "compare": {"metric": "accuracy", "method": "mcnemar", "margin": 0.01},
        "probation": {"window": None},
    })  # fmt: skip
    assert loop.triggers.top_features is not None and loop.triggers.top_features.k == 5
    assert loop.triggers.performance is None and loop.data.weighting.factor == 3


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"guards": {"cooldwn": "1h"}}, "Extra inputs"),
        ({"guards": {"cooldown": "soon"}}, "not a duration"),
        ({"triggers": {"schedule": "0h"}}, "must be positive"),
        ({"triggers": {"top_features": {"k": 2, "min_drifted": 3}}}, "cannot exceed k"),
        ({"compare": {"metric": "f1", "method": "delong"}}, "compares roc_auc"),
        ({"compare": {"confidence": 1.0}}, "less than 1"),
        ({"data": {"holdout": 0}}, "greater than 0"),
        ({"monitor_window": "a while"}, "neither a duration .* nor a number of rows"),
        ({"monitor_window": "0 rows"}, "at least 1 row"),
        ({"monitor_history": "5000 rows"}, "not a duration"),
    ],
)
def test_mistakes_are_named(section: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=match):
        Spec.model_validate({**BASE, "loop": section})


def test_durations() -> None:
    assert parse_duration("90min") == timedelta(minutes=90) and parse_duration("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="30min, 6h"):
        parse_duration("7 days")


def test_the_monitor_window_is_a_duration_or_rows() -> None:
    loop = Spec.model_validate(BASE).loop
    assert loop.monitor_window == "1d" and loop.monitor_history == "7d"  # the latest day; the long view
    assert LoopSpec.model_validate({"monitor_window": "5000 rows"}).monitor_window == "5000 rows"
    assert LoopSpec.model_validate({"monitor_window": 5000}).monitor_window == "5000 rows"
    assert parse_window_length("5000 rows") == parse_window_length("5000") == 5000
    assert parse_window_length("1 row") == 1 and parse_window_length("6h") == timedelta(hours=6)
