"""Stopping, restarting and reading the log of a server process a test started: one helper for
logbroker's and Apache Kafka's brokers alike (``tests/conftest.py``, ``tests/kafka_reference.py``).

A process is stopped by the pid it was started with, never by name: ``sig`` first (SIGTERM, or
SIGKILL to simulate a crash), then SIGKILL if it outlives ``stop_timeout_s``.

A test process that ends without running its fixtures' teardown (pytest-timeout's thread method
ends it with ``os._exit``, a CI runner kills it) would leave its servers running, holding ports,
data directories and CPU. Servers are therefore started with ``die_with_parent`` as their
``preexec_fn``: on Linux the kernel sends them SIGKILL when the thread that started them ends
(``prctl(PR_SET_PDEATHSIG)``; it survives the ``exec`` into python or java). That thread is the
test's main thread here; a server started from a helper thread would die with that thread instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

KILL_WAIT_S = 10.0  # after SIGKILL, how long to wait for the exit


class ServerProcess:
    """Mixin of a started server: subclasses set ``proc``, ``log_path``, ``stop_timeout_s`` and ``start``."""

    proc: subprocess.Popen[bytes] | None
    log_path: Path
    stop_timeout_s: float

    def start(self) -> ServerProcess:
        raise NotImplementedError

    def stop(self, sig: int = signal.SIGTERM, timeout: float | None = None) -> int:
        """Stop the process with ``sig``; returns its exit code (0 when it was not running)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(self.stop_timeout_s if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(KILL_WAIT_S)
        code = self.proc.returncode
        self.proc = None
        return int(code)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stop with ``sig`` and start again on the same data directory."""
        self.stop(sig)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the thread starting it ends (Linux;
    elsewhere None: no such guard). The C library is looked up here, before the fork, so the child
    only makes two system calls between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent ended before the signal was armed
            os._exit(1)

    return arm
