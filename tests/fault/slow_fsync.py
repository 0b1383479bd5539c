"""Start a real broker process whose fsyncs of some files are slow, to show what waits on them.

The broker runs as ``python -c SLOW_FSYNC serve ...``: ``os.fsync`` of a file descriptor whose
path contains ``match`` sleeps ``delay_s`` first, while the marker file exists. Nothing else in
the broker changes, so a test can time an answer that must wait for that fsync (it takes at least
``delay_s``) against round trips on other connections that must not (they stay well under it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import BrokerProcess

SLOW_FSYNC = """
import os, runpy, sys, time
marker = os.environ["SLOW_FSYNC_MARKER"]
match = os.environ["SLOW_FSYNC_MATCH"]
delay_s = float(os.environ["SLOW_FSYNC_DELAY_S"])
real_fsync = os.fsync
def fsync(fd):
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = ""
    if match in path and os.path.exists(marker):
        time.sleep(delay_s)
    real_fsync(fd)
os.fsync = fsync
sys.argv[0] = "logbroker"
runpy.run_module("logbroker.cli", run_name="__main__")
"""


def launch_slow_fsync(broker: BrokerProcess, marker: Path, match: str, delay_s: float,
                      monkeypatch: pytest.MonkeyPatch) -> BrokerProcess:
    """Start ``broker`` with fsyncs of paths containing ``match`` held back ``delay_s`` while
    ``marker`` exists (the marker may be created and removed while the broker runs)."""
    monkeypatch.setenv("SLOW_FSYNC_MARKER", str(marker))
    monkeypatch.setenv("SLOW_FSYNC_MATCH", match)
    monkeypatch.setenv("SLOW_FSYNC_DELAY_S", str(delay_s))
    command = broker.serve_command("127.0.0.1:0", "127.0.0.1:0")
    assert command[1:3] == ["-m", "logbroker.cli"]
    return broker.launch([sys.executable, "-c", SLOW_FSYNC, *command[3:]])


@contextmanager
def produce_round_trips(producer: Producer, topic: str) -> Iterator[list[float]]:
    """While the block runs, a thread produces one small record at a time to ``topic`` and waits for
    each; yields the list of those round trips (seconds), complete once the block has exited. The
    block starts 0.2 s after the first record, so the probe is running before the slow work begins."""
    round_trips: list[float] = []
    done = threading.Event()

    def produce_meanwhile() -> None:
        while not done.is_set():
            start = time.monotonic()
            producer.produce(topic, b"x" * 100)
            assert producer.flush(30) == 0
            round_trips.append(time.monotonic() - start)
            time.sleep(0.02)

    prober = threading.Thread(target=produce_meanwhile)
    prober.start()
    try:
        time.sleep(0.2)
        yield round_trips
    finally:
        done.set()
        prober.join(timeout=30)
