"""The hint after "module not found" when the module sits in the working folder (core.module_hint)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from skloop.core import PipelineError, module_hint
from skloop.pipelines import import_object


def test_a_module_in_the_working_folder_not_on_the_path_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "skloop_hint_factory.py").write_text("def build():\n    return None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    hint = module_hint("skloop_hint_factory.sub")
    assert "working folder" in hint and "PYTHONPATH=." in hint
    with pytest.raises(PipelineError, match=r"pipeline\.factory: .*PYTHONPATH=\. skloop"):
        import_object("skloop_hint_factory:build", "pipeline.factory")


def test_a_package_in_the_working_folder_counts_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "skloop_hint_pkg").mkdir()
    (tmp_path / "skloop_hint_pkg" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    assert "working folder" in module_hint("skloop_hint_pkg")


def test_elsewhere_or_on_the_path_the_hint_is_installing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert module_hint("skloop_hint_absent") == " (is the package installed?)"
    (tmp_path / "skloop_hint_there.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_hint("skloop_hint_there") == " (is the package installed?)"


def test_a_model_of_a_working_folder_class_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from skloop.core import RegistryError
    from skloop.registry import Trust, load_model, save_model

    (tmp_path / "skloop_hint_model.py").write_text(
        "from sklearn.base import BaseEstimator\n\nclass Custom(BaseEstimator):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    data = save_model(importlib.import_module("skloop_hint_model").Custom())
    monkeypatch.delitem(sys.modules, "skloop_hint_model")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    with pytest.raises(RegistryError, match=r"No module named 'skloop_hint_model' on the import path.*PYTHONPATH=\."):
        load_model(data, "skops", trust=Trust(types=["skloop_hint_model.Custom"]))
