"""Where a project's prediction log lives."""

from __future__ import annotations

from pathlib import Path

from skloop.core import DEFAULT_HOME, Settings

__all__ = ["LOG_DIR_NAME", "default_log_dir"]

LOG_DIR_NAME = "predictions"
"""The prediction log's folder, under the project's ``.skloop`` folder."""


def default_log_dir(settings: Settings) -> Path:
    """The prediction log folder of a project: ``<base_dir>/.skloop/predictions``.

    The server and ``skloop predict --log`` write there; ``skloop logs ingest`` reads it.

    Examples
    --------
    >>> default_log_dir(Settings.from_env("/tmp/proj", env={})).as_posix()
    '/tmp/proj/.skloop/predictions'
    """
    return Path(settings.base_dir) / DEFAULT_HOME / LOG_DIR_NAME
