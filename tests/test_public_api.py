"""Every package re-exports its public names through ``__all__`` (sorted by ruff's RUF022)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import skloop

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(skloop.__path__, "skloop.") if m.ispkg)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"  # order: ruff RUF022
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which is missing"


def test_import_skloop_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, skloop; print(int('sklearn' in sys.modules), int('sqlalchemy' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_import_serve_leaves_out_the_pipelines() -> None:
    # the server scores with a fitted model: it needs no search, builders or transformers' package
    import subprocess
    import sys

    code = (
        "import sys, skloop.serve; "
        "print(sorted(m for m in sys.modules if m.startswith(('skloop.pipelines', 'skloop.workflows'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_top_level_all_is_importable_and_lazy() -> None:
    for item in skloop.__all__:
        assert hasattr(skloop, item), f"skloop.__all__ names {item!r}, which is missing"
    with pytest.raises(AttributeError, match="no attribute 'compare'"):
        skloop.compare  # noqa: B018


def test_the_comparisons_say_what_they_compare() -> None:
    # the former names (compare, compare_files) are gone, not aliased: one name per function
    import skloop.monitor as monitor

    assert skloop.compare_data is monitor.compare_data
    assert skloop.compare_data_files is monitor.compare_data_files
    assert skloop.compare_models is monitor.compare_models
    assert not hasattr(monitor, "compare") and not hasattr(monitor, "compare_files")


LOOP_METHODS = {
    "train": "TrainResult",
    "reproduce": "ReproduceResult",
    "register": "RegisterOutcome",
    "model": "ModelVersion",
    "promote": "AliasEvent",
    "rollback": "AliasEvent",
    "predict": "BatchPredictions",
    "predict_file": "PredictResult",
    "serve_app": "ServeApp",
    "monitor": "MonitorReport",
    "explain": "Explanation",
    "loop": "Decision",
    "validate": "ValidationReport",
}


def test_project_offers_the_whole_loop_with_typed_returns() -> None:
    import inspect

    from skloop.workflows import Project

    for name, returns in LOOP_METHODS.items():
        method = getattr(Project, name, None)
        assert callable(method), f"Project has no {name}()"
        assert inspect.signature(method).return_annotation == returns, f"Project.{name} should return {returns}"


def test_project_stays_small() -> None:
    from skloop.workflows import Project

    public = [n for n in vars(Project) if not n.startswith("_")]
    assert len(public) <= 25, f"Project has {len(public)} public names: group some ({sorted(public)})"
