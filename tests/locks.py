"""A lock file that serialises one-time setup between test processes (``pytest -n``'s workers, or two
runs at once): a build, a package install or a figures file written by read-modify-write.

``flock`` on an open file: the lock goes when the holder closes it or dies, so a killed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
