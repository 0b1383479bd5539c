"""The "consumer" embedded protocol: what a consumer puts in JoinGroup metadata and SyncGroup assignments.

The coordinator treats member metadata and assignments as opaque bytes; this module reads them
only to answer questions about consumer groups (which topics a group is subscribed to for
OffsetDelete, which partitions a member owns for lag reports); `encode_subscription` and
`encode_assignment` write the bytes a consumer expects. The layouts are declared in
``logbroker/kafka/messages/consumer_protocol.txt`` (Kafka's, never flexible: int16 strings, int32
arrays and bytes; facts sourced in docs/CODEC.md) and compiled by the Kafka codec's compiler
(``logbroker/kafka/versioned.py``). Versions newer than 3 only append fields, so they are read as
v3, as Kafka does.

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
from typing import Any

from logbroker.groups.schema import RecordFormatError
from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.versioned import RecordCodec, record_codec

CONSUMER_PROTOCOL_TYPE = "consumer"

_SUBSCRIPTION = record_codec("ConsumerProtocolSubscription")
_ASSIGNMENT = record_codec("ConsumerProtocolAssignment")


@dataclass(frozen=True, slots=True)
class Subscription:
    topics: tuple[str, ...]
    owned_partitions: tuple[tuple[str, int], ...] = ()


def _decode(codec: RecordCodec, data: bytes) -> dict[str, Any]:
    try:
        return codec.decode(data, newer_as_newest=True)[1]
    except ProtocolError as exc:
        raise RecordFormatError(str(exc)) from None


def _pairs(topics: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(t["topic"], p) for t in topics for p in t["partitions"]]


def _by_topic(pairs: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    grouped: dict[str, list[int]] = {}
    for topic, partition in pairs:
        grouped.setdefault(topic, []).append(partition)
    return [{"topic": topic, "partitions": partitions} for topic, partitions in grouped.items()]


def parse_subscription(data: bytes) -> Subscription:
    """Raises RecordFormatError on bytes that are not a ConsumerProtocolSubscription."""
    body = _decode(_SUBSCRIPTION, data)
    return Subscription(tuple(body["topics"]), tuple(_pairs(body["owned_partitions"])))


def parse_assignment(data: bytes) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of a ConsumerProtocolAssignment; empty bytes mean none."""
    if not data:
        return []
    return _pairs(_decode(_ASSIGNMENT, data)["assigned_partitions"])


def encode_subscription(subscription: Subscription, version: int = 1, user_data: bytes | None = None) -> bytes:
    """A ConsumerProtocolSubscription (v1 by default: topics, user data, owned partitions)."""
    try:
        return _SUBSCRIPTION.encode(version, {"topics": list(subscription.topics), "user_data": user_data,
                                              "owned_partitions": _by_topic(subscription.owned_partitions)})
    except EncodeError as exc:
        raise RecordFormatError(str(exc)) from None


def encode_assignment(
    partitions: list[tuple[str, int]] | tuple[tuple[str, int], ...], version: int = 0, user_data: bytes | None = None
) -> bytes:
    """A ConsumerProtocolAssignment of (topic, partition) pairs, grouped by topic in first-seen order."""
    try:
        return _ASSIGNMENT.encode(version, {"assigned_partitions": _by_topic(partitions), "user_data": user_data})
    except EncodeError as exc:
        raise RecordFormatError(str(exc)) from None
