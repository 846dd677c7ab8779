"""One Jinja2 environment for every HTML page skloop writes.

The model card, the monitoring report and (later) the UI are templates under
``skloop/templates``: ``base.html`` (the page, with the one stylesheet
``skloop.css`` inlined), ``partials/`` (macros for tables, metric tiles, badges and
the SVG charts) and one template per document. The environment escapes every
value (``autoescape`` on ``.html`` and ``.svg`` templates and on strings) and
refuses undefined names (:class:`jinja2.StrictUndefined`), so a misspelled field is
an error instead of an empty cell. Pages load nothing: CSS and SVG are inline.

Jinja2 is imported on first use, so ``import skloop`` stays light.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

from skloop.core._charts import bar_layout, line_layout, paired_layout

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["TEMPLATE_DIR", "html_environment", "render_page"]

TEMPLATE_DIR = "templates"
"""The folder of the ``skloop`` package that holds the templates, partials and stylesheet."""


def fixed(value: float | None, digits: int = 3) -> str:
    """A statistic: ``–`` for missing or non-finite, scientific notation when tiny."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def grouped(value: int) -> str:
    """An integer with thousands separators (``12,345``)."""
    return f"{value:,}"


def coord(value: float) -> str:
    """An SVG coordinate, to a tenth of a pixel."""
    return f"{value:.1f}"


@cache
def html_environment() -> Environment:
    """The shared Jinja2 environment (one per process).

    Returns
    -------
    jinja2.Environment
        Templates from the ``skloop`` package's ``templates`` folder, autoescaped,
        with :class:`jinja2.StrictUndefined`, the filters ``fixed``, ``grouped``
        and ``coord``, and the chart layouts as globals.
    """
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("skloop", TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html", "svg", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fixed=fixed, grouped=grouped, coord=coord)
    env.globals.update(bar_layout=bar_layout, paired_layout=paired_layout, line_layout=line_layout)
    return env


def render_page(template: str, /, **context: Any) -> str:
    """Render one of the templates with ``context``.

    Parameters
    ----------
    template : str
        A name under ``skloop/templates`` (``"model_card.html"``...).
    **context
        The template's variables; every one it uses must be given.

    Returns
    -------
    str
        The document.

    Raises
    ------
    jinja2.UndefinedError
        When the template uses a name that ``context`` does not define.
    """
    return html_environment().get_template(template).render(**context)
