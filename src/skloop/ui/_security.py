"""Guards on the UI's writes: a CSRF token on every form, and the admin token.

The UI is read-only except for the alias forms (promote, rollback). Those POSTs must
carry

- a CSRF token: a random nonce signed with the app's secret (HMAC-SHA-256), set in a
  ``SameSite=Strict`` cookie when a page with a form is shown and repeated in the
  form's hidden field; a POST whose field and cookie differ, or whose signature is
  wrong, is refused. Another site can make a browser send the cookie but can neither
  read it nor forge a signed one, so it cannot fill in the field;
- when ``SKLOOP_TOKEN`` is set, that token (a form field or ``Authorization: Bearer``),
  compared in constant time, as the server's admin endpoints require.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from skloop.core import CsrfError, TokenError

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CsrfError", "TokenError", "check_csrf", "check_token", "new_csrf_token"]

CSRF_COOKIE = "skloop_csrf"
CSRF_FIELD = "csrf_token"


def _sign(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, nonce.encode("ascii"), hashlib.sha256).hexdigest()


def new_csrf_token(secret: bytes) -> str:
    """A fresh ``nonce.signature`` token."""
    nonce = secrets.token_hex(16)
    return f"{nonce}.{_sign(secret, nonce)}"


def valid_csrf_token(secret: bytes, token: str | None) -> bool:
    """Whether ``token`` was made by :func:`new_csrf_token` with this secret."""
    if not token or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    if not nonce.isascii() or not nonce.isalnum():
        return False
    return hmac.compare_digest(signature, _sign(secret, nonce))


def check_csrf(secret: bytes, cookie: str | None, field: str | None) -> None:
    """Refuse a form whose CSRF field is missing, unsigned or not the cookie's value.

    Raises
    ------
    CsrfError
        Naming what was wrong and what to do (reload the page).
    """
    if not field:
        raise CsrfError(f"the form was sent without its {CSRF_FIELD} field; reload the page and submit it again")
    if not cookie or not hmac.compare_digest(cookie, field) or not valid_csrf_token(secret, field):
        raise CsrfError(
            "the form's CSRF token does not match this browser's (the page is stale or was not served "
            "by this skloop ui); reload the page and submit it again"
        )


def check_token(expected: str | None, given: str | None) -> None:
    """Refuse a write without the admin token, when one is configured.

    Raises
    ------
    TokenError
        When ``expected`` is set and ``given`` differs.
    """
    if expected is None:
        return
    if not given:
        raise TokenError("this skloop ui requires the admin token (SKLOOP_TOKEN) for changes; enter it in the form")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise TokenError("the admin token is wrong; enter the value of SKLOOP_TOKEN the UI was started with")
