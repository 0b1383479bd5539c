"""How the HTTP front's share-group members reach share-partitions led by other brokers.

In a cluster a share group's membership lives on its group coordinator, but each share-partition
lives on the leader of its topic partition (KIP-932, as in Kafka). An HTTP member's requests are
answered by the coordinator (the HTTP front forwards them there); for the partitions it does not
lead, the coordinator acts for the member as a Kafka share consumer would: ShareFetch and
ShareAcknowledge to each leader, in a share session of that member there
(``logbroker.cluster.share_forwarder``). Alone, or for the partitions the coordinator leads, none
of this is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from logbroker.groups.share_fetch import Acquired
from logbroker.groups.share_partition import AckType

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class RemoteAcquired:
    """What one leader handed out: per partition the batches and acquired ranges, when their locks
    expire (this broker's clock), and why partitions could not be served there."""

    got: dict[TopicPartition, Acquired] = field(default_factory=dict)
    lock_expires_ms: int = 0
    errors: dict[TopicPartition, str] = field(default_factory=dict)


class RemoteShares(Protocol):
    def leader_of(self, topic: str, partition: int) -> int | None:
        """None when this broker leads the partition; else its leader's id (-1: none now)."""
        ...

    async def fetch(self, group_id: str, member_id: str, leader: int, partitions: Sequence[TopicPartition],
                    max_records: int, max_bytes: int, now_ms: int) -> RemoteAcquired:
        """Acquire up to ``max_records`` records of ``partitions`` for the member on ``leader``
        (ShareFetch in the member's share session there), without waiting for new records."""
        ...

    async def acknowledge(self, group_id: str, member_id: str, leader: int, topic: str, partition: int,
                          acks: Sequence[tuple[int, AckType]]) -> int:
        """Acknowledge records of one partition on its leader (ShareAcknowledge), all or nothing;
        a Kafka error code (0: durable there)."""
        ...

    async def leave(self, group_id: str, member_id: str) -> None:
        """The member left: close its share sessions on every leader (they release its records)."""
        ...
