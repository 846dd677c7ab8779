from __future__ import annotations

import pytest

from skloop.core import FeaturesSpec, PipelineError
from skloop.pipelines import FeatureSets, resolve_features

INFERRED = {
    "numeric": ["age", "zip", "y"],
    "categorical": ["city"],
    "boolean": ["member"],
    "datetime": ["signup"],
    "text": ["review"],
}


def test_explicit_lists_win_and_inferred_fill_the_rest():
    spec = FeaturesSpec(categorical=["zip"], drop=["review"])
    features = resolve_features(spec, INFERRED, {"y"})
    assert features == FeatureSets(
        numeric=("age",),
        categorical=("zip", "city"),
        boolean=("member",),
        datetime=("signup",),
    )
    assert features.all_columns == ("age", "zip", "city", "member", "signup")
    assert features.to_dict()["text"] == []


def test_no_inference_uses_only_explicit_columns_minus_excluded():
    spec = FeaturesSpec(numeric=["age", "y"], infer=False)
    assert resolve_features(spec, INFERRED, {"y"}) == FeatureSets(numeric=("age",))
    assert resolve_features(spec, None, set()) == FeatureSets(numeric=("age", "y"))


@pytest.mark.parametrize(
    ("spec", "key", "column", "hint"),
    [
        (FeaturesSpec(categorical=["citty"]), "features.categorical", "citty", "'city'"),
        (FeaturesSpec(drop=["Age"]), "features.drop", "Age", "'age'"),
    ],
)
def test_missing_column_names_key_column_and_close_match(spec, key, column, hint):
    with pytest.raises(PipelineError) as info:
        resolve_features(spec, INFERRED, {"y"})
    message = str(info.value)
    assert message.startswith(f"{key}: column {column!r} is not in the data")
    assert f"did you mean {hint}" in message


def test_columns_argument_is_the_data():
    spec = FeaturesSpec(categorical=["uid"])
    features = resolve_features(spec, INFERRED, {"y"}, columns=[*INFERRED["numeric"], "uid"])
    assert features.categorical[0] == "uid"


def test_a_column_cannot_have_two_kinds():
    with pytest.raises(PipelineError, match="both numeric and text"):
        FeatureSets(numeric=("a",), text=("a",))
