"""Export a model version as a Docker build context that serves it with ``skloop serve``.

The context holds:

- ``model/``: the version's bundle (:mod:`skloop.registry._bundle`: the artifact as
  stored, its SHA-256 and run) and ``model/SHA256SUMS``, checked by ``sha256sum`` when
  the image is built (and the artifact again by skloop at every load);
- ``requirements.txt``: the skloop requirement, then every package the training run
  recorded in its environment, pinned to the recorded version (scikit-learn, numpy,
  scipy, pandas, ...: what can change the model's numbers);
- ``wheels/``: the skloop wheel, when ``package`` is a local ``.whl`` file;
- ``Dockerfile``: ``python:X.Y-slim`` of the run's Python, the requirements, a system
  user (uid 10001) the server runs as, ``EXPOSE``, a ``HEALTHCHECK`` on ``/health`` and
  ``skloop serve NAME --version N --bundle model`` as the command.

No secret is written: the store URL and the token are the container's environment at
run time (``SKLOOP_STORE_URL``, ``SKLOOP_ARTIFACT_ROOT``, ``SKLOOP_TOKEN``); without
them the container keeps a SQLite store of its own under its working folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skloop.core import ExportError
from skloop.registry._bundle import Bundle, write_bundle

if TYPE_CHECKING:
    from skloop.registry._registry import Registry

logger = logging.getLogger(__name__)

__all__ = [
    "DOCKER_PORT",
    "DOCKER_UID",
    "DOCKER_WORKDIR",
    "DockerContext",
    "docker_requirements",
    "export_docker",
    "image_name",
]

DOCKER_WORKDIR = "/srv/skloop"
"""The image's working folder: the bundle, the default store and the prediction log are under it."""

DOCKER_PORT = 8080
"""The port the server listens on in the container (``SKLOOP_PORT``)."""

DOCKER_UID = 10001
"""The uid (and gid) of the system user the server runs as."""

_BUNDLE_DIR = "model"
_SUMS = "SHA256SUMS"
_HEALTH = (
    "import os, sys, urllib.request; "
    "url = 'http://127.0.0.1:' + os.environ.get('SKLOOP_PORT', '8080') + '/health'; "
    "sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"
)


@dataclass(frozen=True)
class DockerContext:
    """What :func:`export_docker` wrote.

    Attributes
    ----------
    path : Path
        The build context (``docker build -t TAG PATH``).
    bundle : Bundle
        The version inside it (``model/``).
    requirements : tuple of str
        The lines of ``requirements.txt`` that are requirements.
    base_image : str
    command : tuple of str
        The image's ``CMD``, run in :data:`DOCKER_WORKDIR`.
    tag : str
        A suggested image tag, ``skloop-NAME:VERSION``.
    """

    path: Path
    bundle: Bundle
    requirements: tuple[str, ...]
    base_image: str
    command: tuple[str, ...]
    tag: str


def image_name(model: str) -> str:
    """A Docker repository (and Kubernetes) name for ``model``: lower case, ``[a-z0-9-]``.

    Examples
    --------
    >>> image_name("Churn_Model v2")
    'churn-model-v2'
    """
    name = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    return name[:50].rstrip("-") or "model"


def _python_minor(environment: dict[str, Any]) -> str:
    recorded = str(environment.get("python") or "")
    parts = recorded.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def docker_requirements(environment: dict[str, Any], package: str) -> list[str]:
    """``package`` (the skloop requirement), then the recorded packages pinned (``name==version``).

    Packages recorded as not installed (``None``) are left out, and so is skloop's own
    pin (``package`` says how to install skloop).

    Examples
    --------
    >>> docker_requirements({"packages": {"skloop": "0.1.0", "numpy": "2.3.1", "shap": None}}, "skloop==0.1.0")
    ['skloop==0.1.0', 'numpy==2.3.1']
    """
    packages = environment.get("packages") or {}
    if not isinstance(packages, dict):
        raise ExportError(f"the run's environment key 'packages' is a {type(packages).__name__}, not a mapping")
    pins = [f"{name}=={version}" for name, version in packages.items() if version and name != "skloop"]
    return [package, *pins]


def _skloop_requirement(package: str | None, environment: dict[str, Any], out: Path) -> tuple[str, str | None]:
    """The requirement line installing skloop, and the wheel file copied into ``wheels/`` if any."""
    if package is None:
        recorded = (environment.get("packages") or {}).get("skloop")
        return (f"skloop=={recorded}" if recorded else "skloop"), None
    wheel = Path(package)
    if package.endswith(".whl"):
        if not wheel.is_file():
            raise ExportError(
                f"--package {package} ends in .whl but is not a file; give a wheel's path or a requirement"
            )
        (out / "wheels").mkdir()
        shutil.copy2(wheel, out / "wheels" / wheel.name)
        return f"./wheels/{wheel.name}", wheel.name
    return package, None


def _dockerfile(
    bundle: Bundle, *, ref: str, base_image: str, command: tuple[str, ...], wheel: str | None, port: int
) -> str:
    name, version, sha = bundle.name, bundle.version, bundle.artifact_sha256
    tag = f"skloop-{image_name(name)}:{version}"
    labels = {
        "org.opencontainers.image.title": f"skloop-{name}",
        "org.opencontainers.image.version": str(version),
        "org.opencontainers.image.description": f"skloop serve {name}/{version}",
        "io.skloop.model": name,
        "io.skloop.version": str(version),
        "io.skloop.artifact-sha256": sha,
    }
    label_lines = " \\\n      ".join(f"{key}={json.dumps(value)}" for key, value in labels.items())
    wheels = "COPY wheels/ ./wheels/\n" if wheel else ""
    return f"""\
# Serves {name}/{version} with skloop serve; written by skloop export {ref} --format docker.
# Artifact {_BUNDLE_DIR}/{bundle.artifact_file}, SHA-256 {sha}
# (checked when the image is built, and by skloop whenever it loads the model).
#   docker build -t {tag} .
#   docker run --rm -p {port}:{port} {tag}
# Settings are the container's environment, never baked in: SKLOOP_STORE_URL and
# SKLOOP_ARTIFACT_ROOT (default: a SQLite store under {DOCKER_WORKDIR}/.skloop), SKLOOP_TOKEN.
FROM {base_image}

LABEL {label_lines}

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    SKLOOP_HOST=0.0.0.0 \\
    SKLOOP_PORT={port}

WORKDIR {DOCKER_WORKDIR}

COPY requirements.txt ./
{wheels}RUN pip install --no-cache-dir -r requirements.txt \\
    && groupadd --system --gid {DOCKER_UID} skloop \\
    && useradd --system --uid {DOCKER_UID} --gid {DOCKER_UID} --no-create-home --home-dir {DOCKER_WORKDIR} skloop \\
    && chown {DOCKER_UID}:{DOCKER_UID} {DOCKER_WORKDIR}

COPY --chown={DOCKER_UID}:{DOCKER_UID} {_BUNDLE_DIR}/ ./{_BUNDLE_DIR}/
RUN sha256sum --check --strict {_BUNDLE_DIR}/{_SUMS}

USER {DOCKER_UID}:{DOCKER_UID}
EXPOSE {port}
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \\
    CMD {json.dumps(["python", "-c", _HEALTH])}
CMD {json.dumps(list(command))}
"""


def export_docker(
    registry: Registry,
    ref: str,
    out_dir: str | os.PathLike[str],
    *,
    package: str | None = None,
    base_image: str | None = None,
    port: int = DOCKER_PORT,
) -> DockerContext:
    """Write a Docker build context serving model version ``ref`` with ``skloop serve``.

    Parameters
    ----------
    registry : Registry
        Where the version is.
    ref : str
        ``name@alias`` or ``name/version``; an alias is resolved now, and the image
        serves that version, pinned.
    out_dir : str or os.PathLike
        The context folder to create (it must not exist, or be empty).
    package : str, optional
        How pip installs skloop in the image: a requirement (``"skloop[onnx]==0.1.0"``,
        a VCS URL) or a local ``.whl`` file, copied into the context. Default:
        ``skloop==`` the version the run recorded.
    base_image : str, optional
        Default ``python:X.Y-slim``, X.Y the Python the run recorded.
    port : int, default=8080

    Returns
    -------
    DockerContext

    Raises
    ------
    ExportError
        ``out_dir`` exists and is not empty, or ``package`` names a missing wheel.
    ModelNotFoundError
        ``ref`` names no version.

    Examples
    --------
    >>> ctx = export_docker(Registry(store), "churn@champion", "churn-image")  # doctest: +SKIP
    >>> ctx.tag, ctx.command[:4]  # doctest: +SKIP
    ('skloop-churn:3', ('skloop', 'serve', 'churn', '--version'))
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty directory; choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    try:
        bundle = write_bundle(registry, ref, out / _BUNDLE_DIR)
        requirement, wheel = _skloop_requirement(package, bundle.environment, out)
        requirements = docker_requirements(bundle.environment, requirement)
        image = base_image or f"python:{_python_minor(bundle.environment)}-slim"
        command = ("skloop", "serve", bundle.name, "--version", str(bundle.version), "--bundle", _BUNDLE_DIR)
        run_id = bundle.record["run"]["id"]
        python = bundle.environment.get("python", "unknown")
        header = [
            f"# skloop {bundle.ref}: the skloop requirement, then the packages run {run_id} recorded",
            f"# (Python {python}), pinned to the versions the model was trained with.",
        ]
        (out / "requirements.txt").write_text("\n".join([*header, *requirements]) + "\n", encoding="utf-8")
        sums = f"{bundle.artifact_sha256}  {_BUNDLE_DIR}/{bundle.artifact_file}\n"
        (out / _BUNDLE_DIR / _SUMS).write_text(sums, encoding="utf-8")
        (out / ".dockerignore").write_text(".skloop\n**/__pycache__\n", encoding="utf-8")
        dockerfile = _dockerfile(bundle, ref=ref, base_image=image, command=command, wheel=wheel, port=port)
        (out / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    logger.info("wrote the Docker context of %s to %s", bundle.ref, out)
    return DockerContext(
        out, bundle, tuple(requirements), image, command, f"skloop-{image_name(bundle.name)}:{bundle.version}"
    )
