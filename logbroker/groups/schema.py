"""Kafka's record layouts for the internal topic ``__consumer_offsets``.

Every record the group coordinator writes is keyed; a null value (tombstone) deletes the key, so
the compacted topic converges to the latest offset of each (group, topic, partition) and the latest
metadata of each group. The layouts are Kafka's (facts from Kafka's `group-coordinator` message
definitions, see docs/CODEC.md), so a broker reading a Kafka data directory's ``__consumer_offsets``
would understand ours and vice versa. They are declared in ``logbroker/kafka/messages/consumer_offsets.txt``
and encoded and decoded by the Kafka codec's compiler (``logbroker/kafka/versioned.py``); this
module maps them to dataclasses.

Every key and value starts with an int16 version; the key version tells the record type. Values
from version 4 on are flexible (compact lengths, tagged fields; unknown tags are skipped).

Key, versions 0 and 1 (identical layouts; written as v1) -- a committed offset::

    field       type     meaning
    version     int16    0 or 1
    group       string   group id
    topic       string   topic name
    partition   int32    partition index

Value OffsetCommitValue, written as v3 (read: v0-v4)::

    field            type     versions  meaning
    version          int16    all       0..4
    offset           int64    0+        the committed offset (next record to consume)
    leaderEpoch      int32    3+        epoch of the leader that served the committed position, -1 if unknown
    metadata         string   0+        client metadata, never null ("" when the client sent null)
    commitTimestamp  int64    0+        broker time of the commit (ms)
    expireTimestamp  int64    1 only    explicit expiry time (ms), from OffsetCommit v2-v4 retention
    (tagged fields)           4+        e.g. topicId (tag 0); skipped when read

Key, version 2 -- the metadata of a group::

    field       type     meaning
    version     int16    2
    group       string   group id

Value GroupMetadataValue, written as v3 (read: v0-v4)::

    field                  type      versions  meaning
    version                int16     all       0..4
    protocolType           string    0+        "consumer", "connect", ...; "" for offset-only groups
    generation             int32     0+        generation id
    protocol               string?   0+        selected protocol (assignor) name, null when Empty
    leader                 string?   0+        leader member id, null when Empty
    currentStateTimestamp  int64     2+        when the group entered its current state (ms), -1
    members                array     0+        one MemberMetadata per member:
      memberId             string    0+
      groupInstanceId      string?   3+        static membership (KIP-345)
      clientId             string    0+
      clientHost           string    0+
      rebalanceTimeout     int32     1+        ms (v0: equals sessionTimeout)
      sessionTimeout       int32     0+        ms
      subscription         bytes     0+        the member's metadata for the selected protocol
      assignment           bytes     0+        the member's assignment from the leader

Key, record type 11 -- a share group's metadata (Kafka 4.1's ShareGroupMetadataKey)::

    field       type     meaning
    version     int16    11 (Kafka's record type of a share group's metadata)
    group       string   group id

Value ShareGroupMetadataValue, v0 (flexible)::

    field         type    meaning
    version       int16   0
    epoch         int32   the group epoch
    metadataHash  int64   Kafka's hash of the subscribed topics' metadata (KIP-1101); written 0 here,
                          which only makes a Kafka coordinator reading it compute the assignment anew

Key, record type 15 -- a share group's share-partitions (Kafka 4.1's ShareGroupStatePartitionMetadataKey)::

    field       type     meaning
    version     int16    15
    group       string   group id

Value ShareGroupStatePartitionMetadataValue, v0 (flexible)::

    field               type     meaning
    version             int16    0
    initializingTopics  array    share-partitions whose state is being initialized (written empty here:
                                 a leader initializes its share-partition itself on first use)
      topicId           uuid
      topicName         string
      partitions        []int32
    initializedTopics   array    share-partitions whose state exists at the share coordinators (here:
                                 every one assigned to a member, reset or described by the admin),
                                 same fields
    deletingTopics      array    topics whose state is being deleted (written empty: a deletion is
                                 answered once done)
      topicId           uuid
      topicName         string

Keys, record types 3, 5, 6, 7, 8 -- a consumer-protocol group (KIP-848, Kafka 4.1's
ConsumerGroupMetadataKey, ConsumerGroupMemberMetadataKey, ConsumerGroupTargetAssignmentMetadataKey,
ConsumerGroupTargetAssignmentMemberKey, ConsumerGroupCurrentMemberAssignmentKey)::

    field       type     meaning
    version     int16    the record type
    group       string   group id
    member      string   member id (types 5, 7 and 8 only)

Values, v0 (flexible; the tagged fields Kafka may add are not written, and skipped when read)::

    type 3  epoch                 int32     the group epoch (tag 0, the metadata hash: not written)
    type 5  instanceId            string?   static membership
            rackId                string?
            clientId              string
            clientHost            string
            subscribedTopicNames  []string
            subscribedTopicRegex  string?
            rebalanceTimeoutMs    int32
            serverAssignor        string?   the assignor the member asked for
    type 6  assignmentEpoch       int32     the epoch of the target assignment
    type 7  topicPartitions       array     the member's target: topicId uuid, partitions []int32
    type 8  memberEpoch           int32
            previousMemberEpoch   int32
            state                 int8      Kafka's MemberState: 0 stable, 1 unrevoked partitions,
                                            2 unreleased partitions
            assignedPartitions    array     topicId uuid, partitions []int32
            partitionsPendingRevocation array  the same, the partitions being given back

Kafka 4.1 also writes records of share-group members, target assignments and current assignments
(types 10, 12, 13, 14); they are not written here (members join a new coordinator afresh) and are
skipped when read. Field names and types follow the message definitions in Kafka 4.1.1's
``kafka-group-coordinator`` jar (``CoordinatorRecordType`` gives the record types); Kafka's
``kafka-dump-log --offsets-decoder`` reads them (``tests/interop/test_share_group_records.py``,
``test_consumer_group_records.py``).

Partitioning: a group's records all go to partition ``abs(javaHashCode(groupId)) % partitions`` of
``__consumer_offsets`` (Kafka's ``GroupMetadataManager.partitionFor``, with ``Utils.abs`` mapping
Integer.MIN_VALUE to 0), so one append carries a whole OffsetCommit request.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.versioned import RecordCodec, read_version, record_codec

OFFSETS_TOPIC = "__consumer_offsets"

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_VALUE_VERSION = 3
SHARE_GROUP_METADATA_KEY_VERSION = 11
SHARE_GROUP_PARTITIONS_KEY_VERSION = 15
SHARE_GROUP_VALUE_VERSION = 0
CONSUMER_GROUP_METADATA_KEY_VERSION = 3
CONSUMER_MEMBER_METADATA_KEY_VERSION = 5
CONSUMER_TARGET_METADATA_KEY_VERSION = 6
CONSUMER_TARGET_MEMBER_KEY_VERSION = 7
CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION = 8
CONSUMER_GROUP_VALUE_VERSION = 0


class RecordFormatError(ValueError):
    """A key or value in ``__consumer_offsets`` does not follow any known layout."""


# ------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupMetadataKey:
    group: str


@dataclass(frozen=True, slots=True)
class ShareGroupMetadataKey:
    group: str


@dataclass(frozen=True, slots=True)
class ShareGroupPartitionsKey:
    """Kafka's ShareGroupStatePartitionMetadataKey."""

    group: str


@dataclass(frozen=True, slots=True)
class ShareTopicPartitions:
    topic_id: uuid.UUID
    topic: str
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConsumerGroupKey:
    """Kafka's ConsumerGroupMetadataKey (type 3): a consumer-protocol group's epoch."""

    group: str


@dataclass(frozen=True, slots=True)
class ConsumerTargetEpochKey:
    """Kafka's ConsumerGroupTargetAssignmentMetadataKey (type 6): the target assignment's epoch."""

    group: str


@dataclass(frozen=True, slots=True)
class ConsumerMemberKey:
    """One of a consumer-protocol member's records: Kafka's ConsumerGroupMemberMetadataKey (type 5),
    ConsumerGroupTargetAssignmentMemberKey (7) or ConsumerGroupCurrentMemberAssignmentKey (8)."""

    record_type: int
    group: str
    member: str


@dataclass(frozen=True, slots=True)
class ConsumerTopicPartitions:
    topic_id: uuid.UUID
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConsumerMemberMetadata:
    """ConsumerGroupMemberMetadataValue: what a member told the coordinator about itself."""

    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topics: tuple[str, ...]
    subscribed_regex: str | None
    rebalance_timeout_ms: int
    assignor: str | None


@dataclass(frozen=True, slots=True)
class ConsumerCurrentAssignment:
    """ConsumerGroupCurrentMemberAssignmentValue: where a member is in its reconciliation. ``state``
    is Kafka's MemberState code (0 stable, 1 unrevoked partitions, 2 unreleased partitions)."""

    epoch: int
    previous_epoch: int
    state: int
    assigned: tuple[ConsumerTopicPartitions, ...]
    revoking: tuple[ConsumerTopicPartitions, ...]


@dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp: int = -1
    expire_timestamp: int = -1


@dataclass(frozen=True, slots=True)
class MemberMetadataValue:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int
    members: tuple[MemberMetadataValue, ...]


# ------------------------------------------------------------------------------------- codecs

_OFFSET_COMMIT_KEY = record_codec("OffsetCommitKey")
_GROUP_METADATA_KEY = record_codec("GroupMetadataKey")
_OFFSET_COMMIT_VALUE = record_codec("OffsetCommitValue")
_GROUP_METADATA_VALUE = record_codec("GroupMetadataValue")
_SHARE_GROUP_METADATA_KEY = record_codec("ShareGroupMetadataKey")
_SHARE_GROUP_PARTITIONS_KEY = record_codec("ShareGroupStatePartitionMetadataKey")
_SHARE_GROUP_METADATA_VALUE = record_codec("ShareGroupMetadataValue")
_SHARE_GROUP_PARTITIONS_VALUE = record_codec("ShareGroupStatePartitionMetadataValue")
_CONSUMER_GROUP_KEY = record_codec("ConsumerGroupMetadataKey")
_CONSUMER_TARGET_EPOCH_KEY = record_codec("ConsumerGroupTargetAssignmentMetadataKey")
_CONSUMER_MEMBER_KEYS = {
    CONSUMER_MEMBER_METADATA_KEY_VERSION: record_codec("ConsumerGroupMemberMetadataKey"),
    CONSUMER_TARGET_MEMBER_KEY_VERSION: record_codec("ConsumerGroupTargetAssignmentMemberKey"),
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION: record_codec("ConsumerGroupCurrentMemberAssignmentKey")}
_CONSUMER_GROUP_VALUE = record_codec("ConsumerGroupMetadataValue")
_CONSUMER_TARGET_EPOCH_VALUE = record_codec("ConsumerGroupTargetAssignmentMetadataValue")
_CONSUMER_MEMBER_VALUE = record_codec("ConsumerGroupMemberMetadataValue")
_CONSUMER_TARGET_MEMBER_VALUE = record_codec("ConsumerGroupTargetAssignmentMemberValue")
_CONSUMER_CURRENT_ASSIGNMENT_VALUE = record_codec("ConsumerGroupCurrentMemberAssignmentValue")


def _encode(codec: RecordCodec, version: int, body: dict[str, Any]) -> bytes:
    try:
        return codec.encode(version, body)
    except EncodeError as exc:
        raise RecordFormatError(str(exc)) from None


def _decode(codec: RecordCodec, data: bytes) -> tuple[int, dict[str, Any]]:
    try:
        return codec.decode(data)
    except ProtocolError as exc:
        raise RecordFormatError(str(exc)) from None


# ------------------------------------------------------------------------------------- writing


def encode_offset_commit_key(group: str, topic: str, partition: int) -> bytes:
    return _encode(_OFFSET_COMMIT_KEY, OFFSET_COMMIT_KEY_VERSION, {"group": group, "topic": topic,
                                                                   "partition": partition})


def encode_group_metadata_key(group: str) -> bytes:
    return _encode(_GROUP_METADATA_KEY, GROUP_METADATA_KEY_VERSION, {"group": group})


def encode_offset_commit_value(value: OffsetCommitValue) -> bytes:
    """OffsetCommitValue v3 (Kafka writes v1 only when an explicit expire timestamp is set)."""
    return _encode(_OFFSET_COMMIT_VALUE, OFFSET_COMMIT_VALUE_VERSION, {
        "offset": value.offset, "leader_epoch": value.leader_epoch, "metadata": value.metadata,
        "commit_timestamp": value.commit_timestamp})


def encode_group_metadata_value(value: GroupMetadataValue) -> bytes:
    """GroupMetadataValue v3."""
    return _encode(_GROUP_METADATA_VALUE, GROUP_METADATA_VALUE_VERSION, {
        "protocol_type": value.protocol_type, "generation": value.generation, "protocol": value.protocol,
        "leader": value.leader, "current_state_timestamp": value.current_state_timestamp,
        "members": [dataclasses.asdict(m) for m in value.members]})


def encode_share_group_metadata_key(group: str) -> bytes:
    return _encode(_SHARE_GROUP_METADATA_KEY, SHARE_GROUP_METADATA_KEY_VERSION, {"group": group})


def encode_share_group_partitions_key(group: str) -> bytes:
    return _encode(_SHARE_GROUP_PARTITIONS_KEY, SHARE_GROUP_PARTITIONS_KEY_VERSION, {"group": group})


def encode_share_group_metadata_value(epoch: int) -> bytes:
    """ShareGroupMetadataValue v0 (metadata hash 0: not computed here)."""
    return _encode(_SHARE_GROUP_METADATA_VALUE, SHARE_GROUP_VALUE_VERSION, {"epoch": epoch, "metadata_hash": 0})


def encode_share_group_partitions_value(initialized: tuple[ShareTopicPartitions, ...]) -> bytes:
    """ShareGroupStatePartitionMetadataValue v0: only ``initializedTopics`` is filled."""
    return _encode(_SHARE_GROUP_PARTITIONS_VALUE, SHARE_GROUP_VALUE_VERSION, {
        "initializing_topics": [], "deleting_topics": [],
        "initialized_topics": [{"topic_id": t.topic_id, "topic_name": t.topic, "partitions": list(t.partitions)}
                               for t in initialized]})


def encode_consumer_group_key(group: str) -> bytes:
    return _encode(_CONSUMER_GROUP_KEY, CONSUMER_GROUP_METADATA_KEY_VERSION, {"group": group})


def encode_consumer_target_epoch_key(group: str) -> bytes:
    return _encode(_CONSUMER_TARGET_EPOCH_KEY, CONSUMER_TARGET_METADATA_KEY_VERSION, {"group": group})


def encode_consumer_member_key(record_type: int, group: str, member: str) -> bytes:
    """The key of a member's record of ``record_type`` (5, 7 or 8)."""
    return _encode(_CONSUMER_MEMBER_KEYS[record_type], record_type, {"group": group, "member": member})


def encode_consumer_group_value(epoch: int) -> bytes:
    """ConsumerGroupMetadataValue v0 (no metadata hash: its tag is left out, which Kafka reads as 0)."""
    return _encode(_CONSUMER_GROUP_VALUE, CONSUMER_GROUP_VALUE_VERSION, {"epoch": epoch})


def encode_consumer_target_epoch_value(epoch: int) -> bytes:
    return _encode(_CONSUMER_TARGET_EPOCH_VALUE, CONSUMER_GROUP_VALUE_VERSION, {"assignment_epoch": epoch})


def encode_consumer_member_value(value: ConsumerMemberMetadata) -> bytes:
    return _encode(_CONSUMER_MEMBER_VALUE, CONSUMER_GROUP_VALUE_VERSION, {
        "instance_id": value.instance_id, "rack_id": value.rack_id, "client_id": value.client_id,
        "client_host": value.client_host, "subscribed_topic_names": list(value.subscribed_topics),
        "subscribed_topic_regex": value.subscribed_regex, "rebalance_timeout_ms": value.rebalance_timeout_ms,
        "server_assignor": value.assignor})


def _topic_partitions_out(value: tuple[ConsumerTopicPartitions, ...]) -> list[dict[str, Any]]:
    return [{"topic_id": t.topic_id, "partitions": list(t.partitions)} for t in value]


def _topic_partitions_in(value: list[dict[str, Any]]) -> tuple[ConsumerTopicPartitions, ...]:
    return tuple(ConsumerTopicPartitions(t["topic_id"], tuple(t["partitions"])) for t in value)


def encode_consumer_target_value(partitions: tuple[ConsumerTopicPartitions, ...]) -> bytes:
    return _encode(_CONSUMER_TARGET_MEMBER_VALUE, CONSUMER_GROUP_VALUE_VERSION,
                   {"topic_partitions": _topic_partitions_out(partitions)})


def encode_consumer_current_value(value: ConsumerCurrentAssignment) -> bytes:
    return _encode(_CONSUMER_CURRENT_ASSIGNMENT_VALUE, CONSUMER_GROUP_VALUE_VERSION, {
        "member_epoch": value.epoch, "previous_member_epoch": value.previous_epoch, "state": value.state,
        "assigned_partitions": _topic_partitions_out(value.assigned),
        "partitions_pending_revocation": _topic_partitions_out(value.revoking)})


# ------------------------------------------------------------------------------------- reading


Key = (OffsetCommitKey | GroupMetadataKey | ShareGroupMetadataKey | ShareGroupPartitionsKey | ConsumerGroupKey
       | ConsumerTargetEpochKey | ConsumerMemberKey)


def decode_key(key: bytes) -> Key | None:
    """The key of a ``__consumer_offsets`` record; None for record types this broker does not use
    (Kafka writes others, e.g. share-group members' records, types 10 and 12-14)."""
    try:
        version = read_version(key)
    except ProtocolError as exc:
        raise RecordFormatError(str(exc)) from None
    if version in _OFFSET_COMMIT_KEY.spec.valid:
        body = _decode(_OFFSET_COMMIT_KEY, key)[1]
        return OffsetCommitKey(body["group"], body["topic"], body["partition"])
    if version in _GROUP_METADATA_KEY.spec.valid:
        return GroupMetadataKey(_decode(_GROUP_METADATA_KEY, key)[1]["group"])
    if version in _SHARE_GROUP_METADATA_KEY.spec.valid:
        return ShareGroupMetadataKey(_decode(_SHARE_GROUP_METADATA_KEY, key)[1]["group"])
    if version in _SHARE_GROUP_PARTITIONS_KEY.spec.valid:
        return ShareGroupPartitionsKey(_decode(_SHARE_GROUP_PARTITIONS_KEY, key)[1]["group"])
    if version == CONSUMER_GROUP_METADATA_KEY_VERSION:
        return ConsumerGroupKey(_decode(_CONSUMER_GROUP_KEY, key)[1]["group"])
    if version == CONSUMER_TARGET_METADATA_KEY_VERSION:
        return ConsumerTargetEpochKey(_decode(_CONSUMER_TARGET_EPOCH_KEY, key)[1]["group"])
    codec = _CONSUMER_MEMBER_KEYS.get(version)
    if codec is not None:
        body = _decode(codec, key)[1]
        return ConsumerMemberKey(version, body["group"], body["member"])
    return None


def decode_consumer_group_value(value: bytes) -> int:
    """The group epoch of a ConsumerGroupMetadataValue."""
    return int(_decode(_CONSUMER_GROUP_VALUE, value)[1]["epoch"])


def decode_consumer_target_epoch_value(value: bytes) -> int:
    return int(_decode(_CONSUMER_TARGET_EPOCH_VALUE, value)[1]["assignment_epoch"])


def decode_consumer_member_value(value: bytes) -> ConsumerMemberMetadata:
    body = _decode(_CONSUMER_MEMBER_VALUE, value)[1]
    return ConsumerMemberMetadata(body["instance_id"], body["rack_id"], body["client_id"], body["client_host"],
                                  tuple(body["subscribed_topic_names"]), body["subscribed_topic_regex"],
                                  body["rebalance_timeout_ms"], body["server_assignor"])


def decode_consumer_target_value(value: bytes) -> tuple[ConsumerTopicPartitions, ...]:
    return _topic_partitions_in(_decode(_CONSUMER_TARGET_MEMBER_VALUE, value)[1]["topic_partitions"])


def decode_consumer_current_value(value: bytes) -> ConsumerCurrentAssignment:
    body = _decode(_CONSUMER_CURRENT_ASSIGNMENT_VALUE, value)[1]
    return ConsumerCurrentAssignment(body["member_epoch"], body["previous_member_epoch"], body["state"],
                                     _topic_partitions_in(body["assigned_partitions"]),
                                     _topic_partitions_in(body["partitions_pending_revocation"]))


def decode_share_group_metadata_value(value: bytes) -> int:
    """The group epoch of a ShareGroupMetadataValue."""
    return int(_decode(_SHARE_GROUP_METADATA_VALUE, value)[1]["epoch"])


def decode_share_group_partitions_value(value: bytes) -> tuple[ShareTopicPartitions, ...]:
    """The initialized share-partitions of a ShareGroupStatePartitionMetadataValue."""
    body = _decode(_SHARE_GROUP_PARTITIONS_VALUE, value)[1]
    return tuple(ShareTopicPartitions(t["topic_id"], t["topic_name"], tuple(t["partitions"]))
                 for t in body["initialized_topics"])


def decode_offset_commit_value(value: bytes) -> OffsetCommitValue:
    _, body = _decode(_OFFSET_COMMIT_VALUE, value)
    return OffsetCommitValue(body["offset"], body["leader_epoch"], body["metadata"], body["commit_timestamp"],
                             body["expire_timestamp"])


def decode_group_metadata_value(value: bytes) -> GroupMetadataValue:
    version, body = _decode(_GROUP_METADATA_VALUE, value)
    members = []
    for m in body["members"]:
        if version == 0:
            m["rebalance_timeout"] = m["session_timeout"]  # v0 has one timeout for both
        members.append(MemberMetadataValue(**m))
    return GroupMetadataValue(body["protocol_type"], body["generation"], body["protocol"], body["leader"],
                              body["current_state_timestamp"], tuple(members))


# ------------------------------------------------------------------------------------- partitioning


def java_string_hash(s: str) -> int:
    """``java.lang.String.hashCode``: s[0]*31^(n-1) + ... over UTF-16 code units, as an int32."""
    h = 0
    raw = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(raw), 2):
        h = (31 * h + ((raw[i] << 8) | raw[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of a group (Kafka: ``Utils.abs(groupId.hashCode) % n``)."""
    h = java_string_hash(group_id)
    return (0 if h == -(2**31) else abs(h)) % partitions
