"""``__share_group_state``: the durable state of every share-partition (KIP-932).

One record per (group, topic, partition), written whole after each change that must survive a
restart (acknowledgements are answered only once their record is durable); the compacted topic keeps
the latest. The layouts are declared in ``logbroker/kafka/messages/share_group_state.txt`` (our own,
shaped like Kafka's ShareSnapshot records) and compiled by the schema engine::

    key: SharePartitionStateKey v0
      field        type     meaning
      version      int16    0
      group        string   share group id
      topic        string   topic name
      partition    int32    partition index

    value: SharePartitionStateValue v0 (flexible)
      field          type     meaning
      version        int16    0
      stateEpoch     int32    bumped when the state is reset (AlterShareGroupOffsets)
      startOffset    int64    the SPSO: every offset below it is finished
      stateBatches   array    runs of offsets at or above the SPSO:
        firstOffset    int64
        lastOffset     int64
        deliveryState  int8     0 available, 2 acknowledged, 4 archived (Kafka's numbering)
        deliveryCount  int16    deliveries so far
      leaderEpoch    int32    tagged field 0, default -1: the newest leader epoch of the
                              share-partition its share coordinator had seen (as Kafka's
                              ShareSnapshotValue keeps it), so a coordinator that loads the record
                              fences an older leader's writes at once

    key: ShareGroupConfigKey v1 -- a share group's configs (share.auto.offset.reset, ...)
      field        type     meaning
      version      int16    1
      group        string   share group id

    value: ShareGroupConfigValue v0 (flexible)
      configs      array    name, value (strings): the group's overrides of the broker defaults

A null value (tombstone) deletes a share-partition's state (DeleteShareGroupOffsets, group deletion)
or a group's configs.

A share-partition's records go to the partition of its share-coordinator key, as in Kafka 4.1:
``abs(javaHashCode(key)) % partitions`` with the key ``group:topicId:partition``, the topic id in
Kafka's text form (URL-safe base64 of its 16 bytes, no padding). Sources: Kafka 4.1.1's
``FindCoordinatorRequest.json`` (key type SHARE and its key format), ``SharePartitionKey`` and
``ShareCoordinatorService.partitionFor``. A group's configs go to the partition of
``group::-1`` (logbroker's own key). Data written before partitioning used topic ids (by topic
name) is still read: on replay a record in a key's own partition wins over one found elsewhere.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass

from logbroker.groups.offsets_topic import GroupLog
from logbroker.groups.schema import partition_for
from logbroker.groups.share_partition import RecordState, StateBatch
from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.versioned import read_version, record_codec
from logbroker.topics import SHARE_STATE_TOPIC as SHARE_STATE_TOPIC

log = logging.getLogger(__name__)

SHARE_STATE_TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": str(100 * 1024 * 1024)}

_KEY = record_codec("SharePartitionStateKey")
_VALUE = record_codec("SharePartitionStateValue")
_CONFIG_KEY = record_codec("ShareGroupConfigKey")
_CONFIG_VALUE = record_codec("ShareGroupConfigValue")

SharePartitionKey = tuple[str, str, int]  # (group, topic, partition)


@dataclass(frozen=True, slots=True)
class SharePartitionSnapshot:
    start_offset: int
    state_epoch: int
    batches: tuple[StateBatch, ...]
    leader_epoch: int = -1  # the newest leader epoch its share coordinator had seen (-1: none)


def encode_key(group: str, topic: str, partition: int) -> bytes:
    return _KEY.encode(0, {"group": group, "topic": topic, "partition": partition})


def encode_value(snapshot: SharePartitionSnapshot) -> bytes:
    return _VALUE.encode(0, {"state_epoch": snapshot.state_epoch, "start_offset": snapshot.start_offset,
                             "state_batches": [{"first_offset": b.first_offset, "last_offset": b.last_offset,
                                                "delivery_state": int(b.state),
                                                "delivery_count": min(b.delivery_count, 32767)}
                                               for b in snapshot.batches],
                             "leader_epoch": snapshot.leader_epoch})


def encode_config_key(group: str) -> bytes:
    return _CONFIG_KEY.encode(1, {"group": group})


def encode_config_value(configs: dict[str, str]) -> bytes:
    return _CONFIG_VALUE.encode(0, {"configs": [{"name": k, "value": v} for k, v in sorted(configs.items())]})


def decode_key(data: bytes) -> SharePartitionKey | str:
    """A share-partition's key, or the group id of a group-config key."""
    if read_version(data) == 1:
        return str(_CONFIG_KEY.decode(data)[1]["group"])
    body = _KEY.decode(data)[1]
    return body["group"], body["topic"], body["partition"]


def merge_batches(held: tuple[StateBatch, ...], written: tuple[StateBatch, ...], start_offset: int
                  ) -> tuple[StateBatch, ...]:
    """The state batches after a WriteShareGroupState, as Kafka 4.1.1 keeps them: the written batches
    over the held ones (an offset in both takes the written state), nothing below the start offset."""
    kept: list[StateBatch] = []
    covered = sorted((b.first_offset, b.last_offset) for b in written)
    for batch in held:
        pieces = [(batch.first_offset, batch.last_offset)]
        for first, last in covered:
            cut: list[tuple[int, int]] = []
            for lo, hi in pieces:
                if last < lo or first > hi:
                    cut.append((lo, hi))
                    continue
                if lo < first:
                    cut.append((lo, first - 1))
                if hi > last:
                    cut.append((last + 1, hi))
            pieces = cut
        kept.extend(StateBatch(lo, hi, batch.state, batch.delivery_count) for lo, hi in pieces)
    merged = [StateBatch(max(b.first_offset, start_offset), b.last_offset, b.state, b.delivery_count)
              for b in (*kept, *written) if b.last_offset >= start_offset]
    return tuple(sorted(merged, key=lambda b: b.first_offset))


def decode_value(data: bytes) -> SharePartitionSnapshot:
    body = _VALUE.decode(data)[1]
    return SharePartitionSnapshot(body["start_offset"], body["state_epoch"], tuple(
        StateBatch(b["first_offset"], b["last_offset"], RecordState(b["delivery_state"]), b["delivery_count"])
        for b in body["state_batches"]), int(body.get("leader_epoch", -1)))


def kafka_uuid_text(value: uuid.UUID) -> str:
    """Kafka's text form of a UUID (``Uuid.toString``): URL-safe base64, no padding."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def coordinator_key(group: str, topic_id: uuid.UUID, partition: int) -> str:
    """The share-coordinator key of a share-partition (FindCoordinator key type SHARE)."""
    return f"{group}:{kafka_uuid_text(topic_id)}:{partition}"


def parse_coordinator_key(key: str) -> tuple[str, uuid.UUID, int] | None:
    """(group, topic id, partition) of ``group:topicId:partition``; None when malformed: anything but
    three fields (a group id holding ``:`` too, as Kafka 4.1.1 refuses it), a topic id that is not
    Kafka's text form of one, a partition that is not a number."""
    parts = key.split(":")
    if len(parts) != 3 or not parts[0] or not parts[2].isdigit():
        return None
    group, text, index = parts
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    if len(raw) != 16 or kafka_uuid_text(uuid.UUID(bytes=raw)) != text:
        return None
    return group, uuid.UUID(bytes=raw), int(index)


def key_partition(key: str, partitions: int) -> int:
    """The ``__share_group_state`` partition of a share-coordinator key."""
    return partition_for(key, partitions)


def state_partition(group: str, topic_id: uuid.UUID, partition: int, partitions: int) -> int:
    return key_partition(coordinator_key(group, topic_id, partition), partitions)


def config_partition(group: str, partitions: int) -> int:
    return partition_for(f"{group}::-1", partitions)


@dataclass(slots=True)
class ReplayedShareState:
    partitions: dict[SharePartitionKey, SharePartitionSnapshot]
    configs: dict[str, dict[str, str]]
    where: dict[SharePartitionKey, int]  # the state partition each share-partition's record was read from


# The state partition a share-partition's records belong in (None: unknown, its topic is gone).
HomePartition = Callable[[SharePartitionKey], int | None]


def replay(state_log: GroupLog, partitions: Collection[int] | None = None,
           home: HomePartition | None = None) -> ReplayedShareState:
    """The latest snapshot of every share-partition and the configs of every share group in
    ``partitions`` (None: all); unreadable records are skipped. With ``home``, a record read from its
    key's own partition wins over any read elsewhere (older data partitioned another way)."""
    out = ReplayedShareState({}, {}, {})
    at_home: set[SharePartitionKey] = set()
    for record in state_log.replay(partitions):
        try:
            key = decode_key(record.key)
            if isinstance(key, str):
                if record.value is None:
                    out.configs.pop(key, None)
                else:
                    body = _CONFIG_VALUE.decode(record.value)[1]
                    out.configs[key] = {c["name"]: c["value"] for c in body["configs"]}
                continue
            own = home(key) if home is not None else None
            if own is not None and own == record.partition:
                at_home.add(key)
            elif key in at_home:
                continue  # the record in the key's own partition decides
            out.where[key] = record.partition
            if record.value is None:
                out.partitions.pop(key, None)
                out.where.pop(key, None)
            else:
                out.partitions[key] = decode_value(record.value)
        except (ProtocolError, EncodeError, ValueError) as exc:
            log.warning("%s-%d offset %d: unreadable record skipped: %s", SHARE_STATE_TOPIC, record.partition,
                        record.offset, exc)
    return out
