"""The share-group records logbroker's group coordinator writes into ``__consumer_offsets``
(``logbroker/groups/schema.py``, ``groups/share_group_log.py``), read back by Kafka 4.1.1's own
decoder: ``kafka-dump-log --offsets-decoder`` (``kafka.tools.DumpLogSegments``) over the segment
file a real ``logbroker serve`` wrote."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.http.http_api import start_http_broker
from tests.interop.kafka_java import Java, kafka_java, offsets_records  # noqa: F401 - the fixture
from tests.interop.rawclient import RawClient
from tests.interop.share_member import ShareMember, topic_id
from tests.interop.test_protocol_edges import create_topic

pytestmark = pytest.mark.logbroker_only("reads logbroker's own data directory with Kafka's decoder")


@pytest.mark.java
def test_kafkas_offsets_decoder_reads_the_share_group_records(tmp_path: Path, kafka_java: Java) -> None:  # noqa: F811
    broker = start_http_broker(tmp_path, **{"offsets.topic.num.partitions": "1",
                                            "share.coordinator.state.topic.num.partitions": "1"})
    try:
        with RawClient(broker.port) as c:
            create_topic(c, "decoded", 2)
            tid = topic_id(c, "decoded")
        member = ShareMember(broker.port, "readers", ["decoded"])
        try:
            member.join(tid, partitions=2)
            assert member.leave()["error_code"] == 0
        finally:
            member.close()
    finally:
        broker.stop()  # a clean stop: every record written is on disk
    segment = broker.data_dir / "__consumer_offsets-0" / "00000000000000000000.log"
    records = offsets_records(kafka_java, segment)
    out = "\n".join(f"{k} {v}" for k, v in records)  # what the assertions show
    kafka_id = base64.urlsafe_b64encode(tid.bytes).decode().rstrip("=")
    # Each change writes both records: the group epoch (type 11) and the share-partitions (type 15).
    epochs = [v["data"]["epoch"] for k, v in records if k == {"type": "11", "data": {"groupId": "readers"}}]
    assert epochs and epochs == sorted(epochs) and epochs[-1] >= 2, out  # joined, then left
    partitions = [v for k, v in records if k == {"type": "15", "data": {"groupId": "readers"}}]
    assert partitions[-1] == {"version": "0", "data": {
        "initializingTopics": [], "deletingTopics": [],
        "initializedTopics": [{"topicId": kafka_id, "topicName": "decoded", "partitions": [0, 1]}]}}, out
