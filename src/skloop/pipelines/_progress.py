"""Progress of a search, reported from scikit-learn's callback API.

scikit-learn 1.9 runs a callback's hooks inside the joblib workers and ships their
messages back to the main process over a local socket (``sklearn.callback._transport``,
the same path its own ``ProgressBar`` uses). :class:`SearchProgress` forwards one tick
per finished (candidate, fold) fit to a plain ``advance(n)`` function, so the CLI can
draw a rich bar without the pipelines layer knowing about rich.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["SearchProgress", "attach_progress"]

_FOLD_TASK = "candidate-split-evaluation"


class SearchProgress:
    """A scikit-learn fit callback counting finished (candidate, fold) fits.

    Parameters
    ----------
    advance : callable
        Called as ``advance(1)`` in the main process after each fit; must be thread-safe.
    """

    def __init__(self, advance: Callable[[int], None]) -> None:
        self.advance = advance
        self._handle: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # workers only need the handle; the advance function stays in the main process
        return {"advance": None, "_handle": self._handle}

    def setup(self, estimator: Any, context: Any) -> None:
        from sklearn.callback._transport import open_listener

        if self._handle is None and self.advance is not None:
            self._handle = open_listener(self._consume)

    def _consume(self, message: Any) -> None:
        if self.advance is not None:
            self.advance(int(message))

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        return None

    def on_fit_task_end(self, estimator: Any, context: Any) -> bool:
        if context.task_name == _FOLD_TASK and self._handle is not None:
            from sklearn.callback._transport import send

            send(self._handle, 1)
        return False

    def teardown(self, estimator: Any, context: Any) -> None:
        from sklearn.callback._transport import close_listener

        if self._handle is not None and self.advance is not None:
            close_listener(self._handle)
            self._handle = None


def attach_progress(search: Any, advance: Callable[[int], None] | None) -> bool:
    """Attach a :class:`SearchProgress` to ``search`` when this scikit-learn supports it.

    Returns whether progress will be reported.
    """
    if advance is None or not hasattr(search, "set_callbacks"):
        return False
    try:
        search.set_callbacks(SearchProgress(advance))
    except (TypeError, ValueError, ImportError) as exc:  # an older or changed callback API
        logger.debug("search progress unavailable: %s", exc)
        return False
    return True
