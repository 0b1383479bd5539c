"""Topic rules of the core, written once for every front: internal topics, replication factor,
config-change operations, and the value types a topic description is made of.

``Broker`` applies these; the Kafka and HTTP fronts only translate their requests onto it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from logbroker.errors import (
    InvalidConfigError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidRequestError,
)
from segments.config import ConfigEntry, ConfigSource, ConfigType, LogConfig, format_value
from segments.store import MAX_PARTITIONS, TopicInfo

# Kafka's ``Topic.isInternal``: topics only the broker writes; clients may read them.
OFFSETS_TOPIC = "__consumer_offsets"  # the group coordinator's records
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, "__transaction_state", "__share_group_state"})
# One node: every partition has exactly one replica.
BROKER_COUNT = 1


SHARE_STATE_TOPIC = "__share_group_state"  # the share coordinator's records (KIP-932)

# Internal topics a cluster replicates like any topic (the group and share coordinators live on their
# leaders); the others stay local to each broker.
REPLICATED_INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, SHARE_STATE_TOPIC})
# The broker property giving each one's replication factor (at most the live brokers when created).
INTERNAL_REPLICATION_FACTORS = {OFFSETS_TOPIC: "offsets.topic.replication.factor",
                                SHARE_STATE_TOPIC: "share.coordinator.state.topic.replication.factor"}
# The broker property giving an internal topic its own min.insync.replicas (at most its replication
# factor when created; Kafka's ShareCoordinatorConfig). __consumer_offsets keeps the broker's, as in Kafka.
INTERNAL_MIN_ISR = {SHARE_STATE_TOPIC: "share.coordinator.state.topic.min.isr"}


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS


def is_replicated(name: str) -> bool:
    """True for topics a cluster replicates: every client topic and ``__consumer_offsets``."""
    return name not in INTERNAL_TOPICS or name in REPLICATED_INTERNAL_TOPICS


_FACTOR_BELOW_ONE = "Replication factor must be larger than 0, or -1 to use the default value."


def check_replication_factor_sign(replication_factor: int | None) -> None:
    """0 and negatives other than -1 (the default) are refused as Kafka refuses them, whatever the
    number of brokers."""
    if replication_factor is not None and (replication_factor == 0 or replication_factor < -1):
        raise InvalidReplicationFactorError(_FACTOR_BELOW_ONE)


def check_replication_factor_fits(replication_factor: int, brokers: int) -> None:
    """A cluster's factor, the broker default already put in for -1: at least 1, at most the
    brokers there are (Kafka's messages)."""
    if replication_factor < 1:
        raise InvalidReplicationFactorError(_FACTOR_BELOW_ONE)
    if replication_factor > brokers:
        raise InvalidReplicationFactorError(
            f"Replication factor: {replication_factor} larger than available brokers: {brokers}.")


def check_replication_factor(replication_factor: int | None) -> None:
    """-1 (or None) means the broker default; anything but 1 needs more brokers than this one."""
    check_replication_factor_sign(replication_factor)
    if replication_factor not in (None, -1, BROKER_COUNT):
        raise InvalidReplicationFactorError(
            f"replication factor {replication_factor} is larger than the {BROKER_COUNT} available broker"
        )


def manual_assignment(entries: Iterable[tuple[int, Sequence[int]]], num_partitions: int,
                      replication_factor: int) -> list[list[int]]:
    """The replicas of each partition of a CreateTopics request's explicit assignment (by partition
    index), once its shape holds as Kafka 4.1 checks it: the partition count and replication factor
    left at -1 (INVALID_REQUEST), each partition named once and the indexes 0..n-1
    (INVALID_REPLICA_ASSIGNMENT)."""
    if replication_factor != -1:
        raise InvalidRequestError("A manual partition assignment was specified, but replication factor was "
                                  "not set to -1.")
    if num_partitions != -1:
        raise InvalidRequestError("A manual partition assignment was specified, but numPartitions was not set "
                                  "to -1.")
    by_index: dict[int, list[int]] = {}
    for index, replicas in entries:
        if index in by_index:
            raise InvalidReplicaAssignmentError(f"Found multiple manual partition assignments for partition {index}")
        by_index[index] = list(replicas)
    for expected in range(len(by_index)):
        if expected not in by_index:
            raise InvalidReplicaAssignmentError("partitions should be a consecutive 0-based integer sequence")
    return [by_index[i] for i in range(len(by_index))]


def check_replicas(assignments: Iterable[Sequence[int]], brokers: Iterable[int]) -> None:
    """Each partition's replicas name registered brokers, each once, as many for every partition
    (Kafka 4.1's checks of a manual assignment; INVALID_REPLICA_ASSIGNMENT)."""
    registered = set(brokers)
    count: int | None = None
    for replicas in assignments:
        if not replicas:
            raise InvalidReplicaAssignmentError("The manual partition assignment includes an empty replica list.")
        seen: set[int] = set()
        for broker in sorted(replicas):
            if broker not in registered:
                raise InvalidReplicaAssignmentError(f"The manual partition assignment includes broker {broker}, "
                                                    "but no such broker is registered.")
            if broker in seen:
                raise InvalidReplicaAssignmentError(f"The manual partition assignment includes the broker {broker} "
                                                    "more than once.")
            seen.add(broker)
        if count is not None and len(replicas) != count:
            raise InvalidReplicaAssignmentError(
                f"The manual partition assignment includes a partition with {len(replicas)} replica(s), but this "
                f"is not consistent with previous partitions, which have {count} replica(s).")
        count = len(replicas)


class ConfigOp(IntEnum):
    """IncrementalAlterConfigs operations (Kafka ``AlterConfigOp.OpType`` ids)."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


@dataclass(frozen=True, slots=True)
class ConfigChange:
    op: int
    name: str
    value: str | None


def apply_config_ops(overrides: Mapping[str, str], effective: LogConfig,
                     changes: Iterable[ConfigChange], *, base_of: Mapping[str, str] | None = None) -> dict[str, str]:
    """The new overrides after ``changes``; APPEND/SUBTRACT start from the effective value, as Kafka's
    (a topic config's from ``effective``; with ``base_of``, a broker property's from that mapping)."""
    new = dict(overrides)
    for change in changes:
        key, value = change.name, change.value
        if change.op == ConfigOp.SET:
            if value is None:
                raise InvalidConfigError(f"SET of {key} needs a value")
            new[key] = value
        elif change.op == ConfigOp.DELETE:
            new.pop(key, None)
        elif change.op in (ConfigOp.APPEND, ConfigOp.SUBTRACT):
            if key in new:
                base = new[key]
            elif base_of is not None:
                base = base_of.get(key, "")
            else:
                base = format_value(effective.get(key))
            current = [v for v in base.split(",") if v]
            items = [v for v in (value or "").split(",") if v]
            if change.op == ConfigOp.APPEND:
                current += [v for v in items if v not in current]
            else:
                current = [v for v in current if v not in items]
            new[key] = ",".join(current)
        else:
            raise InvalidConfigError(f"unknown config operation {change.op}")
    return new


@dataclass(frozen=True, slots=True)
class PartitionState:
    """One partition's offsets and size on disk."""

    topic: str
    partition: int
    log_start_offset: int
    log_end_offset: int
    size_bytes: int
    segments: int = 1  # segment files of the log (the active one included); -1: not known here
    # Why the offsets are not known (its leader, another broker, could not be asked); then they are -1.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LogDirUsage:
    """The one log directory: where it is, its partitions' sizes, and the file system's room."""

    path: str
    partitions: tuple[PartitionState, ...]
    total_bytes: int
    usable_bytes: int


@dataclass(frozen=True, slots=True)
class ActiveProducer:
    """An idempotent producer's state on one partition (Kafka DescribeProducers)."""

    producer_id: int
    epoch: int
    last_sequence: int  # -1 before its first batch
    last_timestamp: int  # ms, -1 before its first batch


@dataclass(frozen=True, slots=True)
class TopicDescription:
    info: TopicInfo
    internal: bool
    partitions: tuple[PartitionState, ...]
    configs: tuple[ConfigEntry, ...]


__all__ = [
    "BROKER_COUNT",
    "INTERNAL_MIN_ISR",
    "INTERNAL_REPLICATION_FACTORS",
    "INTERNAL_TOPICS",
    "MAX_PARTITIONS",
    "REPLICATED_INTERNAL_TOPICS",
    "SHARE_STATE_TOPIC",
    "ActiveProducer",
    "ConfigChange",
    "ConfigEntry",
    "ConfigOp",
    "ConfigSource",
    "ConfigType",
    "LogDirUsage",
    "PartitionState",
    "TopicDescription",
    "TopicInfo",
    "apply_config_ops",
    "check_replicas",
    "check_replication_factor",
    "check_replication_factor_fits",
    "check_replication_factor_sign",
    "is_internal",
    "is_replicated",
    "manual_assignment",
]
