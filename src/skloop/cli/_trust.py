"""The trust options every model-loading command takes, and the one place that reads them.

``--trust`` allows joblib/pickle models (``SKLOOP_TRUST=1`` says the same for every
command); ``--trust-type`` (repeatable) adds a dotted type the skops loader may
instantiate, on top of the project's ``registry.trusted_types``. The refusals of the
loader name exactly these options, so each command that loads a model has both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skloop.cli._app import _settings_near
from skloop.core import SPEC_FILENAME

if TYPE_CHECKING:
    from skloop.registry import Trust

__all__ = ["TrustOpt", "TrustTypeOpt", "caller_trust"]

TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust", help="Load joblib/pickle models, which runs any code they hold (only for sources you trust)."
    ),
]
TrustTypeOpt = Annotated[
    list[str] | None,
    typer.Option("--trust-type", help="A dotted type the skops loader may instantiate (repeatable)."),
]


def caller_trust(spec: Path, trust: bool, trust_type: list[str] | None) -> Trust:
    """What the person running the command trusts: the flags, ``SKLOOP_TRUST``, and the project's spec.

    The spec is read when it exists (``registry.trusted_types``); commands that do not
    otherwise need one still run without it.
    """
    from skloop.core import load_spec
    from skloop.registry import Trust

    path = spec / SPEC_FILENAME if spec.is_dir() else spec
    project = load_spec(path) if path.is_file() else None
    return Trust.of(_settings_near(spec), project, pickle=trust, types=trust_type or ())
