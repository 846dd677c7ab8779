"""The web UI (``skloop ui``): runs, comparisons, single runs and models in a browser.

Server-rendered pages (the shared Jinja2 templates, ``templates/ui``) on Starlette,
with the vendored htmx for partial updates and uPlot for charts (``static/``). Every
store read and registry write goes through :mod:`skloop.ui._queries`.
"""

from skloop.ui._app import STATIC_DIR, create_app

__all__ = ["STATIC_DIR", "create_app"]
