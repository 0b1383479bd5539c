"""Version-prefixed records (logbroker/kafka/versioned.py): versions, leniency, and bad input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.schema import shipped_catalog
from logbroker.kafka.versioned import read_version, record_codec

RECORDS = sorted(shipped_catalog().records)


def test_every_record_definition_is_shipped() -> None:
    assert set(RECORDS) == {"OffsetCommitKey", "GroupMetadataKey", "OffsetCommitValue", "GroupMetadataValue",
                            "ConsumerProtocolSubscription", "ConsumerProtocolAssignment",
                            "SharePartitionStateKey", "SharePartitionStateValue", "ShareGroupConfigKey",
                            "ShareGroupConfigValue", "ShareGroupMetadataKey", "ShareGroupMetadataValue",
                            "ShareGroupStatePartitionMetadataKey", "ShareGroupStatePartitionMetadataValue",
                            "ConsumerGroupMetadataKey", "ConsumerGroupMetadataValue",
                            "ConsumerGroupMemberMetadataKey", "ConsumerGroupMemberMetadataValue",
                            "ConsumerGroupTargetAssignmentMetadataKey", "ConsumerGroupTargetAssignmentMetadataValue",
                            "ConsumerGroupTargetAssignmentMemberKey", "ConsumerGroupTargetAssignmentMemberValue",
                            "ConsumerGroupCurrentMemberAssignmentKey", "ConsumerGroupCurrentMemberAssignmentValue"}


def test_version_prefix_and_body() -> None:
    codec = record_codec("OffsetCommitKey")
    raw = codec.encode(0, {"group": "g", "topic": "t", "partition": 1})
    assert raw == b"\x00\x00\x00\x01g\x00\x01t\x00\x00\x00\x01"
    assert read_version(raw) == 0
    assert codec.decode(raw + b"later") == (0, {"group": "g", "topic": "t", "partition": 1})


def test_unknown_versions() -> None:
    codec = record_codec("ConsumerProtocolAssignment")
    raw = codec.encode(3, {"assigned_partitions": []})
    newer = b"\x00\x07" + raw[2:]
    with pytest.raises(ProtocolError):
        codec.decode(newer)
    assert codec.decode(newer, newer_as_newest=True)[0] == 7
    with pytest.raises(EncodeError):
        codec.encode(4, {})
    with pytest.raises(ProtocolError):
        read_version(b"\x00")


@pytest.mark.parametrize("name", RECORDS)
def test_every_truncation_is_a_protocol_error(name: str) -> None:
    codec = record_codec(name)
    version = codec.spec.valid.hi
    body = {"group": "g", "topic": "t", "topics": ["a"], "protocol_type": "consumer", "metadata": "m",
            "members": [{"member_id": "m", "client_id": "c", "client_host": "h", "subscription": b"",
                         "assignment": b""}],
            "assigned_partitions": [{"topic": "t", "partitions": [0]}]}
    raw = codec.encode(version, body)
    assert codec.decode(raw)[0] == version
    for end in range(len(raw)):
        with pytest.raises(ProtocolError):
            codec.decode(raw[:end])


@given(st.binary(max_size=80), st.sampled_from(RECORDS))
def test_garbage_raises_only_protocol_error(data: bytes, name: str) -> None:
    with contextlib.suppress(ProtocolError):
        record_codec(name).decode(data, newer_as_newest=True)
