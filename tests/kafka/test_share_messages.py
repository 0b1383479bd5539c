"""The share-group definitions in ``logbroker/kafka/messages/`` (KIP-932): versions served, frames
built by hand from the protocol guide's layouts, and round trips, whole and truncated. (kafka-python
has no share-group messages, so these replace test_codec.py's cross-check for them; librdkafka's
ShareConsumer and Kafka's own tools exercise them in tests/interop/.)"""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.dispatch import served_versions
from logbroker.kafka.errors import ProtocolError

TOPIC = uuid.UUID(int=0x1234)


def _cstr(s: str | None) -> bytes:
    """A compact (nullable) string: uvarint(length + 1), 0 for null (all lengths here are < 127)."""
    if s is None:
        return b"\x00"
    raw = s.encode()
    return bytes([len(raw) + 1]) + raw


def test_served_versions_are_kafka_41s() -> None:
    served = served_versions()
    for key in (ApiKey.SHARE_GROUP_HEARTBEAT, ApiKey.SHARE_GROUP_DESCRIBE, ApiKey.SHARE_FETCH,
                ApiKey.SHARE_ACKNOWLEDGE):
        assert served[key] == (1, 1)
    for key in (ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, ApiKey.ALTER_SHARE_GROUP_OFFSETS,
                ApiKey.DELETE_SHARE_GROUP_OFFSETS, ApiKey.INITIALIZE_SHARE_GROUP_STATE,
                ApiKey.READ_SHARE_GROUP_STATE, ApiKey.WRITE_SHARE_GROUP_STATE, ApiKey.DELETE_SHARE_GROUP_STATE,
                ApiKey.READ_SHARE_GROUP_STATE_SUMMARY):
        assert served[key] == (0, 0)


def test_write_share_group_state_request_from_the_layout() -> None:
    """WriteShareGroupState v0 (flexible): group, topics (uuid, partitions with state epoch, leader
    epoch, start offset and state batches), as Kafka 4.1.1's message definition lays it out."""
    header = struct.pack(">hhih", 85, 0, 3, 1) + b"b" + b"\x00"
    batch = struct.pack(">qqbh", 4, 6, 0, 2) + b"\x00"
    partition = struct.pack(">iiiq", 0, 1, 7, 4) + b"\x02" + batch + b"\x00"
    body = _cstr("crew") + b"\x02" + TOPIC.bytes + b"\x02" + partition + b"\x00" + b"\x00"
    request = codec.decode_request(memoryview(header + body))
    assert request.body == {"group_id": "crew", "topics": [{"topic_id": TOPIC, "partitions": [
        {"partition": 0, "state_epoch": 1, "leader_epoch": 7, "start_offset": 4, "state_batches": [
            {"first_offset": 4, "last_offset": 6, "delivery_state": 0, "delivery_count": 2}]}]}]}
    for cut in range(len(header) + 1, len(header + body) - 1):
        with pytest.raises(ProtocolError):
            codec.decode_request(memoryview(header + body)[:cut])


def test_read_share_group_state_response_layout() -> None:
    body = {"results": [{"topic_id": TOPIC, "partitions": [{
        "partition": 2, "error_code": 0, "error_message": None, "state_epoch": 1, "start_offset": 9,
        "state_batches": [{"first_offset": 9, "last_offset": 9, "delivery_state": 4, "delivery_count": 5}]}]}]}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.READ_SHARE_GROUP_STATE, 0, 9, body))
    expected = (struct.pack(">i", 9) + b"\x00" + b"\x02" + TOPIC.bytes + b"\x02" + struct.pack(">ih", 2, 0)
                + b"\x00" + struct.pack(">iq", 1, 9) + b"\x02" + struct.pack(">qqbh", 9, 9, 4, 5) + b"\x00"
                + b"\x00" + b"\x00" + b"\x00")
    assert frame[4:] == expected
    assert codec.decode_response(memoryview(frame[4:]), ApiKey.READ_SHARE_GROUP_STATE, 0).body == body


def test_read_share_group_state_summary_layouts() -> None:
    """ReadShareGroupStateSummary v0 (flexible), as Kafka 4.1.1's message definitions lay it out: the
    request names partitions with a leader epoch; the response's partition carries error code and
    message, state epoch, leader epoch and start offset (no batches)."""
    header = struct.pack(">hhih", 87, 0, 5, 1) + b"b" + b"\x00"
    body = _cstr("crew") + b"\x02" + TOPIC.bytes + b"\x02" + struct.pack(">ii", 3, 7) + b"\x00" + b"\x00" + b"\x00"
    request = codec.decode_request(memoryview(header + body))
    assert request.body == {"group_id": "crew", "topics": [{"topic_id": TOPIC, "partitions": [
        {"partition": 3, "leader_epoch": 7}]}]}
    answer = {"results": [{"topic_id": TOPIC, "partitions": [{
        "partition": 3, "error_code": 0, "error_message": None, "state_epoch": 2, "leader_epoch": 7,
        "start_offset": 11}]}]}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.READ_SHARE_GROUP_STATE_SUMMARY, 0, 5, answer))
    expected = (struct.pack(">i", 5) + b"\x00" + b"\x02" + TOPIC.bytes + b"\x02" + struct.pack(">ih", 3, 0)
                + b"\x00" + struct.pack(">iiq", 2, 7, 11) + b"\x00" + b"\x00" + b"\x00")
    assert frame[4:] == expected
    assert codec.decode_response(memoryview(frame[4:]), ApiKey.READ_SHARE_GROUP_STATE_SUMMARY, 0).body == answer


def test_heartbeat_request_from_the_guides_layout() -> None:
    # Request header v2: api key, version, correlation id, client id (int16-length string), tags.
    header = struct.pack(">hhih", 76, 1, 7, 2) + b"rk" + b"\x00"
    body = (_cstr("g") + _cstr("m1") + struct.pack(">i", 0) + _cstr(None)
            + b"\x02" + _cstr("jobs") + b"\x00")
    request = codec.decode_request(memoryview(header + body))
    assert (request.api_key, request.api_version, request.correlation_id, request.client_id) == (76, 1, 7, "rk")
    assert request.body == {"group_id": "g", "member_id": "m1", "member_epoch": 0, "rack_id": None,
                            "subscribed_topic_names": ["jobs"]}
    for cut in range(len(header) + 1, len(header + body) - 1):
        with pytest.raises(ProtocolError):
            codec.decode_request(memoryview(header + body)[:cut])


def test_heartbeat_response_layout() -> None:
    body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "member_id": "m1", "member_epoch": 2,
            "heartbeat_interval_ms": 5000,
            "assignment": {"topic_partitions": [{"topic_id": TOPIC, "partitions": [0]}]}}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.SHARE_GROUP_HEARTBEAT, 1, 9, body))
    expected = (struct.pack(">i", 9) + b"\x00"  # response header v1: correlation id, tags
                + struct.pack(">ih", 0, 0) + _cstr(None) + _cstr("m1") + struct.pack(">ii", 2, 5000)
                + b"\x01"  # present struct
                + b"\x02" + TOPIC.bytes + b"\x02" + struct.pack(">i", 0) + b"\x00"  # one topic, one partition
                + b"\x00" + b"\x00")  # the assignment's and the body's tags
    assert frame[4:] == expected


def test_share_fetch_partition_without_records_has_empty_not_null_records() -> None:
    """librdkafka drops a ShareFetch response whose partition has null records."""
    part: dict[str, Any] = {"partition_index": 0, "error_code": 0, "error_message": None, "acknowledge_error_code": 0,
            "acknowledge_error_message": None, "current_leader": {"leader_id": -1, "leader_epoch": -1},
            "records": b"", "acquired_records": []}
    body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "acquisition_lock_timeout_ms": 30000,
            "responses": [{"topic_id": TOPIC, "partitions": [part]}], "node_endpoints": []}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.SHARE_FETCH, 1, 3, body))
    partition_bytes = (struct.pack(">ih", 0, 0) + _cstr(None) + struct.pack(">h", 0) + _cstr(None)
                       + struct.pack(">ii", -1, -1) + b"\x00"  # current leader and its tags
                       + b"\x01"  # records: compact length 0 + 1, empty
                       + b"\x01"  # no acquired records
                       + b"\x00")
    assert partition_bytes in frame
    got = codec.decode_response(frame[4:], ApiKey.SHARE_FETCH, 1).body
    assert bytes(got["responses"][0]["partitions"][0]["records"]) == b""


def test_share_fetch_and_acknowledge_round_trip() -> None:
    fetch = {"group_id": "g", "member_id": "m", "share_session_epoch": 3, "max_wait_ms": 500, "min_bytes": 1,
             "max_bytes": 1 << 20, "max_records": 500, "batch_size": 500,
             "topics": [{"topic_id": TOPIC, "partitions": [{"partition_index": 0, "acknowledgement_batches": [
                 {"first_offset": 4, "last_offset": 6, "acknowledge_types": [1, 2, 3]}]}]}],
             "forgotten_topics_data": [{"topic_id": TOPIC, "partitions": [1]}]}
    frame = codec.encode_request(ApiKey.SHARE_FETCH, 1, 5, "c", fetch)
    assert codec.decode_request(memoryview(frame)[4:]).body == fetch
    ack = {"group_id": "g", "member_id": "m", "share_session_epoch": -1, "topics": fetch["topics"]}
    frame = codec.encode_request(ApiKey.SHARE_ACKNOWLEDGE, 1, 6, "c", ack)
    assert codec.decode_request(memoryview(frame)[4:]).body == ack
    for cut in range(4, len(frame) - 1, 5):
        with pytest.raises(ProtocolError):
            codec.decode_request(memoryview(frame)[4:cut])


@pytest.mark.parametrize(("key", "body"), [
    (ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, {"groups": [{"group_id": "g", "topics": None},
                                                      {"group_id": "h", "topics": [{"topic_name": "t",
                                                                                    "partitions": [0, 1]}]}]}),
    (ApiKey.ALTER_SHARE_GROUP_OFFSETS, {"group_id": "g", "topics": [{"topic_name": "t", "partitions": [
        {"partition_index": 0, "start_offset": 42}]}]}),
    (ApiKey.DELETE_SHARE_GROUP_OFFSETS, {"group_id": "g", "topics": [{"topic_name": "t"}]}),
    (ApiKey.SHARE_GROUP_DESCRIBE, {"group_ids": ["g"], "include_authorized_operations": True}),
])
def test_admin_requests_round_trip(key: ApiKey, body: dict[str, object]) -> None:
    version = served_versions()[key][1]
    frame = codec.encode_request(key, version, 1, None, body)
    assert codec.decode_request(memoryview(frame)[4:]).body == body
