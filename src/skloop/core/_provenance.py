"""Where a result came from: the code version and the software environment."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["TRACKED_PACKAGES", "CodeVersion", "code_version", "environment"]

#: Packages whose versions can change a model's numbers; recorded with every run.
TRACKED_PACKAGES = (
    "skloop",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "joblib",
    "threadpoolctl",
    "skops",
)


@dataclass(frozen=True)
class CodeVersion:
    """The git commit of the project directory, and whether it had uncommitted changes."""

    commit: str | None
    dirty: bool | None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version(path: str | Path = ".") -> CodeVersion:
    """The commit checked out at ``path`` and a dirty flag; ``None`` outside a git repo."""
    cwd = Path(path).resolve()
    if not cwd.is_dir():
        cwd = cwd.parent
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return CodeVersion(None, None)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return CodeVersion(commit, bool(status))


def environment(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, object]:
    """Python, platform and the versions of ``packages`` (``None`` when not installed)."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": versions,
    }
