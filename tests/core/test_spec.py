"""The spec loader: every kind of mistake gets a message naming file, line and key."""

from __future__ import annotations

import contextlib

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skloop.core import SkloopError, SpecError, load_spec, parse_spec

VALID = """\
name: churn
seed: 1
data:
  train: data/churn.csv
  target: churned
search:
  strategy: grid
  space:
    model__max_depth: [3, 5]
  cv: {folds: 3}
"""


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "skloop.yaml")
    return info.value


def test_valid_spec_loads_with_defaults() -> None:
    spec = parse_spec(VALID)
    assert spec.name == "churn"
    assert spec.search.cv.folds == 3
    assert spec.pipeline.model is not None
    assert spec.pipeline.model.class_ == "sklearn.ensemble.RandomForestClassifier"
    assert spec.data.holdout == 0.2


def test_unknown_key_names_line_key_and_allowed_keys() -> None:
    err = _error(VALID.replace("  target: churned", "  targt: churned"))
    text = str(err)
    assert "skloop.yaml" in text
    assert "line 5" in text and "data.targt" in text
    assert "did you mean 'target'" in text
    assert "allowed:" in text and "holdout" in text
    assert any(p["key"] == "data.target" and p["message"] == "required key is missing" for p in err.problems)


@pytest.mark.parametrize("key", ["Name", "A", "List[x]", "str"])
def test_an_unknown_key_that_looks_like_a_type_tag_is_named(key: str) -> None:
    # pydantic tags union branches with type names; a user's key is named even when it looks like one
    err = _error(VALID + f"{key}: 1\n")
    assert any(p["key"] == key and p["message"].startswith(f"unknown key {key!r}") for p in err.problems)
    assert f"line {VALID.count(chr(10)) + 1}" in str(err)


def test_wrong_type_names_key_line_and_given_value() -> None:
    err = _error(VALID.replace("{folds: 3}", "{folds: three}"))
    assert "line 10" in str(err)
    assert "search.cv.folds" in str(err)
    assert "'three'" in str(err)


def test_value_not_in_allowed_set_lists_the_choices() -> None:
    err = _error(VALID.replace("strategy: grid", "strategy: grd"))
    assert "search.strategy" in str(err) and "'grd'" in str(err)
    assert "'random'" in str(err) and "'halving'" in str(err)


def test_missing_target_is_named() -> None:
    err = _error("name: x\ndata: {train: t.csv}\n")
    assert "data.target: required key is missing" in str(err)


def test_bad_dotted_class_path() -> None:
    err = _error(VALID + "pipeline:\n  model: {class: RandomForest}\n")
    assert "pipeline.model.class" in str(err) and "dotted path" in str(err)
    assert "line 12" in str(err)


def test_search_space_key_must_name_a_step() -> None:
    err = _error(VALID.replace("model__max_depth", "max_depth"))
    assert "search.space" in str(err) and "model__max_depth" in str(err)


def test_grid_rejects_distributions() -> None:
    err = _error(VALID.replace("[3, 5]", "{dist: uniform, low: 0, high: 1}"))
    assert "strategy 'random'" in str(err)


def test_refit_must_be_a_scorer() -> None:
    err = _error(VALID + "  scoring: [accuracy]\n  refit: roc_auc\n")
    assert "refit" in str(err) and "roc_auc" in str(err)


def test_yaml_syntax_error_has_line() -> None:
    err = _error("name: [unclosed\n")
    assert "not valid YAML" in str(err) and "line" in str(err)


def test_not_a_mapping() -> None:
    assert "must be a mapping" in str(_error("- a\n- b\n"))


def test_missing_file_says_how_to_create(tmp_path) -> None:
    with pytest.raises(SpecError, match="skloop init"):
        load_spec(tmp_path / "nope.yaml")


def test_directory_resolves_to_skloop_yaml(tmp_path) -> None:
    (tmp_path / "skloop.yaml").write_text(VALID)
    assert load_spec(tmp_path).name == "churn"


def test_feature_listed_twice_is_an_error() -> None:
    err = _error(VALID + "features:\n  numeric: [a]\n  categorical: [a]\n")
    assert "'a'" in str(err) and "numeric" in str(err) and "categorical" in str(err)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "data",
                    "train",
                    "target",
                    "search",
                    "space",
                    "cv",
                    "folds",
                    "pipeline",
                    "model",
                    "class",
                    "params",
                    "features",
                    "numeric",
                    "strategy",
                    "seed",
                    "x",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_any_structured_input_gives_spec_or_skloop_error(value: object) -> None:
    text = yaml.safe_dump(value)
    with contextlib.suppress(SkloopError):
        parse_spec(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_spec_or_skloop_error(text: str) -> None:
    with contextlib.suppress(SkloopError):
        parse_spec(text)
