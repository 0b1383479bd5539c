"""``__consumer_offsets`` record layouts (logbroker/groups/schema.py)."""

from __future__ import annotations

import contextlib
import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logbroker.groups.schema import (
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    RecordFormatError,
    ShareGroupMetadataKey,
    ShareGroupPartitionsKey,
    ShareTopicPartitions,
    decode_group_metadata_value,
    decode_key,
    decode_offset_commit_value,
    decode_share_group_metadata_value,
    decode_share_group_partitions_value,
    encode_group_metadata_key,
    encode_group_metadata_value,
    encode_offset_commit_key,
    encode_offset_commit_value,
    encode_share_group_metadata_key,
    encode_share_group_metadata_value,
    encode_share_group_partitions_key,
    encode_share_group_partitions_value,
    java_string_hash,
    partition_for,
)


def test_offset_commit_key_bytes_match_kafka() -> None:
    # version 1 | "g" | "t" | partition 3
    assert encode_offset_commit_key("g", "t", 3) == b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x03"
    assert decode_key(encode_offset_commit_key("g", "t", 3)) == OffsetCommitKey("g", "t", 3)
    # version 0 keys (older Kafka) have the same layout
    assert decode_key(b"\x00\x00\x00\x01g\x00\x01t\x00\x00\x00\x03") == OffsetCommitKey("g", "t", 3)


def test_group_metadata_key() -> None:
    assert encode_group_metadata_key("grp") == b"\x00\x02\x00\x03grp"
    assert decode_key(b"\x00\x02\x00\x03grp") == GroupMetadataKey("grp")
    assert decode_key(b"\x00\x0a\x00\x03grp") is None  # a share-group member's record: not read here


def test_offset_commit_value_v3_bytes() -> None:
    raw = encode_offset_commit_value(OffsetCommitValue(42, 7, "meta", 1000))
    assert raw == struct.pack(">hqih4sq", 3, 42, 7, 4, b"meta", 1000)
    assert decode_offset_commit_value(raw) == OffsetCommitValue(42, 7, "meta", 1000, -1)


def test_offset_commit_value_old_and_flexible_versions() -> None:
    v0 = struct.pack(">hqh1sq", 0, 5, 1, b"m", 99)
    assert decode_offset_commit_value(v0) == OffsetCommitValue(5, -1, "m", 99, -1)
    v1 = struct.pack(">hqh1sqq", 1, 5, 1, b"m", 99, 12345)
    assert decode_offset_commit_value(v1) == OffsetCommitValue(5, -1, "m", 99, 12345)
    # v4: compact string (length+1 as uvarint) and a tagged field section with one field (tag 0, 16 bytes)
    v4 = struct.pack(">hqi", 4, 5, 2) + b"\x02m" + struct.pack(">q", 99) + b"\x01\x00\x10" + bytes(16)
    assert decode_offset_commit_value(v4) == OffsetCommitValue(5, 2, "m", 99, -1)


def test_group_metadata_value_round_trip() -> None:
    value = GroupMetadataValue("consumer", 7, "range", "m1", 1234, (
        MemberMetadataValue("m1", None, "client", "/127.0.0.1", 30000, 6000, b"sub", b"assign"),
        MemberMetadataValue("m2", "instance-2", "client", "/127.0.0.2", 30000, 10000, b"", b""),
    ))
    assert decode_group_metadata_value(encode_group_metadata_value(value)) == value
    empty = GroupMetadataValue("", 3, None, None, -1, ())
    assert decode_group_metadata_value(encode_group_metadata_value(empty)) == empty


def test_truncated_values_raise_format_error() -> None:
    raw = encode_offset_commit_value(OffsetCommitValue(42, 7, "meta", 1000))
    for cut in range(len(raw)):
        with pytest.raises(RecordFormatError):
            decode_offset_commit_value(raw[:cut])
    with pytest.raises(RecordFormatError):
        decode_offset_commit_value(struct.pack(">h", 9) + bytes(30))


@given(st.binary(max_size=64))
def test_garbage_never_raises_anything_else(data: bytes) -> None:
    for decode in (decode_key, decode_offset_commit_value, decode_group_metadata_value):
        with contextlib.suppress(RecordFormatError):
            decode(data)


def test_java_hash_code_and_partition() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("abc") == 96354
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2**31)  # Integer.MIN_VALUE: Utils.abs gives 0
    assert partition_for("polygenelubricants", 50) == 0
    assert java_string_hash("é😀") == 0xE9 * 31 * 31 + 0xD83D * 31 + 0xDE00  # UTF-16 code units
    assert partition_for("console-consumer-12345", 50) == abs(java_string_hash("console-consumer-12345")) % 50


@given(st.text(max_size=40), st.integers(1, 200))
def test_partition_in_range(group: str, partitions: int) -> None:
    assert 0 <= partition_for(group, partitions) < partitions


def test_group_metadata_value_every_version_and_flexible_v4() -> None:
    from logbroker.kafka.versioned import record_codec

    codec = record_codec("GroupMetadataValue")
    member = {"member_id": "m", "group_instance_id": "i", "client_id": "c", "client_host": "h",
              "rebalance_timeout": 300, "session_timeout": 100, "subscription": b"s", "assignment": b"a"}
    for version in range(5):
        raw = codec.encode(version, {"protocol_type": "consumer", "generation": 2, "protocol": "range",
                                     "leader": "m", "current_state_timestamp": 77, "members": [member]})
        got = decode_group_metadata_value(raw)
        m = got.members[0]
        assert (got.generation, got.protocol, m.member_id, m.session_timeout) == (2, "range", "m", 100)
        assert got.current_state_timestamp == (77 if version >= 2 else -1)
        assert m.group_instance_id == ("i" if version >= 3 else None)
        assert m.rebalance_timeout == (300 if version >= 1 else 100)  # v0: the session timeout
    # v4 is flexible: compact strings (length + 1) and a tagged-field section per struct
    assert raw[:11] == b"\x00\x04\x09consumer"


def test_share_group_records_are_laid_out_as_kafka_4_1_writes_them() -> None:
    """Record type 11 (ShareGroupMetadata) and 15 (ShareGroupStatePartitionMetadata): the key is the
    type then the group id; the values are flexible v0 (compact arrays and strings, tagged fields)."""
    assert encode_share_group_metadata_key("g") == b"\x00\x0b" + b"\x00\x01g"
    assert encode_share_group_partitions_key("g") == b"\x00\x0f" + b"\x00\x01g"
    assert decode_key(b"\x00\x0b\x00\x01g") == ShareGroupMetadataKey("g")
    assert decode_key(b"\x00\x0f\x00\x01g") == ShareGroupPartitionsKey("g")
    # version 0, epoch 3, metadata hash 0, no tagged fields
    value = encode_share_group_metadata_value(3)
    assert value == b"\x00\x00" + struct.pack(">iq", 3, 0) + b"\x00"
    assert decode_share_group_metadata_value(value) == 3
    tid = uuid.UUID("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    topics = (ShareTopicPartitions(tid, "t", (0, 2)),)
    value = encode_share_group_partitions_value(topics)
    # version 0; initializing: empty (compact length 1); initialized: one topic (id, "t", [0, 2], no
    # tags); deleting: empty; no tagged fields
    assert value == (b"\x00\x00" + b"\x01" + b"\x02" + tid.bytes + b"\x02t" + b"\x03" + struct.pack(">ii", 0, 2)
                     + b"\x00" + b"\x01" + b"\x00")
    assert decode_share_group_partitions_value(value) == topics
    # Kafka 4.1's other share-group record types (members, assignments) are skipped when read.
    assert decode_key(b"\x00\x0a\x00\x01g\x00\x01m") is None
