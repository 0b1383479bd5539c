"""Stopping, restarting and reading the log of a server process a test started: one helper for
logbroker's and Apache Kafka's brokers alike (``tests/conftest.py``, ``tests/kafka_reference.py``).

A process is stopped by the pid it was started with, never by name: ``sig`` first (SIGTERM, or
SIGKILL to simulate a crash), then SIGKILL if it outlives ``stop_timeout_s``.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

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
