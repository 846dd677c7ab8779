"""What every page handler needs: the store, the guards' settings, and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from skloop.core import render_page
from skloop.store import Store
from skloop.ui._security import CSRF_COOKIE, new_csrf_token, valid_csrf_token

__all__ = ["UIContext", "context_of", "render"]

STATIC_PREFIX = "/static/"


@dataclass(frozen=True)
class UIContext:
    """The app's state: the store it reads, the admin token, the CSRF secret, the default project.

    Parameters
    ----------
    store : Store
        Read by every page (through :mod:`skloop.ui._queries`).
    token : str or None
        ``SKLOOP_TOKEN``: when set, alias changes need it.
    secret : bytes
        Signs the CSRF tokens (random per process unless given).
    project : str or None
        The spec's project, which ``/`` opens.
    actor : str
        Recorded as who moved an alias.
    server : str or None
        A model server (``skloop ui --server URL``) whose ``/metrics`` the serving page reads.
    """

    store: Store
    token: str | None
    secret: bytes = field(repr=False)
    project: str | None
    actor: str
    server: str | None = None


def context_of(request: Request) -> UIContext:
    """The :class:`UIContext` of the app serving ``request``."""
    ctx: UIContext = request.app.state.ui
    return ctx


def static_url(name: str) -> str:
    """The URL of a vendored or own static file."""
    return STATIC_PREFIX + name


def render(request: Request, template: str, *, status_code: int = 200, title: str, **context: Any) -> HTMLResponse:
    """A page (or a partial: any template under ``templates/ui``) as an HTML response.

    Every page gets a CSRF token (``csrf_token``), reused from the browser's cookie when
    that one is valid so that two open tabs both work, else a new one set in the cookie.
    """
    ctx = context_of(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    csrf = cookie if cookie and valid_csrf_token(ctx.secret, cookie) else new_csrf_token(ctx.secret)
    html = render_page(
        f"ui/{template}",
        title=f"{title} · skloop",
        static=static_url,
        csrf_token=csrf,
        token_required=ctx.token is not None,
        current_path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request, HX-Target"})
    if csrf != cookie:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
    return response
