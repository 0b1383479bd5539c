"""A child process for the two passes of compaction (``compaction.clean``): a ``CleaningRunner``.

Compaction decodes every record of the segments it cleans: seconds of pure Python for a gigabyte.
In a thread of the broker process that work would hold the interpreter lock the event loop needs
between its system calls, and produce and fetch would wait on it (Kafka's cleaner threads have no
such lock to share). So each cleaning runs in a fresh child process (``spawn``: nothing of the
broker's state, threads or sockets is inherited); the calling thread, the broker's cleaner thread,
waits for the answer on a pipe without holding the lock, then swaps the result in itself.

The child only reads closed segment files and writes ``.cleaned`` files, so stopping it at any
moment (``cancelled``, broker shutdown, the child dying) loses nothing: what it wrote is removed
here, or by recovery after a crash.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import threading
from pathlib import Path
from typing import Any

from segments.compaction import Cancelled, CleaningPlan, CleaningResult, CompactionAbortedError, clean, remove_cleaned
from segments.errors import StorageError

logger = logging.getLogger(__name__)

# How often the waiting thread checks ``cancelled`` and whether the child is still alive (seconds).
POLL_INTERVAL_S = 0.1


class CleanerProcessError(StorageError):
    """The child process died without an answer."""


def _child(conn: multiprocessing.connection.Connection, plan: CleaningPlan) -> None:
    try:
        result: Any = clean(plan)
    except BaseException as exc:  # reported to the parent, which raises it in its own thread
        result = exc if isinstance(exc, Exception) else CompactionAbortedError(repr(exc))
    conn.send(result)
    conn.close()


class CleanerProcess:
    """Runs each ``CleaningPlan`` in a new child process; ``close`` stops a running one.

    One cleaning at a time per instance (the broker has one cleaner thread).
    """

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._closed = False
        self._running: multiprocessing.process.BaseProcess | None = None

    def __call__(self, plan: CleaningPlan, cancelled: Cancelled) -> CleaningResult:
        parent, child = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child, args=(child, plan), name="logbroker-cleaner", daemon=True)
        with self._lock:
            if self._closed:
                raise CompactionAbortedError("the cleaner is closed")
            process.start()
            self._running = process
        child.close()
        try:
            while not parent.poll(POLL_INTERVAL_S):
                if cancelled() or self._closed:
                    raise CompactionAbortedError(f"compaction of {plan.directory} stopped")
                if not process.is_alive() and not parent.poll(0):
                    raise CleanerProcessError(f"the cleaner process for {plan.directory} exited with "
                                              f"code {process.exitcode}")
            try:
                answer = parent.recv()
            except EOFError:
                raise CleanerProcessError(f"the cleaner process for {plan.directory} closed its pipe") from None
        except BaseException:
            _stop(process, plan.directory)
            raise
        finally:
            parent.close()
            with self._lock:
                self._running = None
        process.join()
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, CleaningResult)
        return answer

    def close(self) -> None:
        """Stop accepting plans and kill a running child (its ``.cleaned`` files are removed)."""
        with self._lock:
            self._closed = True
            process = self._running
        if process is not None and process.is_alive():
            process.kill()


def _stop(process: multiprocessing.process.BaseProcess, directory: Path) -> None:
    if process.is_alive():
        process.kill()
    process.join()
    logger.info("%s: stopped the cleaner process", directory)
    # The child was killed mid-write: remove what it left (it cleans up after itself otherwise).
    for base in {int(p.name[:20]) for p in directory.glob("*.cleaned") if p.name[:20].isdigit()}:
        remove_cleaned(directory, base)
