"""The one template environment: shared stylesheet and partials, autoescaping, strict names."""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from pathlib import Path, PurePosixPath

import jinja2
import pandas as pd
import pytest

from skloop.core import html_environment, render_page
from skloop.monitor import build_report, compare_data, render_report_html
from skloop.registry import ModelCard, render_html

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
TEMPLATES = files("skloop") / "templates"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    card = ModelCard(
        task="regression", name="m", version=2, cv_metrics={"r2": {"mean": 0.8, "std": 0.1}},
        importance={"x": {"mean": 0.3, "std": 0.1}, "y": {"mean": 0.1, "std": 0.0}},
    )  # fmt: skip
    ref, cur = pd.DataFrame({"x": range(200)}), pd.DataFrame({"x": range(100, 300)})
    return {"card": render_html(card), "report": render_report_html(build_report(compare_data(ref, cur), model="m/2"))}


def _style(page: str) -> str:
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert len(styles) == 1, "one inline stylesheet"
    return styles[0].strip()


def test_card_and_report_share_the_stylesheet_and_partials(pages: dict[str, str]) -> None:
    css = (TEMPLATES / "skloop.css").read_text(encoding="utf-8").strip()
    assert _style(pages["card"]) == _style(pages["report"]) == css
    for page in pages.values():
        tables = re.findall(r"<table[^>]*>", page)
        assert tables and set(tables) == {'<table class="sk-table">'}  # the table macro, everywhere
        charts = re.findall(r"<svg[^>]*>", page)
        assert charts and all(tag.startswith('<svg class="chart ') for tag in charts)  # the chart macros
        assert page.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in page  # the base template


def test_undefined_names_raise() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'title' is undefined"):
        render_page("base.html")
    with pytest.raises(jinja2.UndefinedError):
        html_environment().from_string("<p>{{ missing }}</p>").render()


def test_strings_and_html_templates_are_escaped() -> None:
    env = html_environment()
    assert env.from_string("{{ v }}").render(v="<b>&") == "&lt;b&gt;&amp;"
    table = env.get_template("partials/tables.html").module.table  # type: ignore[attr-defined]
    assert "<td>&lt;i&gt;</td>" in str(table(None, [["<i>"]]))


def test_every_template_is_package_data() -> None:
    globs = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["skloop"]
    root = Path(str(TEMPLATES))
    names = [PurePosixPath("templates", p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()]
    assert {"templates/base.html", "templates/skloop.css"} <= {str(n) for n in names}
    missing = [str(n) for n in names if not any(n.match(g) for g in globs)]
    assert missing == [], f"add {missing} to [tool.setuptools.package-data] in pyproject.toml"
