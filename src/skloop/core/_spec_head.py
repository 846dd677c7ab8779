"""The spec's ``name`` and ``tracking.mlflow_uri``, read without building the whole spec.

``skloop runs`` and the other commands that only need to know which project (and which
MLflow mirror) they are about would otherwise pay for pydantic and every spec model
(~40 ms of a 0.5 s command) to read one string. :func:`load_spec_head` reads the YAML
with the full spec's loader (:mod:`skloop.core._spec_yaml`) and checks only those two
keys, with the same patterns as the full spec (:mod:`skloop.core._names`).

The loader is PyYAML's pure-Python safe loader, as for the full spec. libyaml's
``CSafeLoader`` would take 0.2 ms instead of 1.2 ms on the example spec, but it accepts
documents PyYAML refuses (``name:<TAB>churn``): a spec that every other command calls
invalid YAML would then still list its runs.

Whenever it is in doubt it hands over to :func:`~skloop.core.load_spec`, so that a bad
spec gets the same error as from any other command: the file cannot be read, is not
valid YAML (or refused by the loader) or not a mapping; a top-level key is unknown
(``trackng``: the mirror must not be dropped silently); ``name`` is missing, not a
string or not a valid name; ``tracking`` is not a mapping of ``mlflow_uri`` alone; the
URI is not one. What it does not check is the rest of the spec: a command that reads
only the name works while another section is being edited (``skloop train`` still
reports it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from skloop.core._names import PROJECT_NAME, SPEC_FILENAME, SPEC_KEYS, TRACKING_URI
from skloop.core._spec_yaml import compose

__all__ = ["SpecHead", "load_spec_head", "parse_spec_head"]


@dataclass(frozen=True)
class SpecHead:
    """What a command needs from the spec to find its records.

    Attributes
    ----------
    name : str
        The project's name (the spec's ``name``).
    mlflow_uri : str or None
        The spec's ``tracking.mlflow_uri`` (stripped), or None.
    """

    name: str
    mlflow_uri: str | None = None


def parse_spec_head(text: str) -> SpecHead | None:
    """The name and tracking URI of spec text, or None when only the full spec can tell.

    The whole document is read by the full spec's YAML loader (so a YAML error, a key
    given twice or an alias bomb anywhere is the full spec's to report), but only
    ``name`` and ``tracking`` are checked.

    Examples
    --------
    >>> parse_spec_head("name: churn\\ndata: {train: t.csv, target: y}\\n")
    SpecHead(name='churn', mlflow_uri=None)
    >>> parse_spec_head("name: churn\\ntracking: {mlflow_uri: ' http://127.0.0.1:5000 '}\\n").mlflow_uri
    'http://127.0.0.1:5000'
    >>> parse_spec_head("name: churn\\nname: again\\n") is None  # given twice: the full spec's error
    True
    >>> parse_spec_head("name: 12\\n") is None  # not a string
    True
    """
    try:
        _, data = compose(text)
    except Exception:  # any failure at all is a doubt: the full spec says what it is
        return None
    if not isinstance(data, dict) or not SPEC_KEYS.issuperset(data):
        return None  # not a mapping, or a key unknown (a typo of 'tracking'?): the full spec's error
    name = data.get("name")
    if not isinstance(name, str) or not PROJECT_NAME.match(name):
        return None
    tracking = data.get("tracking", {})
    if not isinstance(tracking, dict) or set(tracking) - {"mlflow_uri"}:
        return None
    uri = tracking.get("mlflow_uri")
    if uri is not None:
        if not isinstance(uri, str) or not TRACKING_URI.match(uri.strip()):
            return None
        uri = uri.strip()
    return SpecHead(name=name, mlflow_uri=uri)


def load_spec_head(path: str | os.PathLike[str]) -> SpecHead:
    """The project's name and tracking URI from a ``skloop.yaml`` (or the folder holding one).

    Reads only those keys when they are plainly valid, else validates the whole spec
    with :func:`~skloop.core.load_spec` (whose :class:`~skloop.core.SpecError` names
    the file, line and key).

    Raises
    ------
    SpecError
        When the file is missing or unreadable, or the spec is not valid where the
        name or the tracking URI could come from.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "skloop.yaml").write_text("name: churn\\ndata: {train: t.csv, target: y}\\n")
    >>> load_spec_head(d).name
    'churn'
    """
    p = Path(path)
    if p.is_dir():
        p = p / SPEC_FILENAME
    try:
        head = parse_spec_head(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        head = None  # load_spec says what is wrong with the file
    if head is not None:
        return head
    from skloop.core._spec_loader import load_spec

    spec = load_spec(p)
    return SpecHead(name=spec.name, mlflow_uri=spec.tracking.mlflow_uri)
