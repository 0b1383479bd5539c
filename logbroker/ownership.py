"""Who leads a partition, looked up: the seam between the broker core and a cluster.

A single broker (no ``zookeeper.connect``) has no ``PartitionOwnership``: it leads every partition
and its high watermark is the log end. In a cluster, ``logbroker.cluster`` provides one; the core
asks it before every client read and write and never assumes ownership itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from logbroker.errors import StorageError
from logbroker.topics import TopicInfo


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """A live broker as Metadata lists it."""

    broker_id: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class PartitionView:
    """What Metadata tells clients of one partition (leader -1: offline). ``known`` False: this broker
    has the partition's assignment but not yet its first state (leader, epoch, ISR), as for a partition
    created a moment ago; Metadata does not list its topic's partitions past ``listed_partitions``."""

    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    known: bool = True


@dataclass(frozen=True, slots=True)
class Reassignment:
    """A partition being moved: its replicas now, the ones joining and the ones leaving."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]


class PartitionOwnership(Protocol):
    def check_leader(self, topic: str, partition: int, leader_epoch: int = -1) -> None:
        """Raise NotLeaderOrFollowerError unless this broker leads the partition now;
        FencedLeaderEpochError / UnknownLeaderEpochError when ``leader_epoch`` (>= 0) is older /
        newer than the partition's (KIP-320)."""

    def hosts_replica(self, topic: str, partition: int) -> bool:
        """Whether this broker is one of the partition's replicas (leading, following or assigned)."""

    def leader_epoch(self, topic: str, partition: int) -> int:
        """The partition's current leader epoch as this broker knows it (-1: unknown)."""

    def high_watermark(self, topic: str, partition: int, log_end_offset: int) -> int:
        """The offset below which records are committed (replicated to the whole ISR)."""

    def replica_fetched(self, topic: str, partition: int, replica_id: int, fetch_offset: int) -> None:
        """A follower fetched from ``fetch_offset`` (its log end): track it for the ISR and high
        watermark. Raises NotLeaderOrFollowerError unless this broker leads the partition."""

    def check_min_isr(self, topic: str, partition: int, min_insync_replicas: int) -> None:
        """Raise NotEnoughReplicasError when the ISR is smaller than ``min_insync_replicas``."""

    def replicated(self, topic: str, partition: int, end_offset: int,
                   min_insync_replicas: int) -> asyncio.Future[None] | None:
        """A future resolved when the high watermark reaches ``end_offset`` (acks=all); it fails with
        NotEnoughReplicasAfterAppendError when the ISR shrank below ``min_insync_replicas`` meanwhile,
        NotLeaderOrFollowerError when leadership is lost. None: already replicated."""

    async def publish_topic(self, info: TopicInfo, replication_factor: int | None,
                            assignments: Sequence[Sequence[int]] | None = None) -> None:
        """Register a new topic with the cluster (its replica assignment: ``assignments``, one replica
        list per partition, else spread over the live brokers), then adopt it locally
        (``Broker.adopt_topic``: returns once its metadata file is durable). Raises
        InvalidReplicationFactorError, InvalidReplicaAssignmentError or TopicExistsError, and nothing
        is registered; or LogStorageError (KAFKA_STORAGE_ERROR) when the local copy could not be written (registered: a
        later pass of the cluster's view adopts it)."""

    async def unpublish_topic(self, name: str, timeout_s: float | None = None) -> None:
        """Remove a topic from the cluster; every broker then deletes its local copy. Waits up to
        ``timeout_s`` (None: the broker's own limit; <= 0: no wait) for the deletion to complete and
        raises ClusterStateUnavailableError (REQUEST_TIMED_OUT) when it did not, as Kafka's
        DeleteTopics answers; the deletion goes on."""

    async def await_leaders(self, topic: str, timeout_s: float) -> None:
        """Wait until this broker knows a leader for every partition of ``topic`` (CreateTopics and
        CreatePartitions answer then, as Kafka's do, so that Metadata right after finds them led);
        past ``timeout_s`` ClusterStateUnavailableError (REQUEST_TIMED_OUT), the topic registered all
        the same. At once for ``timeout_s`` <= 0 or a topic the cluster no longer has."""

    async def add_partitions(self, topic: str, new_total: int, assignments: Sequence[Sequence[int]] | None) -> None:
        """Register a topic's new partitions (their replicas: ``assignments``, else spread over the live
        brokers). Raises InvalidPartitionsError, InvalidReplicaAssignmentError or
        InvalidReplicationFactorError; nothing is registered when it raises."""

    async def elect_leaders(self, preferred: bool, partitions: Sequence[tuple[str, int]] | None
                      ) -> dict[tuple[str, int], StorageError | None]:
        """ElectLeaders (KIP-460), preferred or unclean, of ``partitions`` (None: every partition that
        needs one); per partition None or the refusal. Raises NotControllerError on another broker."""

    async def alter_reassignments(self, changes: Mapping[tuple[str, int], Sequence[int] | None]
                            ) -> dict[tuple[str, int], StorageError | None]:
        """AlterPartitionReassignments (KIP-455): move each partition to its replicas, or cancel its
        reassignment (None). Per partition None or the refusal; NotControllerError on another broker."""

    def list_reassignments(self, partitions: Sequence[tuple[str, int]] | None) -> list[Reassignment]:
        """The reassignments in progress (of ``partitions``, None: all)."""

    def live_brokers(self, listener: str | None = None) -> list[BrokerEndpoint]:
        """Every registered broker, by id, at its address on ``listener`` (the client's listener name)."""

    def controller_id(self) -> int:
        """The controller's broker id (-1: none elected)."""

    def http_url(self, broker_id: int) -> str | None:
        """A live broker's HTTP API base URL, from its registration (None: unknown or not yet listening)."""

    def partition_view(self, topic: str, partition: int) -> PartitionView | None:
        """Leader, epoch, replicas and ISR of a partition; None when the cluster does not know it."""

    def listed_partitions(self, topic: str) -> int:
        """How many of a topic's partitions Metadata lists, in one piece (``logbroker/cluster/listed.py``)."""

    async def leader_offsets(self, partitions: Sequence[tuple[str, int]], timestamps: Sequence[int],
                             timeout_s: float) -> dict[tuple[str, int], tuple[int, ...] | StorageError]:
        """Per partition, the offsets its leader (another broker) answers for each of ``timestamps``
        as Kafka's ListOffsets does (-2 log start, -1 high watermark, else the first offset at or
        after that time, -1 when none), or the error why it could not be asked; the leaders are
        asked together, each once, within ``timeout_s`` in all."""

    async def leader_sizes(self, partitions: Sequence[tuple[str, int]],
                           timeout_s: float) -> dict[tuple[str, int], int | StorageError]:
        """Per partition, its size in bytes on its leader (Kafka's DescribeLogDirs), or the error
        why it could not be asked; the leaders are asked together, each once, within ``timeout_s``."""
