"""A small example project, fast enough to train many times."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_project import write_small_project

from skloop.workflows import Project


@pytest.fixture
def small_project(tmp_path: Path) -> Project:
    project = Project.load(write_small_project(tmp_path))
    yield project
    project.close()
