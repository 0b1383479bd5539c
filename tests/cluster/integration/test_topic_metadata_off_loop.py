"""A cluster broker writes the metadata of topics it adopts or grows from the cluster off its event loop.

Broker 2 runs with every fsync of a file in ``__topics/`` held back ``DELAY_S`` while a marker file
exists; broker 1 is not slowed. Meanwhile: a CreateTopics sent to broker 2 (registered in
ZooKeeper, then adopted there) is answered only once broker 2's copy is durable, so it takes at
least ``DELAY_S``; a topic created through broker 1 and a CreatePartitions through broker 1 reach
broker 2 through its view of the cluster, which adopts and grows its copies. acks=1 produce round
trips to a partition broker 2 leads stay well under ``DELAY_S`` all along: nothing on its event
loop waits for those fsyncs. Broker 2 then lists both topics with their partition counts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, broker_properties, wait_until
from tests.conftest import BrokerProcess
from tests.fault.slow_fsync import launch_slow_fsync, produce_round_trips
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode, with a slow fsync faked inside a broker")

DELAY_S = 1.5
MAX_ROUND_TRIP_S = DELAY_S / 2


def _create(port: int, name: str, partitions: int, assignments: list[list[int]] | None = None) -> dict[str, Any]:
    topic: dict[str, Any] = {"name": name, "num_partitions": -1 if assignments else partitions,
                             "replication_factor": -1 if assignments else 1, "configs": [],
                             "assignments": [{"partition_index": i, "broker_ids": ids}
                                             for i, ids in enumerate(assignments or [])]}
    with RawClient(port) as c:
        c.sock.settimeout(60)
        return dict(c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [topic], "timeout_ms": 60000,
                                                     "validate_only": False})["topics"][0])


def _partitions_listed(port: int, name: str) -> int:
    with RawClient(port) as c:
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": name, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
    topic = meta["topics"][0]
    return len(topic["partitions"]) if topic["error_code"] == 0 else 0


def test_topics_adopted_and_grown_from_the_cluster_write_their_metadata_off_the_loop(
        zookeeper: LocalZooKeeper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = Cluster(zookeeper, tmp_path)
    marker = tmp_path / "slow-metadata"
    try:
        first = c.add(1)
        second = BrokerProcess(data_dir=tmp_path / "broker2", log_path=tmp_path / "broker2.log",
                               overrides=broker_properties(zookeeper.connect, 2))
        c.brokers[2] = launch_slow_fsync(second, marker, "__topics", DELAY_S, monkeypatch)
        with RawClient(first.port) as setup:
            wait_until(lambda: len(setup.call(ApiKey.METADATA, 12, {
                "topics": [], "allow_auto_topic_creation": False,
                "include_topic_authorized_operations": False})["brokers"]) == 2, 30, "two brokers")
        for name, leader in (("busy", second), ("grown", first)):
            created = _create(first.port, name, 1, [[1 if leader is first else 2]])
            assert created["error_code"] == 0, created
            with RawClient(leader.port) as on_leader:
                wait_for_leaders(on_leader, name, 1)
        wait_until(lambda: _partitions_listed(second.port, "grown") == 1, 30, "broker 2 adopting grown")
        producer = Producer({"bootstrap.servers": second.bootstrap, "acks": 1, "linger.ms": 0})
        producer.produce("busy", b"warm")
        assert producer.flush(30) == 0

        marker.touch()
        with produce_round_trips(producer, "busy") as round_trips:
            start = time.monotonic()
            created_here = _create(second.port, "adopted.here", 2)
            took_here = time.monotonic() - start
            created_there = _create(first.port, "adopted.there", 2)
            with RawClient(first.port) as admin:
                admin.sock.settimeout(60)
                grown = admin.call(ApiKey.CREATE_PARTITIONS, 3, {"topics": [
                    {"name": "grown", "count": 3, "assignments": None}], "timeout_ms": 60000,
                    "validate_only": False})["results"][0]
            wait_until(lambda: _partitions_listed(second.port, "adopted.there") == 2, 60,
                       "broker 2 adopting adopted.there")
            wait_until(lambda: _partitions_listed(second.port, "grown") == 3, 60, "broker 2 growing grown")

        assert created_here["error_code"] == 0, created_here
        assert created_there["error_code"] == 0, created_there
        assert grown["error_code"] == 0, grown
        assert took_here >= DELAY_S, f"CreateTopics answered before broker 2's copy was durable ({took_here:.2f}s)"
        assert _partitions_listed(second.port, "adopted.here") == 2
        assert len(round_trips) >= 10, round_trips
        assert max(round_trips) < MAX_ROUND_TRIP_S, (f"a produce round trip to broker 2 took {max(round_trips):.2f}s "
                                                     f"while its metadata fsyncs took {DELAY_S}s each")
        for b in (first, second):
            assert "Traceback" not in b.log_text()
    finally:
        c.stop_all()
