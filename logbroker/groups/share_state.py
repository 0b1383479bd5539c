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

    key: ShareGroupConfigKey v1 -- a share group's configs (share.auto.offset.reset, ...)
      field        type     meaning
      version      int16    1
      group        string   share group id

    value: ShareGroupConfigValue v0 (flexible)
      configs      array    name, value (strings): the group's overrides of the broker defaults

A null value (tombstone) deletes a share-partition's state (DeleteShareGroupOffsets, group deletion)
or a group's configs.
A key goes to partition ``abs(javaHashCode("group:topic:partition")) % partitions`` (Kafka's share
coordinator keys on group, topic and partition the same way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from logbroker.groups.offsets_topic import GroupLog
from logbroker.groups.schema import partition_for
from logbroker.groups.share_partition import RecordState, StateBatch
from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.versioned import read_version, record_codec

log = logging.getLogger(__name__)

SHARE_STATE_TOPIC = "__share_group_state"
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


def encode_key(group: str, topic: str, partition: int) -> bytes:
    return _KEY.encode(0, {"group": group, "topic": topic, "partition": partition})


def encode_value(snapshot: SharePartitionSnapshot) -> bytes:
    return _VALUE.encode(0, {"state_epoch": snapshot.state_epoch, "start_offset": snapshot.start_offset,
                             "state_batches": [{"first_offset": b.first_offset, "last_offset": b.last_offset,
                                                "delivery_state": int(b.state),
                                                "delivery_count": min(b.delivery_count, 32767)}
                                               for b in snapshot.batches]})


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


def decode_value(data: bytes) -> SharePartitionSnapshot:
    body = _VALUE.decode(data)[1]
    return SharePartitionSnapshot(body["start_offset"], body["state_epoch"], tuple(
        StateBatch(b["first_offset"], b["last_offset"], RecordState(b["delivery_state"]), b["delivery_count"])
        for b in body["state_batches"]))


def state_partition(group: str, topic: str, partition: int, partitions: int) -> int:
    return partition_for(f"{group}:{topic}:{partition}", partitions)


@dataclass(slots=True)
class ReplayedShareState:
    partitions: dict[SharePartitionKey, SharePartitionSnapshot]
    configs: dict[str, dict[str, str]]


def replay(state_log: GroupLog) -> ReplayedShareState:
    """The latest snapshot of every share-partition and the configs of every share group (start-up);
    unreadable records are skipped."""
    out = ReplayedShareState({}, {})
    for record in state_log.replay():
        try:
            key = decode_key(record.key)
            if isinstance(key, str):
                if record.value is None:
                    out.configs.pop(key, None)
                else:
                    body = _CONFIG_VALUE.decode(record.value)[1]
                    out.configs[key] = {c["name"]: c["value"] for c in body["configs"]}
            elif record.value is None:
                out.partitions.pop(key, None)
            else:
                out.partitions[key] = decode_value(record.value)
        except (ProtocolError, EncodeError, ValueError) as exc:
            log.warning("%s-%d offset %d: unreadable record skipped: %s", SHARE_STATE_TOPIC, record.partition,
                        record.offset, exc)
    return out
