"""Checkpoint files written behind the event loop: one worker thread, writes in submission order.

A leader-epoch checkpoint changes on the loop (a new leader, a replicated batch of a newer epoch, a
follower's truncation); replacing the file crash-safely means two fsyncs, which must not stall produce
and fetch. ``CheckpointWriter.write`` queues the bytes and returns; the worker replaces the files one
after the other, so a later version of a file is never overwritten by an earlier one. A failed write
is logged (the next change writes the file whole again); ``close`` waits for what is queued.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from segments.checkpoint import atomic_write

log = logging.getLogger(__name__)


class CheckpointWriter:
    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def write(self, path: Path, data: bytes) -> None:
        """Queue ``path`` to be replaced by ``data`` (crash-safely, on the worker thread)."""
        self._pool.submit(self._replace, path, data)

    @staticmethod
    def _replace(path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except FileNotFoundError:
            log.debug("%s not written: its directory is gone (the partition was deleted)", path)
        except OSError as exc:
            log.error("%s not written: %s", path, exc)

    def flush(self) -> None:
        """Wait until every write queued so far is done."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
