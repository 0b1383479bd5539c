"""A child process for the two passes of compaction (``compaction.clean``): a ``CleaningRunner``.

Compaction decodes every record of the segments it cleans: seconds of pure Python for a gigabyte.
In a thread of the broker process that work would hold the interpreter lock the event loop needs
between its system calls, and produce and fetch would wait on it (Kafka's cleaner threads have no
such lock to share). So each cleaning runs in a fresh child process, ``python -m segments.cleaner``
(it imports the storage engine only, and lowers its own CPU priority by ``NICENESS`` so the
broker's threads come first when the machine is busy); the calling thread, the broker's cleaner
thread, waits for it without holding the lock, then swaps the result in itself.

Protocol: the parent writes the pickled ``CleaningPlan`` to the child's stdin; the child answers on
stdout with a pickled ``CleaningResult``, or the exception ``clean`` raised. The child only reads
closed segment files and writes ``.cleaned`` files, so stopping it at any moment (``cancelled``,
broker shutdown, the child dying) loses nothing: what it wrote is removed here, or by recovery
after a crash.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

from segments.compaction import Cancelled, CleaningPlan, CleaningResult, CompactionAbortedError, clean, remove_cleaned
from segments.errors import StorageError

logger = logging.getLogger(__name__)

# How often the waiting thread checks ``cancelled`` (seconds).
POLL_INTERVAL_S = 0.1
# Added to the child's nice value: a background job yields the CPU to the broker's event loop.
NICENESS = 10
_PR_SET_PDEATHSIG = 1
_ROOT = Path(__file__).resolve().parent.parent  # the directory holding the ``segments`` package


class CleanerProcessError(StorageError):
    """The child process died without an answer."""


class CleanerProcess:
    """Runs each ``CleaningPlan`` in a new child process; ``close`` stops a running one.

    One cleaning at a time per instance (the broker has one cleaner thread).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._running: subprocess.Popen[bytes] | None = None

    def __call__(self, plan: CleaningPlan, cancelled: Cancelled) -> CleaningResult:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        with self._lock:
            if self._closed:
                raise CompactionAbortedError("the cleaner is closed")
            process = subprocess.Popen([sys.executable, "-m", "segments.cleaner", str(os.getpid())],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
            self._running = process
        try:
            data: bytes | None = pickle.dumps(plan)
            while True:
                try:
                    answer, _ = process.communicate(data, timeout=POLL_INTERVAL_S)
                    break
                except subprocess.TimeoutExpired:
                    data = None  # sent already; a retried communicate loses no output
                    if cancelled() or self._closed:
                        raise CompactionAbortedError(f"compaction of {plan.directory} stopped") from None
            if process.returncode != 0 or not answer:
                raise CleanerProcessError(f"the cleaner process for {plan.directory} exited with code "
                                          f"{process.returncode}")
        except BaseException:
            _stop(process, plan.directory)
            raise
        finally:
            with self._lock:
                self._running = None
        result = pickle.loads(answer)
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, CleaningResult)
        return result

    def close(self) -> None:
        """Stop accepting plans and kill a running child (its ``.cleaned`` files are then removed)."""
        with self._lock:
            self._closed = True
            process = self._running
        if process is not None and process.poll() is None:
            process.kill()


def _stop(process: subprocess.Popen[bytes], directory: Path) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()
    logger.info("%s: stopped the cleaner process", directory)
    # Killed mid-write, the child left its output: remove it (it cleans up after itself otherwise).
    for base in {int(p.name[:20]) for p in directory.glob("*.cleaned") if p.name[:20].isdigit()}:
        remove_cleaned(directory, base)


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the broker dies (Linux ``PR_SET_PDEATHSIG``), so a
    broker killed with -9 leaves no cleaner writing into the directory its successor recovers."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's own kill on close() still applies
        return
    if os.getppid() != parent_pid:  # the parent died before the request above
        os._exit(1)


def _main() -> None:
    """The child: plan on stdin, result (or the exception) on stdout."""
    _die_with_parent(int(sys.argv[1]))
    os.nice(NICENESS)
    plan = pickle.loads(sys.stdin.buffer.read())
    try:
        result: object = clean(plan)
    except Exception as exc:  # handed to the parent, which raises it in the broker's cleaner thread
        result = exc
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main()
