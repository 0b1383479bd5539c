"""Shared fixtures: real broker processes on 127.0.0.1 with free ports, and tool checks.

A fixture that starts a broker always stops it (SIGTERM, then SIGKILL after a grace period), by
the pid it started. Tools the tests drive (kcat) must exist under CI=true: a missing tool fails
there instead of skipping, so a green CI run always means the tests ran.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

# CI runs hypothesis derandomized (the same examples every run) and without per-example deadlines,
# so a loaded machine cannot turn a green suite red; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if IN_CI else "dev")


def require_tool(name: str) -> str:
    """The path of a command-line tool the test needs; fail under CI, skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {name}); .ci/run installs it in CI"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker did not listen on {port} within {timeout}s")


@dataclass
class BrokerProcess:
    """A `logbroker serve` subprocess on loopback."""

    data_dir: Path
    log_path: Path
    overrides: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)  # more `serve` flags, e.g. --config FILE
    port: int = 0
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> BrokerProcess:
        if not self.port:
            self.port = free_port()
            self.http_port = free_port()
        cmd = [sys.executable, "-m", "logbroker.cli", "serve", "--data-dir", str(self.data_dir),
               "--kafka-listen", f"127.0.0.1:{self.port}", "--http-listen", f"127.0.0.1:{self.http_port}"]
        for k, v in self.overrides.items():
            cmd += ["--override", f"{k}={v}"]
        cmd += self.extra_args
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        log_file.close()
        wait_for_port(self.port, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the process with ``sig`` (SIGKILL simulates a crash); returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return int(code)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[type]:
    started: list[BrokerProcess] = []

    def make(**overrides: str) -> BrokerProcess:
        n = len(started)
        b = BrokerProcess(data_dir=tmp_path / f"data{n}", log_path=tmp_path / f"broker{n}.log",
                          overrides={k.replace("_", "."): v for k, v in overrides.items()})
        started.append(b)
        return b.start()

    yield make  # type: ignore[misc]
    for b in started:
        if b.proc is not None:
            b.stop()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:  # type: ignore[no-untyped-def]
    """A fresh broker with its own data directory."""
    b: BrokerProcess = broker_factory()
    return b
