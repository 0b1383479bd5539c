"""Share groups (KIP-932): membership and the settings they follow.

A share group's members heartbeat (ShareGroupHeartbeat, or the HTTP front's join) with the topics
they subscribe to; the broker assigns. Kafka's share-group assignor (``SimpleAssignor``) gives every
member every partition of the topics it subscribes to while there are no more members than
partitions would need: records, not partitions, are what members share, so any number of members
read one partition. The group epoch moves when membership or subscriptions change; a member's epoch
follows it on its next heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from logbroker.config import BrokerConfig
from logbroker.groups.group_configs import DEFAULT_BOUNDS, bounds_from_config
from logbroker.groups.share_partition import SharePartition

SHARE = "share"  # group type of share groups (ListGroups v5 types_filter, KIP-1043)
TopicPartition = tuple[str, int]


class SharedGroupConfigs(Protocol):
    """A cluster's group configs, kept where every broker sees them
    (``logbroker/group_configs_zookeeper.py``)."""

    def get(self, group_id: str) -> Mapping[str, str]:
        """The group's configs as this broker last learned them (on the loop, no waiting)."""
        ...

    async def read_async(self, group_id: str) -> dict[str, str]:
        """The group's configs as stored now; ClusterStateUnavailableError when they cannot be read."""
        ...

    async def change_async(self, group_id: str, changes: Mapping[str, str | None]) -> None:
        """Set (a value) or delete (None) configs; ClusterStateUnavailableError when not written."""
        ...


@dataclass(frozen=True, slots=True)
class ShareSettings:
    session_timeout_ms: int = 45_000  # group.share.session.timeout.ms
    heartbeat_interval_ms: int = 5_000  # group.share.heartbeat.interval.ms
    max_size: int = 200  # group.share.max.size: members per group
    lock_ms: int = 30_000  # group.share.record.lock.duration.ms: default of share.record.lock.duration.ms
    delivery_limit: int = 5  # group.share.delivery.count.limit: default of share.delivery.count.limit
    max_in_flight: int = 2000  # group.share.partition.max.record.locks
    state_partitions: int = 50  # share.coordinator.state.topic.num.partitions
    # The bounds of groups' own timing configs (group.share.min/max.*, group.consumer.min/max.*).
    config_bounds: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))

    @classmethod
    def from_config(cls, config: BrokerConfig) -> ShareSettings:
        return cls(session_timeout_ms=config.get_int("group.share.session.timeout.ms"),
                   heartbeat_interval_ms=config.get_int("group.share.heartbeat.interval.ms"),
                   config_bounds=bounds_from_config(config),
                   max_size=config.get_int("group.share.max.size"),
                   lock_ms=config.get_int("group.share.record.lock.duration.ms"),
                   delivery_limit=config.get_int("group.share.delivery.count.limit"),
                   max_in_flight=config.get_int("group.share.partition.max.record.locks"),
                   state_partitions=config.get_int("share.coordinator.state.topic.num.partitions"))


@dataclass(slots=True)
class ShareMember:
    member_id: str
    member_epoch: int
    subscribed_topics: tuple[str, ...]
    client_id: str
    client_host: str
    rack_id: str | None
    deadline_ms: int  # session expiry
    assignment: tuple[TopicPartition, ...] = ()
    sent_epoch: int = -1  # the epoch whose assignment the member was last told


@dataclass(slots=True)
class ShareGroup:
    group_id: str
    group_epoch: int = 0
    members: dict[str, ShareMember] = field(default_factory=dict)
    partitions: dict[TopicPartition, SharePartition] = field(default_factory=dict)
    state_epochs: dict[TopicPartition, int] = field(default_factory=dict)
    configs: dict[str, str] = field(default_factory=dict)  # group configs set by an admin
    # In a cluster, at the group coordinator: every share-partition assigned to a member since this
    # broker coordinates the group (what DescribeShareGroupOffsets asks the share coordinators about).
    assigned: set[TopicPartition] = field(default_factory=set)

    def state(self) -> str:
        return "Stable" if self.members else "Empty"

    def subscribed(self) -> set[str]:
        return {t for m in self.members.values() for t in m.subscribed_topics}

    def assign(self, topics: Mapping[str, int]) -> None:
        """Every member gets every partition of the topics it subscribes to (that exist)."""
        for m in self.members.values():
            m.assignment = tuple((t, p) for t in sorted(m.subscribed_topics) for p in range(topics.get(t, 0)))
