"""``tests/processes.py``: a broker a test started does not outlive the test process, even when that
process ends without its fixtures' teardown (pytest-timeout's thread method ends it with
``os._exit``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

HANGING_TEST = '''
import os
import time
from pathlib import Path

import pytest


@pytest.mark.timeout(2, func_only=True)
def test_hangs(broker) -> None:
    assert broker.proc.poll() is None
    Path(os.environ["BROKER_PID_FILE"]).write_text(str(broker.proc.pid))
    time.sleep(120)
'''


def _running(pid: int) -> bool:
    """True while ``pid`` is a live (not zombie) logbroker process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and b"logbroker.cli" in cmdline


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_broker_dies_with_a_test_process_that_timed_out(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(HANGING_TEST)
    pid_file = tmp_path / "broker.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BROKER_PID_FILE": str(pid_file)}
    # tests/conftest.py as a plugin gives the inner run the broker fixture; its own rootdir keeps
    # the project's settings (and timeout) out of it.
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--timeout-method=thread", "--rootdir", str(tmp_path), "--basetemp", str(tmp_path / "inner"),
         str(tmp_path / "test_hang.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "Timeout" in inner.stdout + inner.stderr, inner.stdout[-3000:] + inner.stderr[-3000:]
    assert inner.returncode != 0
    pid = int(pid_file.read_text())
    try:
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid), f"broker {pid} outlived the test process that started it"
    finally:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
