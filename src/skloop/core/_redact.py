"""Hiding the secrets of a URL before it is shown, logged or recorded.

A database or object-store URL may carry a password in two places: the userinfo
(``user:password@host``, the password possibly empty-user ``:password@`` or holding an
unencoded ``@``) and the query (``?password=...``, ``sslpassword``, an access key or a
token). :func:`redact_url` masks both, and is the one function every layer uses (the
store's messages, the data readers, the run records).
"""

from __future__ import annotations

import re

__all__ = ["SECRET_QUERY_KEYS", "redact_url"]

#: Query parameters whose values are masked (matched as substrings of the lower-cased key).
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token", "credential", "access_key", "api_key", "apikey")
_MASK = "***"
_LOOSE_USERINFO = re.compile(r"([^:/@\s]*):[^@\s]*@")
_QUERY_PAIR = re.compile(r"(?P<key>[^&=;#]+)=(?P<value>[^&;#]*)")


def _mask_query(query: str) -> str:
    def mask(match: re.Match[str]) -> str:
        key = match.group("key")
        secret = any(word in key.lower() for word in SECRET_QUERY_KEYS)
        return f"{key}={_MASK}" if secret and match.group("value") else match.group(0)

    return _QUERY_PAIR.sub(mask, query)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``.

    Examples
    --------
    >>> redact_url("postgresql+psycopg://ana:s3cret@db:5432/sales")
    'postgresql+psycopg://ana:***@db:5432/sales'
    >>> redact_url("postgresql://db/sales?user=ana&password=s3cret")
    'postgresql://db/sales?user=ana&password=***'
    >>> redact_url("sqlite:///data.db")
    'sqlite:///data.db'
    """
    text = str(url)
    scheme_end = text.find("://")
    if scheme_end < 0:  # not a URL (a mistyped one, say): mask anything shaped like user:password@
        return _LOOSE_USERINFO.sub(rf"\1:{_MASK}@", text)
    start = scheme_end + 3
    query_at = text.find("?", start)
    end = len(text) if query_at < 0 else query_at
    head, query = text[:end], text[end:]
    at = head.rfind("@", start)  # the last @ ends the userinfo: a password may hold an unencoded @
    if at >= 0:
        userinfo = head[start:at]
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            head = f"{head[:start]}{user}:{_MASK}{head[at:]}"
    return head + _mask_query(query)
