"""The "consumer" embedded protocol: what a consumer puts in JoinGroup metadata and SyncGroup assignments.

The coordinator treats member metadata and assignments as opaque bytes; this module reads them
only to answer questions about consumer groups (which topics a group is subscribed to for
OffsetDelete, which partitions a member owns for lag reports). Layouts follow Kafka's
``clients/src/main/resources/common/message/ConsumerProtocolSubscription.json`` and
``ConsumerProtocolAssignment.json`` (non-flexible; int16 strings, int32 arrays and bytes).
Versions newer than 3 append fields, so they are read as v3 (Kafka's own rule for this protocol).

ConsumerProtocolSubscription::

    field             type        versions  meaning
    version           int16       all
    topics            [string]    0+        subscribed topics
    userData          bytes?      0+        assignor-specific data
    ownedPartitions   array       1+        partitions the member owns (cooperative protocol):
      topic           string
      partitions      [int32]
    generationId      int32       2+        the member's last generation, -1 when unknown
    rackId            string?     3+

ConsumerProtocolAssignment::

    field               type      versions  meaning
    version             int16     all
    assignedPartitions  array     0+
      topic             string
      partitions        [int32]
    userData            bytes?    0+
"""

from __future__ import annotations

from dataclasses import dataclass

from logbroker.groups.schema import Reader, RecordFormatError

CONSUMER_PROTOCOL_TYPE = "consumer"


@dataclass(frozen=True, slots=True)
class Subscription:
    topics: tuple[str, ...]
    owned_partitions: tuple[tuple[str, int], ...] = ()


def _partitions(r: Reader) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for _ in range(r.array_len()):
        topic = r.string()
        out.extend((topic, r.int32()) for _ in range(r.array_len()))
    return out


def parse_subscription(data: bytes) -> Subscription:
    """Raises RecordFormatError on bytes that are not a ConsumerProtocolSubscription."""
    r = Reader(data)
    version = r.int16()
    if version < 0:
        raise RecordFormatError(f"negative subscription version {version}")
    topics = tuple(r.string() for _ in range(r.array_len()))
    r.bytes_()
    owned = _partitions(r) if version >= 1 else []
    return Subscription(topics, tuple(owned))


def parse_assignment(data: bytes) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of a ConsumerProtocolAssignment; empty bytes mean none."""
    if not data:
        return []
    r = Reader(data)
    version = r.int16()
    if version < 0:
        raise RecordFormatError(f"negative assignment version {version}")
    return _partitions(r)
