"""The ConsumerGroupHeartbeat/ConsumerGroupDescribe definitions in ``logbroker/kafka/messages/``:
versions served, and each message round-trips through the generated codec, whole and truncated."""

from __future__ import annotations

import uuid

import pytest

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.dispatch import served_versions
from logbroker.kafka.errors import ProtocolError

TOPIC = uuid.UUID(int=7)


def test_served_versions_match_what_librdkafka_sends() -> None:
    served = served_versions()
    assert served[ApiKey.CONSUMER_GROUP_HEARTBEAT] == (0, 1)  # librdkafka 2.16 sends v1
    assert served[ApiKey.CONSUMER_GROUP_DESCRIBE] == (0, 1)  # Describe v0; Kafka 4.1's Java admin v1


@pytest.mark.parametrize("version", [0, 1])
def test_heartbeat_request_roundtrip(version: int) -> None:
    body = {"group_id": "g", "member_id": "m", "member_epoch": 0, "instance_id": None, "rack_id": "r1",
            "rebalance_timeout_ms": 300000, "subscribed_topic_names": ["t"], "subscribed_topic_regex": "t.*",
            "server_assignor": None, "topic_partitions": [{"topic_id": TOPIC, "partitions": [0, 2]}]}
    frame = codec.encode_request(ApiKey.CONSUMER_GROUP_HEARTBEAT, version, 5, "client", body)
    request = codec.decode_request(memoryview(frame)[4:])
    got = request.body
    assert request.api_version == version and request.correlation_id == 5
    assert got["subscribed_topic_regex"] == ("t.*" if version >= 1 else None)
    assert got["topic_partitions"] == [{"topic_id": TOPIC, "partitions": [0, 2]}]
    assert (got["member_epoch"], got["rack_id"], got["instance_id"]) == (0, "r1", None)
    for cut in range(4, len(frame) - 1, 7):
        with pytest.raises(ProtocolError):
            codec.decode_request(memoryview(frame)[4:cut])


@pytest.mark.parametrize("assignment", [None, {"topic_partitions": [{"topic_id": TOPIC, "partitions": [1]}]}])
def test_heartbeat_response_roundtrip(assignment: dict[str, object] | None) -> None:
    body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "member_id": "m", "member_epoch": 3,
            "heartbeat_interval_ms": 5000, "assignment": assignment}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, 9, body))
    got = codec.decode_response(frame[4:], ApiKey.CONSUMER_GROUP_HEARTBEAT, 1).body
    assert got["assignment"] == assignment and got["member_epoch"] == 3


@pytest.mark.parametrize("version", [0, 1])
def test_describe_roundtrip(version: int) -> None:
    tps = {"topic_partitions": [{"topic_id": TOPIC, "topic_name": "t", "partitions": [0]}]}
    body = {"throttle_time_ms": 0, "groups": [{
        "error_code": 0, "error_message": None, "group_id": "g", "group_state": "Stable", "group_epoch": 2,
        "assignment_epoch": 2, "assignor_name": "uniform", "authorized_operations": -2147483648,
        "members": [{"member_id": "m", "instance_id": None, "rack_id": None, "member_epoch": 2, "client_id": "c",
                     "client_host": "/127.0.0.1", "subscribed_topic_names": ["t"], "subscribed_topic_regex": None,
                     "assignment": tps, "target_assignment": tps, "member_type": 1}]}]}
    frame = b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.CONSUMER_GROUP_DESCRIBE, version, 1, body))
    got = codec.decode_response(frame[4:], ApiKey.CONSUMER_GROUP_DESCRIBE, version).body
    member = got["groups"][0]["members"][0]
    assert member["target_assignment"] == tps
    # v1 (KIP-1099) carries the member type; v0 has no such field on the wire (its default, -1).
    assert member["member_type"] == (1 if version >= 1 else -1)
    assert len(frame) == len(b"".join(bytes(c) for c in codec.encode_response(  # type: ignore[arg-type]
        ApiKey.CONSUMER_GROUP_DESCRIBE, 0, 1, body))) + (1 if version >= 1 else 0)
    request = codec.encode_request(ApiKey.CONSUMER_GROUP_DESCRIBE, version, 2, None,
                                   {"group_ids": ["g"], "include_authorized_operations": False})
    assert codec.decode_request(memoryview(request)[4:]).body["group_ids"] == ["g"]
