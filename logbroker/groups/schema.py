"""Kafka's record layouts for the internal topic ``__consumer_offsets``.

Every record the group coordinator writes is keyed; a null value (tombstone) deletes the key, so
the compacted topic converges to the latest offset of each (group, topic, partition) and the latest
metadata of each group. Layouts follow Apache Kafka's definitions in
``group-coordinator/src/main/resources/common/message/`` (``OffsetCommitKey.json``,
``OffsetCommitValue.json``, ``GroupMetadataKey.json``, ``GroupMetadataValue.json``); a broker
reading a Kafka data directory's ``__consumer_offsets`` would understand ours and vice versa.

Primitive types (Kafka protocol): integers are big-endian; ``string`` is an int16 length then
UTF-8 bytes (-1 length: null, only where nullable); ``bytes`` is an int32 length then the bytes;
arrays are an int32 count then the elements. Flexible versions (values v4) use compact forms
instead: unsigned varint length+1 (0: null) for strings, bytes and arrays, and a tagged-field
section (unsigned varint count, then tag, size, data per field) after each struct.

Every key and value starts with an int16 version. The key version tells the record type.

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
    leaderEpoch      int32    3+        leader epoch of the last consumed record, -1 if unknown
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

Partitioning: a group's records all go to partition ``abs(javaHashCode(groupId)) % partitions`` of
``__consumer_offsets`` (Kafka's ``GroupMetadataManager.partitionFor``, with ``Utils.abs`` mapping
Integer.MIN_VALUE to 0), so one append carries a whole OffsetCommit request.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

OFFSETS_TOPIC = "__consumer_offsets"

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_VALUE_VERSION = 3

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


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


# ------------------------------------------------------------------------------------- writing


def _string(value: str | None) -> bytes:
    if value is None:
        return _I16.pack(-1)
    raw = value.encode("utf-8")
    if len(raw) > 0x7FFF:
        raise ValueError(f"string of {len(raw)} bytes does not fit an int16 length")
    return _I16.pack(len(raw)) + raw


def _bytes(value: bytes) -> bytes:
    return _I32.pack(len(value)) + value


def encode_offset_commit_key(group: str, topic: str, partition: int) -> bytes:
    return _I16.pack(OFFSET_COMMIT_KEY_VERSION) + _string(group) + _string(topic) + _I32.pack(partition)


def encode_group_metadata_key(group: str) -> bytes:
    return _I16.pack(GROUP_METADATA_KEY_VERSION) + _string(group)


def encode_offset_commit_value(value: OffsetCommitValue) -> bytes:
    """OffsetCommitValue v3 (Kafka writes v1 only when an explicit expire timestamp is set)."""
    return (_I16.pack(OFFSET_COMMIT_VALUE_VERSION) + _I64.pack(value.offset) + _I32.pack(value.leader_epoch)
            + _string(value.metadata) + _I64.pack(value.commit_timestamp))


def encode_group_metadata_value(value: GroupMetadataValue) -> bytes:
    """GroupMetadataValue v3."""
    parts = [_I16.pack(GROUP_METADATA_VALUE_VERSION), _string(value.protocol_type), _I32.pack(value.generation),
             _string(value.protocol), _string(value.leader), _I64.pack(value.current_state_timestamp),
             _I32.pack(len(value.members))]
    for m in value.members:
        parts += [_string(m.member_id), _string(m.group_instance_id), _string(m.client_id), _string(m.client_host),
                  _I32.pack(m.rebalance_timeout), _I32.pack(m.session_timeout), _bytes(m.subscription),
                  _bytes(m.assignment)]
    return b"".join(parts)


# ------------------------------------------------------------------------------------- reading


class Reader:
    """Bounds-checked reads; every failure is a RecordFormatError."""

    __slots__ = ("buf", "flexible", "pos")

    def __init__(self, buf: bytes, flexible: bool = False) -> None:
        self.buf = buf
        self.pos = 0
        self.flexible = flexible

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise RecordFormatError(f"needs {n} bytes at position {self.pos} of {len(self.buf)}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        return int(_I16.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_I32.unpack(self._take(4))[0])

    def int64(self) -> int:
        return int(_I64.unpack(self._take(8))[0])

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise RecordFormatError("unsigned varint longer than 5 bytes")

    def _length(self, wide: bool) -> int:
        if self.flexible:
            return self.uvarint() - 1
        return self.int32() if wide else self.int16()

    def nullable_string(self) -> str | None:
        n = self._length(wide=False)
        if n < 0:
            return None
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordFormatError(f"string is not UTF-8: {exc}") from None

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise RecordFormatError("null where a string is required")
        return value

    def bytes_(self) -> bytes:
        n = self._length(wide=True)
        return b"" if n < 0 else self._take(n)

    def array_len(self) -> int:
        n = self._length(wide=True)
        if n > len(self.buf) - self.pos:
            raise RecordFormatError(f"array of {n} elements exceeds the remaining bytes")
        return max(n, 0)

    def tagged_fields(self) -> None:
        if not self.flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()
            self._take(self.uvarint())


def decode_key(key: bytes) -> OffsetCommitKey | GroupMetadataKey | None:
    """The key of a ``__consumer_offsets`` record; None for record types this broker does not use
    (Kafka 3.7+ writes others, e.g. ConsumerGroupMetadataKey v3+, for KIP-848 groups)."""
    r = Reader(key)
    version = r.int16()
    if version in (0, 1):
        return OffsetCommitKey(r.string(), r.string(), r.int32())
    if version == GROUP_METADATA_KEY_VERSION:
        return GroupMetadataKey(r.string())
    return None


def decode_offset_commit_value(value: bytes) -> OffsetCommitValue:
    r = Reader(value)
    version = r.int16()
    if not 0 <= version <= 4:
        raise RecordFormatError(f"unknown OffsetCommitValue version {version}")
    r.flexible = version >= 4
    offset = r.int64()
    leader_epoch = r.int32() if version >= 3 else -1
    metadata = r.string()
    commit_timestamp = r.int64()
    expire_timestamp = r.int64() if version == 1 else -1
    r.tagged_fields()
    return OffsetCommitValue(offset, leader_epoch, metadata, commit_timestamp, expire_timestamp)


def decode_group_metadata_value(value: bytes) -> GroupMetadataValue:
    r = Reader(value)
    version = r.int16()
    if not 0 <= version <= 4:
        raise RecordFormatError(f"unknown GroupMetadataValue version {version}")
    r.flexible = version >= 4
    protocol_type = r.string()
    generation = r.int32()
    protocol = r.nullable_string()
    leader = r.nullable_string()
    state_ts = r.int64() if version >= 2 else -1
    members = []
    for _ in range(r.array_len()):
        member_id = r.string()
        instance_id = r.nullable_string() if version >= 3 else None
        client_id = r.string()
        client_host = r.string()
        rebalance_timeout = r.int32() if version >= 1 else -1
        session_timeout = r.int32()
        if version == 0:
            rebalance_timeout = session_timeout
        subscription = r.bytes_()
        assignment = r.bytes_()
        r.tagged_fields()
        members.append(MemberMetadataValue(member_id, instance_id, client_id, client_host, rebalance_timeout,
                                           session_timeout, subscription, assignment))
    r.tagged_fields()
    return GroupMetadataValue(protocol_type, generation, protocol, leader, state_ts, tuple(members))


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
