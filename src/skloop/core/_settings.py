"""Settings: one frozen object built from ``SKLOOP_*`` variables, then the spec."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skloop.core._errors import UsageError

__all__ = [
    "DEFAULT_ARTIFACT_DIR",
    "DEFAULT_HOME",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Settings",
]

DEFAULT_HOME = ".skloop"
DEFAULT_ARTIFACT_DIR = "artifacts"
DEFAULT_DB_NAME = "skloop.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _flag(env: Mapping[str, str], key: str) -> bool:
    text = env.get(key, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"environment variable {key}={env[key]!r} is not a yes/no value; use 1 or 0 (or true/false)")


def _json_object(env: Mapping[str, str], key: str) -> dict[str, Any] | None:
    text = env.get(key, "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"environment variable {key} is not valid JSON ({exc.msg} at character {exc.pos}); "
            'give a JSON object, e.g. {"endpoint_url": "http://127.0.0.1:9000"}'
        ) from exc
    if not isinstance(value, dict):
        raise UsageError(
            f"environment variable {key} must be a JSON object of fsspec storage options, given a "
            f'{type(value).__name__}; e.g. {{"endpoint_url": "http://127.0.0.1:9000"}}'
        )
    return value


@dataclass(frozen=True)
class Settings:
    """Where skloop keeps its records and how it serves.

    Parameters
    ----------
    store_url : str
        SQLAlchemy URL of the metadata store. Default ``sqlite:///<base>/.skloop/skloop.db``.
    artifact_root : str
        fsspec URL or local path of the content-addressed artifact store.
    host, port : str, int
        Where ``skloop serve`` listens.
    token : str or None
        Bearer token for admin endpoints.
    base_dir : Path
        The project directory that relative paths are resolved against.
    dask_scheduler : str or None
        Address of a ``dask.distributed`` scheduler (``SKLOOP_DASK_SCHEDULER=tcp://host:8786``):
        searches run their fits there (as ``search.backend: dask`` asks), and
        ``skloop predict`` / ``skloop monitor`` on Parquet run partition by partition there
        when given ``--dask``. Needs the ``dask`` extra.
    artifact_options : dict or None
        fsspec storage options of the artifact root (``SKLOOP_ARTIFACT_OPTIONS``, a JSON
        object), e.g. ``{"endpoint_url": "http://127.0.0.1:9000"}`` for an S3-compatible
        server. Credentials are better left to the file system's own variables
        (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...); these options are never shown
        by :func:`repr` nor recorded with a run.
    mlflow_uri : str or None
        An MLflow tracking server to mirror every run, registered version and alias
        move to (``SKLOOP_MLFLOW_URI``; the spec's ``tracking.mlflow_uri`` when unset),
        in the background through the store's outbox. Needs the ``mlflow`` extra.
    trust : bool
        Load joblib/pickle model artifacts, whose unpickling runs any code they hold
        (``SKLOOP_TRUST=1``; what ``--trust`` says for one command). Only the caller
        decides this: nothing recorded with a model does.
    """

    store_url: str
    artifact_root: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    base_dir: Path = Path(".")
    trust: bool = False
    dask_scheduler: str | None = None
    mlflow_uri: str | None = None
    artifact_options: Mapping[str, Any] | None = field(default=None, repr=False, hash=False)

    @classmethod
    def from_env(cls, base_dir: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``SKLOOP_*`` variables, defaulting under ``base_dir``.

        Examples
        --------
        >>> s = Settings.from_env("/tmp/proj", env={})
        >>> s.store_url
        'sqlite:////tmp/proj/.skloop/skloop.db'
        >>> Settings.from_env("/tmp/proj", env={"SKLOOP_PORT": "9000"}).port
        9000
        >>> Settings.from_env("/tmp/proj", env={"SKLOOP_TRUST": "1"}).trust
        True
        >>> Settings.from_env("/tmp/proj", env={"SKLOOP_DASK_SCHEDULER": "tcp://10.0.0.5:8786"}).dask_scheduler
        'tcp://10.0.0.5:8786'
        """
        env = os.environ if env is None else env
        base = Path(base_dir).resolve()
        home = base / DEFAULT_HOME
        return cls(
            store_url=env.get("SKLOOP_STORE_URL") or f"sqlite:///{home / DEFAULT_DB_NAME}",
            artifact_root=env.get("SKLOOP_ARTIFACT_ROOT") or str(home / DEFAULT_ARTIFACT_DIR),
            host=env.get("SKLOOP_HOST") or DEFAULT_HOST,
            port=int(env.get("SKLOOP_PORT") or DEFAULT_PORT),
            token=env.get("SKLOOP_TOKEN") or None,
            base_dir=base,
            trust=_flag(env, "SKLOOP_TRUST"),
            dask_scheduler=env.get("SKLOOP_DASK_SCHEDULER", "").strip() or None,
            mlflow_uri=env.get("SKLOOP_MLFLOW_URI", "").strip() or None,
            artifact_options=_json_object(env, "SKLOOP_ARTIFACT_OPTIONS"),
        )

    def with_spec(self, spec: Any) -> Settings:
        """These settings completed by the spec: its ``tracking.mlflow_uri`` unless ``SKLOOP_MLFLOW_URI`` set one."""
        uri = getattr(getattr(spec, "tracking", None), "mlflow_uri", None)
        return self if self.mlflow_uri or not uri else replace(self, mlflow_uri=uri)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        # mypy cannot tell which field each value of **changes names, so it checks every value
        # against every field's type; the callers pass each option to its own field
        return replace(self, **given)  # type: ignore[arg-type]
