"""How a partition leader's share-partitions reach their durable state (Kafka's ``Persister``).

``ShareGroups`` writes a share-partition's state, and reads it back when it starts serving one,
through a ``SharePersister``. Alone, the broker is the share coordinator of every key:
``LocalPersister`` calls this broker's ``ShareCoordinator`` directly. In a cluster the key's
coordinator may be another broker: ``logbroker.cluster.share_persister`` sends
WriteShareGroupState / ReadShareGroupState to it, and calls the local coordinator when it is this
broker. Both answer Kafka error codes (0: done).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from logbroker.groups.share_coordinator import NONE, UNINITIALIZED, ShareCoordinator, StateSummary
from logbroker.groups.share_state import SharePartitionSnapshot

ReadResult = tuple[int, SharePartitionSnapshot | None]
SummaryResult = tuple[int, StateSummary | None]


class SharePersister(Protocol):
    """A state never initialized reads as None (the coordinator's UNINITIALIZED), and a first write
    initializes it."""

    def write(self, group: str, topic: str, partition: int, snapshot: SharePartitionSnapshot | None,
              now_ms: int, *, create: bool = True) -> asyncio.Future[int]:
        """Store a share-partition's whole state (None: delete it); the future answers an error code.
        ``create``: a state not stored (never, or deleted since) is made by this write; without it
        such a write answers UNINITIALIZED."""
        ...

    def read(self, group: str, topic: str, partition: int) -> asyncio.Future[ReadResult]:
        """The stored state of a share-partition (None: nothing stored), or an error code."""
        ...

    def read_summary(self, group: str, topic: str, partition: int) -> asyncio.Future[SummaryResult]:
        """The stored state's epochs and start offset (None: nothing stored), or an error code; what
        the group coordinator describes (ReadShareGroupStateSummary)."""
        ...

    def initialize(self, group: str, topic: str, partition: int, state_epoch: int, start_offset: int,
                   now_ms: int) -> asyncio.Future[int]:
        """A fresh state at ``start_offset`` under ``state_epoch`` (InitializeShareGroupState): the
        group coordinator's offset reset; a leader holding an older state epoch is fenced."""
        ...


class LocalPersister:
    """The share coordinator is this broker's own."""

    def __init__(self, coordinator: ShareCoordinator,
                 leader_epoch: Callable[[str, int], int] | None = None) -> None:
        self.coordinator = coordinator
        self._leader_epoch = leader_epoch or (lambda topic, partition: -1)

    def write(self, group: str, topic: str, partition: int, snapshot: SharePartitionSnapshot | None,
              now_ms: int, *, create: bool = True) -> asyncio.Future[int]:
        return self.coordinator.write(group, topic, partition, snapshot, now_ms,
                                      self._leader_epoch(topic, partition), create=create)

    def read(self, group: str, topic: str, partition: int) -> asyncio.Future[ReadResult]:
        fut: asyncio.Future[ReadResult] = self.coordinator.future()
        code, snapshot = self.coordinator.read(group, topic, partition, self._leader_epoch(topic, partition))
        fut.set_result((NONE, None) if code == UNINITIALIZED else (code, snapshot))
        return fut

    def read_summary(self, group: str, topic: str, partition: int) -> asyncio.Future[SummaryResult]:
        fut: asyncio.Future[SummaryResult] = self.coordinator.future()
        code, summary = self.coordinator.read_summary(group, topic, partition)
        fut.set_result((NONE, None) if code == UNINITIALIZED else (code, summary))
        return fut

    def initialize(self, group: str, topic: str, partition: int, state_epoch: int, start_offset: int,
                   now_ms: int) -> asyncio.Future[int]:
        return self.coordinator.initialize(group, topic, partition, state_epoch, start_offset, now_ms)
