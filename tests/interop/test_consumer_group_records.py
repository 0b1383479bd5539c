"""The consumer-protocol group records (KIP-848) logbroker's group coordinator writes into
``__consumer_offsets`` (``logbroker/groups/schema.py``, ``groups/consumer_group_log.py``), read back by
Kafka 4.1.1's own decoder: ``kafka-dump-log --offsets-decoder`` (``kafka.tools.DumpLogSegments``) over
the segment file a real ``logbroker serve`` wrote."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from tests.http.http_api import start_http_broker
from tests.interop.kafka_java import Java, kafka_java, offsets_records  # noqa: F401 - the fixture
from tests.interop.rawclient import RawClient
from tests.interop.share_member import find_coordinator, topic_id
from tests.interop.test_protocol_edges import create_topic

pytestmark = pytest.mark.logbroker_only("reads logbroker's own data directory with Kafka's decoder")


def _join(c: RawClient, member: str, instance: str | None) -> dict[str, Any]:
    return dict(c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, {
        "group_id": "decoders", "member_id": member, "member_epoch": 0, "instance_id": instance, "rack_id": "rack-1",
        "rebalance_timeout_ms": 25000, "subscribed_topic_names": ["decoded"], "subscribed_topic_regex": None,
        "server_assignor": "uniform", "topic_partitions": []}))


@pytest.mark.java
def test_kafkas_offsets_decoder_reads_the_consumer_group_records(tmp_path: Path, kafka_java: Java) -> None:  # noqa: F811
    broker = start_http_broker(tmp_path, **{"offsets.topic.num.partitions": "1"})
    try:
        with RawClient(broker.port, client_id="decoding-client") as c:
            create_topic(c, "decoded", 2)
            tid = topic_id(c, "decoded")
            find_coordinator(c, "decoders", time.monotonic() + 30)
            first = _join(c, "member-a", "instance-a")
            assert first["error_code"] == 0, first
            second = _join(c, "member-b", None)  # a now gives one partition back, b waits for it
            assert second["error_code"] == 0, second
    finally:
        broker.stop()  # a clean stop: every record written is on disk
    segment = broker.data_dir / "__consumer_offsets-0" / "00000000000000000000.log"
    records = offsets_records(kafka_java, segment)
    out = "\n".join(f"{k} {v}" for k, v in records)  # what the assertions show
    kafka_id = base64.urlsafe_b64encode(tid.bytes).decode().rstrip("=")

    def last(record_type: int, member: str | None = None) -> Any:
        data = {"groupId": "decoders"} if member is None else {"groupId": "decoders", "memberId": member}
        values = [v for k, v in records if k == {"type": str(record_type), "data": data}]
        assert values, (record_type, member, out)
        return values[-1]

    assert last(3)["data"]["epoch"] == 2, out  # two joins
    assert last(6)["data"]["assignmentEpoch"] == 2, out
    assert last(5, "member-a")["data"] == {
        "instanceId": "instance-a", "rackId": "rack-1", "clientId": "decoding-client", "clientHost": "/127.0.0.1",
        "subscribedTopicNames": ["decoded"], "subscribedTopicRegex": None, "rebalanceTimeoutMs": 25000,
        "serverAssignor": "uniform"}, out
    targets = {m: last(7, m)["data"]["topicPartitions"] for m in ("member-a", "member-b")}
    assert sorted(p for m in targets.values() for t in m for p in t["partitions"]) == [0, 1], out
    assert all(t["topicId"] == kafka_id for m in targets.values() for t in m), out
    current_a = last(8, "member-a")["data"]
    assert (current_a["memberEpoch"], current_a["previousMemberEpoch"], current_a["state"]) == (1, 0, 0), out
    assert current_a["assignedPartitions"] == [{"topicId": kafka_id, "partitions": [0, 1]}], out
    assert current_a["partitionsPendingRevocation"] == [], out
    current_b = last(8, "member-b")["data"]
    # b joined while a held both partitions: at the new epoch with nothing yet (unreleased partitions, 2)
    assert (current_b["memberEpoch"], current_b["state"], current_b["assignedPartitions"]) == (2, 2, []), out
