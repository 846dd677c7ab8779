"""Whether a process on this host still lives: shared by the runs reaper and the loop lock.

A process killed with SIGKILL (or by the out-of-memory killer) cannot end its run or
release its lock; the parts that record a pid and a hostname ask this module whether
that process is gone before taking over what it held.
"""

from __future__ import annotations

import os
import socket

__all__ = ["hostname", "process_alive"]


def hostname() -> str:
    """This host's name, as recorded next to a pid."""
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is alive (a zombie counts as dead).

    Examples
    --------
    >>> process_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie has exited but not been waited for
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
