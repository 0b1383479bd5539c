"""Topic metadata changes wait on their fsync, but the event loop does not; kill -9 after the answer keeps them.

The broker runs with every fsync of a file in ``__topics/`` (a topic's metadata file and that
directory) held back ``DELAY_S`` while a marker file exists. IncrementalAlterConfigs and
CreatePartitions must each take at least that long (the answer comes only once the file is durable)
while acks=1 produce round trips on another connection stay well under it (nothing on the event
loop waits for that fsync). Then the broker is killed with SIGKILL right after the answers and
restarted: the changes are there.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from tests.conftest import BrokerProcess
from tests.fault.slow_fsync import launch_slow_fsync, produce_round_trips

pytestmark = pytest.mark.logbroker_only("fakes a slow fsync inside the broker process")

DELAY_S = 1.5
MAX_ROUND_TRIP_S = DELAY_S / 2


def _start(broker: BrokerProcess, marker: Path, monkeypatch: pytest.MonkeyPatch) -> BrokerProcess:
    return launch_slow_fsync(broker, marker, "__topics", DELAY_S, monkeypatch)


def test_config_and_partition_changes_wait_for_their_fsync_off_the_loop_and_survive_kill9(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "slow-metadata"
    broker = _start(BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log"), marker, monkeypatch)
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for future in admin.create_topics([NewTopic("altered", 1), NewTopic("busy", 1)],
                                          operation_timeout=30).values():
            future.result(timeout=30)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 0})
        producer.produce("busy", b"warm")
        assert producer.flush(30) == 0

        marker.touch()
        def alter() -> float:
            start = time.monotonic()
            resource = ConfigResource(ConfigResource.Type.TOPIC, "altered", incremental_configs=[
                ConfigEntry("retention.ms", "123456", incremental_operation=AlterConfigOpType.SET)])
            admin.incremental_alter_configs([resource], request_timeout=60)[resource].result(timeout=60)
            return time.monotonic() - start

        def grow() -> float:
            start = time.monotonic()
            admin.create_partitions([NewPartitions("altered", 3)], request_timeout=60)["altered"].result(timeout=60)
            return time.monotonic() - start

        with produce_round_trips(producer, "busy") as round_trips, ThreadPoolExecutor(2) as pool:
            took = [f.result(timeout=120) for f in [pool.submit(alter), pool.submit(grow)]]
        broker.stop(signal.SIGKILL)  # right after both answers

        assert all(t >= DELAY_S for t in took), f"answered before the metadata fsync: {took}"
        assert len(round_trips) >= 10, round_trips
        assert max(round_trips) < MAX_ROUND_TRIP_S, (f"a produce round trip took {max(round_trips):.2f}s while the "
                                                     f"metadata fsync took {DELAY_S}s (changes took {took})")

        marker.unlink()
        broker = _start(broker, marker, monkeypatch)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        resource = ConfigResource(ConfigResource.Type.TOPIC, "altered")
        described = admin.describe_configs([resource], request_timeout=30)[resource].result(timeout=30)
        assert described["retention.ms"].value == "123456"
        topics = admin.list_topics(timeout=30).topics
        assert len(topics["altered"].partitions) == 3
        assert "Traceback" not in broker.log_text()
    finally:
        if broker.proc is not None and broker.proc.poll() is None:
            broker.stop()
