"""Run the ``logbroker`` command as a subprocess, the way a user does, and capture what it says."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from tests.conftest import ROOT


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run_cli(*args: str, input: bytes | None = None, timeout: float = 60) -> Result:
    try:
        proc = subprocess.run([sys.executable, "-m", "logbroker.cli", *args], input=input, capture_output=True,
                              cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`logbroker {' '.join(args)}` still running after {timeout} s; "
                             f"stderr so far: {exc.stderr!r}") from None
    return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def assert_clean_error(result: Result, *needles: str) -> None:
    """Exit status 1, one ``Error:`` line naming the problem, and no traceback."""
    assert result.code == 1, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
