"""A full disk refuses writes with an error and loses nothing acknowledged; writes resume when space
frees up, and a restart reads every acknowledged record back.

The data directory is a small tmpfs (needs root, else the test skips; CI runs as root). A ballast
topic fills most of it, a producer then sends acks=all until the broker refuses, the ballast topic
is deleted over HTTP to free the space, and sending resumes.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Producer

from tests.conftest import BrokerProcess, wait_for_port
from tests.fault.figures import record
from tests.interop.expected import Got
from tests.interop.test_confluent import consume_all

DISK_MB = 24
VALUE = b"v" * 8000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _send(bootstrap: str, topic: str, start: int, count: int) -> tuple[list[bytes], list[str]]:
    """Send ``count`` records acks=all; returns (acknowledged values, distinct error names)."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                         "retries": 0, "message.timeout.ms": 10000, "linger.ms": 5, "log_level": 0})
    acked: list[bytes] = []
    errors: set[str] = set()

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        if err is None:
            acked.append(msg.value())  # type: ignore[attr-defined]
        else:
            errors.add(err.name())

    for i in range(start, start + count):
        producer.produce(topic, value=b"%08d:" % i + VALUE, on_delivery=on_delivery)
        producer.poll(0)
    producer.flush(30)
    return acked, sorted(errors)


def _delete_topic(broker: BrokerProcess, name: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{broker.http_port}/topics/{name}", method="DELETE")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(resp.status)


def _health(broker: BrokerProcess) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.http_port}/health", timeout=30) as resp:
        json.loads(resp.read())
        return int(resp.status)


def test_a_full_disk_refuses_writes_and_keeps_what_was_acknowledged(small_disk: Path, tmp_path: Path) -> None:
    broker = BrokerProcess(data_dir=small_disk / "data", log_path=tmp_path / "broker.log",
                           overrides={"num.partitions": "1", "log.segment.bytes": "4194304"})
    broker.start()
    try:
        assert broker.proc is not None
        wait_for_port(broker.http_port, broker.proc)
        ballast, _ = _send(broker.bootstrap, "ballast", 0, (DISK_MB - 10) * 1024 * 1024 // len(VALUE))
        assert ballast
        acked, errors = _send(broker.bootstrap, "kept", 0, 20 * 1024 * 1024 // len(VALUE))
        assert errors == ["KAFKA_STORAGE_ERROR"], errors  # answered, not a dropped connection
        assert broker.proc.poll() is None and _health(broker) == 200
        assert _delete_topic(broker, "ballast") in (200, 202, 204)
        more, more_errors = _send(broker.bootstrap, "kept", 100_000, 200)
        assert not more_errors and len(more) == 200, more_errors
        expected = set(acked) | set(more)
        broker.stop()
        broker.start()
        got: list[Got] = consume_all(broker.bootstrap, "kept", 1, len(expected), timeout_s=60)
        values = [g.value for g in got]
        lost = expected - set(values)
        duplicated = len(values) - len(set(values))
        record("disk_full", disk_mb=DISK_MB, records_acknowledged=len(expected), refused_with=errors,
               lost=len(lost), duplicated=duplicated, resumed_after_freeing=len(more))
        assert not lost and not duplicated
        assert "Traceback" not in broker.log_text()
    finally:
        if broker.proc is not None:
            broker.stop()
