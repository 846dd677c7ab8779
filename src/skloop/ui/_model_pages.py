"""Models: names, versions with aliases and status, alias history; promote and rollback forms.

The forms POST to the same :class:`~skloop.registry.Registry` methods as ``skloop
promote`` and ``skloop rollback`` (through :mod:`skloop.ui._queries`), so the alias
history records the same who and why whichever way a version was moved.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from skloop.core import GateError, NotFoundError, RegistryError, UsageError
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._runs_pages import when
from skloop.ui._security import CSRF_COOKIE, CSRF_FIELD, CsrfError, TokenError, check_csrf, check_token

__all__ = ["card_page", "model_page", "models_page", "promote_action", "rollback_action"]

MAX_REASON_CHARS = 4096
"""Longest reason kept in the alias history (as for ``skloop promote --reason``)."""
MAX_ALIAS_CHARS = 100
MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def key_metrics(metrics: dict[str, float], n: int = 3) -> list[tuple[str, float]]:
    """The metrics a models table shows: holdout scores, then CV means."""
    keys = [k for k in sorted(metrics) if k.startswith("holdout_")] + [
        k for k in sorted(metrics) if k.startswith("cv_") and k.endswith("_mean")
    ]
    return [(k, metrics[k]) for k in keys[:n]]


def model_url(name: str) -> str:
    """The page of model ``name``."""
    return f"/models/{quote(name, safe='')}"


async def models_page(request: Request) -> Response:
    """``/models``: every model, its latest version, aliases and key metrics."""
    ctx = context_of(request)
    models = q.list_models(ctx.store)
    return render(
        request, "models.html", title="Models", models=models, key_metrics=key_metrics, when=when,
        model_url=model_url, project=ctx.project,
    )  # fmt: skip


async def _model_view(
    request: Request, name: str, *, status_code: int = 200, error: str | None = None, form: dict[str, str] | None = None
) -> HTMLResponse:
    ctx = context_of(request)
    versions = q.list_versions(ctx.store, name)
    history = q.alias_history(ctx.store, name)
    aliases = sorted({a for v in versions for a in v.aliases})
    return render(
        request, "model.html", status_code=status_code, title=f"Model {name}", name=name,
        versions=list(reversed(versions)), history=list(reversed(history)), aliases=aliases, error=error,
        form=form or {}, moved=request.query_params.get("moved"), key_metrics=key_metrics, when=when,
        model_url=model_url, project=ctx.project, csrf_field=CSRF_FIELD,
    )  # fmt: skip


async def model_page(request: Request) -> Response:
    """``/models/{name}``: versions (newest first), aliases, history, and the alias forms."""
    return await _model_view(request, request.path_params["name"])


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise UsageError("give a reason: it is kept in the alias history with who moved the alias")
    if len(reason) > MAX_REASON_CHARS:
        raise UsageError(f"the reason is {len(reason):,} characters long; the limit is {MAX_REASON_CHARS:,}")
    return reason


async def _form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (what the alias forms send), the first value of each.

    Parsed here rather than with ``request.form()``, which needs python-multipart for
    a format these forms never use; the body is bounded before it is read whole.
    """
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != FORM_TYPE:
        raise UsageError(f"the form must be sent as {FORM_TYPE}, given {kind or 'no content type'!r}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise UsageError(f"the form is larger than {MAX_FORM_BYTES:,} bytes; shorten the reason")
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


def _check_guards(request: Request, fields: dict[str, str]) -> None:
    """The CSRF and admin-token checks of a write (which raise)."""
    ctx = context_of(request)
    check_csrf(ctx.secret, request.cookies.get(CSRF_COOKIE), fields.get(CSRF_FIELD))
    bearer = request.headers.get("authorization", "")
    given = bearer[7:] if bearer.lower().startswith("bearer ") else fields.get("token")
    check_token(ctx.token, given)


async def _act(request: Request, action: str) -> Response:
    ctx = context_of(request)
    name = request.path_params["name"]
    fields: dict[str, str] = {}
    try:
        fields = await _form(request)
        _check_guards(request, fields)
        alias = fields.get("alias", "").strip() or "champion"
        if len(alias) > MAX_ALIAS_CHARS:
            raise UsageError(f"an alias has at most {MAX_ALIAS_CHARS} characters, given {len(alias):,}")
        reason = _reason(fields.get("reason", ""))
        actor = f"{ctx.actor} via skloop ui"
        if action == "promote":
            try:
                version = int(fields.get("version", ""))
            except ValueError:
                raise UsageError(f"version must be a number, given {fields.get('version')!r}") from None
            event = q.promote(ctx.store, name, version, alias, reason=reason, actor=actor, force="force" in fields)
        else:
            event = q.rollback(ctx.store, name, alias, reason=reason, actor=actor)
    except (CsrfError, TokenError, GateError, UsageError) as exc:
        status = 403 if isinstance(exc, CsrfError) else 401 if isinstance(exc, TokenError) else 409
        status = 400 if type(exc) is UsageError else status
        return await _model_view(request, name, status_code=status, error=str(exc), form=fields)
    except RegistryError as exc:  # e.g. no earlier holder to roll back to
        if isinstance(exc, LookupError):
            raise
        return await _model_view(request, name, status_code=409, error=str(exc), form=fields)
    moved = f"{event.alias}: v{event.from_version or '–'} → v{event.to_version}"
    return RedirectResponse(f"{model_url(name)}?{urlencode({'moved': moved})}", status_code=303)


async def promote_action(request: Request) -> Response:
    """POST ``/models/{name}/promote``: point an alias at a version (CSRF, token, reason)."""
    return await _act(request, "promote")


async def rollback_action(request: Request) -> Response:
    """POST ``/models/{name}/rollback``: move an alias back to its previous holder."""
    return await _act(request, "rollback")


async def card_page(request: Request) -> Response:
    """``/models/{name}/{version}/card``: the model card, as ``skloop card --html`` writes it."""
    ctx = context_of(request)
    try:
        version = int(request.path_params["version"])
    except ValueError:
        raise NotFoundError(f"version {request.path_params['version']!r} is not a number") from None
    return HTMLResponse(q.card_html(ctx.store, request.path_params["name"], version))
