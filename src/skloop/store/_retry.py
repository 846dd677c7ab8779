"""When the database asks for a transaction to be run again, and how long to wait first.

A shared PostgreSQL database sometimes refuses a transaction that would succeed if
run again: a serialization failure (SQLSTATE ``40001``), a deadlock it broke by
aborting one side (``40P01``), a server shut down or restarted under the client
(``57P01`` admin shutdown, ``57P02``, ``57P03`` cannot connect now, and the
connection-exception class ``08xxx``, which psycopg also reports without a code when
the socket drops). SQLite, for its part, says ``database is locked`` once its busy
timeout is spent. :func:`retry_reason` names the case; :class:`RetryPolicy` says how
many times and how long to wait (full-jitter exponential backoff: a uniform draw
below ``base * 2**attempt``, capped), so that the processes a conflict woke together
do not collide again in lockstep.

Whether a retry is *safe* depends on where the error came: an error raised by a
statement leaves the transaction rolled back, so running it again cannot write twice;
a connection lost during ``COMMIT`` leaves the outcome unknown, so only idempotent
work (reads, upserts, ``ON CONFLICT DO NOTHING`` inserts) is run again blindly, and
other work only once PostgreSQL says (``pg_xact_status``) the first try aborted. That
decision is taken by :func:`skloop.store._engine.transact`, the one place transactions
are retried; this module holds the classification, the policy and the counters.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

__all__ = [
    "CONNECTION",
    "DEFAULT_POLICY",
    "RetryPolicy",
    "reset_retry_counts",
    "retry_counts",
    "retry_reason",
]

#: The reason given for a lost or refused connection: safe to retry only before ``COMMIT``
#: or for idempotent work.
CONNECTION = "connection"
_BY_SQLSTATE = {
    "40001": "serialization",
    "40P01": "deadlock",
    "57P01": CONNECTION,  # admin_shutdown: pg_ctl stop/restart -m fast
    "57P02": CONNECTION,  # crash_shutdown
    "57P03": CONNECTION,  # cannot_connect_now: the server is starting or stopping
}

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def _sqlstate(orig: BaseException) -> str | None:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def retry_reason(exc: BaseException) -> str | None:
    """Why the database would accept ``exc``'s transaction if run again, or ``None``.

    Follows ``__cause__`` so that an error already wrapped (a ``StoreError`` raised
    ``from`` a driver error) is recognised too.

    Returns
    -------
    str or None
        ``"serialization"``, ``"deadlock"``, ``"connection"`` or ``"busy"`` (SQLite).
    """
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, DBAPIError):
            orig = err.orig
            state = _sqlstate(orig) if orig is not None else None
            if state is not None:
                if state in _BY_SQLSTATE:
                    return _BY_SQLSTATE[state]
                if state.startswith("08"):
                    return CONNECTION
                return None
            if err.connection_invalidated:
                return CONNECTION
            if isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig):
                return "busy"
            if _is_psycopg_connection_error(orig):
                return CONNECTION
            return None
        err = err.__cause__
    return None


def _is_psycopg_connection_error(orig: BaseException | None) -> bool:
    """psycopg's OperationalError without a SQLSTATE: the server could not be reached."""
    if orig is None or type(orig).__module__.split(".")[0] != "psycopg":
        return False
    return type(orig).__name__ == "OperationalError"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transaction the database refused.

    Parameters
    ----------
    attempts : int
        Tries in all, the first included.
    base : float
        Seconds: the first wait is drawn below ``base``, each next one below twice that.
    cap : float
        Seconds: no wait is drawn above this.
    deadline : float
        Seconds: no new try starts after this long since the first one (a restarted
        server gets this long to come back); with the default ``cap`` this, rather
        than ``attempts``, is what ends a long outage.

    Examples
    --------
    >>> policy = RetryPolicy(attempts=3, base=0.1, cap=1.0)
    >>> 0 <= policy.wait(2) <= 0.4
    True
    """

    attempts: int = 100
    base: float = 0.02
    cap: float = 2.0
    deadline: float = 60.0

    def wait(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to sleep before try ``attempt + 1`` (``attempt`` counts from 0)."""
        bound = min(self.cap, self.base * 2.0**attempt)
        return (rng or random).uniform(0.0, bound)


DEFAULT_POLICY = RetryPolicy()
"""The policy of every store transaction."""


def count_retry(reason: str) -> None:
    """Record one retry for ``reason`` (see :func:`retry_counts`)."""
    with _lock:
        _counts[reason] += 1


def retry_counts() -> dict[str, int]:
    """Retries this process has made so far, by reason (for tests, figures and ``/metrics``)."""
    with _lock:
        return dict(_counts)


def reset_retry_counts() -> None:
    """Start the counts of :func:`retry_counts` again from zero."""
    with _lock:
        _counts.clear()
