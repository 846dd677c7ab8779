from __future__ import annotations

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

from skloop.core import EstimatorSpec, PipelineError
from skloop.pipelines import build_estimator, import_object

RF = "sklearn.ensemble.RandomForestClassifier"


def _spec(cls: str, **params) -> EstimatorSpec:
    return EstimatorSpec.model_validate({"class": cls, "params": params})


def test_import_object_dotted_and_colon():
    assert import_object("sklearn.ensemble.RandomForestClassifier", "k") is RandomForestClassifier
    assert import_object("sklearn.linear_model:LinearRegression", "k") is LinearRegression


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        (
            "sklearn.ensemble.RandomForestClassifer",
            "pipeline.model.class: cannot import 'sklearn.ensemble.RandomForestClassifer': "
            "module 'sklearn.ensemble' has no attribute 'RandomForestClassifer'; "
            "did you mean 'RandomForestClassifier'",
        ),
        (
            "sklearn.ensembel.RandomForestClassifier",
            "module 'sklearn.ensembel' not found; did you mean 'sklearn.ensemble'?",
        ),
        (
            "nosuchpackage_xyz.Model",
            "module 'nosuchpackage_xyz' not found (is the package installed?)",
        ),
    ],
)
def test_bad_dotted_path_names_key_and_suggests(dotted, expected):
    with pytest.raises(PipelineError) as info:
        build_estimator(_spec(dotted), seed=0)
    assert expected in str(info.value)
    assert str(info.value).startswith("pipeline.model.class: ")


def test_not_an_estimator():
    match = (
        r"pipeline.model.class: 'sklearn.metrics.accuracy_score' "
        r"is not a scikit-learn estimator class \(got function\)"
    )
    with pytest.raises(PipelineError, match=match):
        build_estimator(_spec("sklearn.metrics.accuracy_score"), seed=0)


def test_unknown_parameter_suggests_and_lists_valid_ones():
    with pytest.raises(PipelineError) as info:
        build_estimator(_spec("sklearn.ensemble.RandomForestClassifier", n_estimator=5), seed=0)
    message = str(info.value)
    assert message.startswith(
        "pipeline.model.params: RandomForestClassifier has no parameter 'n_estimator'; did you mean 'n_estimators'?"
    )
    assert "valid parameters: " in message and "max_depth" in message


def test_invalid_parameter_value():
    with pytest.raises(PipelineError, match=r"pipeline.model.params: .*'n_estimators' parameter"):
        build_estimator(_spec(RF, n_estimators="ten"), seed=0)


def test_random_state_set_from_seed_unless_given():
    assert build_estimator(_spec(RF), seed=3).random_state == 3
    given = build_estimator(_spec(RF, random_state=9), seed=3)
    assert given.random_state == 9
    assert "random_state" not in build_estimator(_spec("sklearn.linear_model.LinearRegression"), seed=3).get_params()


def test_nested_estimator_params_and_custom_key():
    spec = _spec(
        "sklearn.ensemble.BaggingClassifier",
        estimator={"class": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 2}},
    )
    model = build_estimator(spec, seed=1)
    assert model.estimator.max_depth == 2 and model.estimator.random_state == 1
    bad = _spec("sklearn.ensemble.BaggingClassifier", estimator={"class": "sklearn.tree.Nope"})
    with pytest.raises(PipelineError, match=r"^step\.params\.estimator\.class: "):
        build_estimator(bad, seed=1, key="step")
