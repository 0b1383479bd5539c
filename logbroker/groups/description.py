"""What the coordinator tells about a group, one type set for every group type.

``GroupDescription`` answers DescribeGroups (classic groups), ConsumerGroupDescribe
(consumer-protocol groups) and the HTTP front's ``GET /groups/{group}`` (both); ``ListedGroup`` one
entry of ListGroups; ``PartitionLag`` one partition of a group's committed offsets and lag. Fields
only one group type has keep their empty value for the other (noted per field).
"""

from __future__ import annotations

from dataclasses import dataclass

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class MemberDescription:
    member_id: str
    instance_id: str | None  # group.instance.id (KIP-345)
    client_id: str
    client_host: str
    partitions: tuple[TopicPartition, ...]  # what the member holds (consumer protocol: assigned and revoking)
    target_partitions: tuple[TopicPartition, ...] = ()  # consumer protocol: where the member is heading
    metadata: bytes = b""  # classic: the member's protocol metadata (while Stable)
    assignment: bytes = b""  # classic: the assignment bytes the leader gave it (while Stable)
    member_epoch: int = -1  # consumer protocol
    rack_id: str | None = None  # consumer protocol
    subscribed_topics: tuple[str, ...] = ()  # consumer protocol
    subscribed_regex: str | None = None  # consumer protocol
    member_state: str = ""  # consumer protocol: stable, unrevoked_partitions or unreleased_partitions


@dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    group_type: str  # state.CLASSIC or state.CONSUMER
    state: str  # a GroupState value
    protocol_type: str  # "consumer" for every consumer group; a classic group's JoinGroup protocol type
    protocol_data: str  # classic: the selected protocol (while Stable); consumer protocol: the assignor
    group_epoch: int  # classic: the generation; consumer protocol: the group epoch
    members: tuple[MemberDescription, ...]
    assignment_epoch: int = -1  # consumer protocol

    @property
    def active(self) -> bool:
        """Whether members are in the group (its offsets then belong to them, not to an admin)."""
        return bool(self.members) or self.state not in ("Empty", "Dead")


@dataclass(frozen=True, slots=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    state: str
    group_type: str


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed_offset: int  # -1: nothing committed
    log_end_offset: int  # -1: the partition no longer exists
    lag: int | None  # log end - committed; None when either is unknown
    member_id: str | None = None  # the consumer the partition is assigned to, if any
    metadata: str = ""
