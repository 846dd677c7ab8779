"""A real, small file system that fills up: a 2 MB tmpfs mounted for one test.

``small_disk`` mounts ``tmpfs -o size=2m`` on a folder of the test's ``tmp_path`` (this
needs root, or CAP_SYS_ADMIN; the test is skipped with the reason otherwise) and always
unmounts it afterwards. :meth:`SmallDisk.fill` takes all but a few bytes with a filler
file, :meth:`SmallDisk.free` gives the space back.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SIZE = "2m"


@dataclass
class SmallDisk:
    path: Path

    @property
    def filler(self) -> Path:
        return self.path / ".filler"

    def available(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Write a filler until the disk is full, then give back ``leave`` bytes."""
        block = b"\0" * 65536
        with self.filler.open("ab") as fh:
            try:
                while True:
                    fh.write(block)
                    fh.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))
        assert self.available() <= leave + 4096

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "small-disk"
    path.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a {SIZE} tmpfs to fill up (needs root): {mount.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, text=True)
        if done.returncode != 0:  # still busy (an open file): detach now, freed when closed
            subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)
