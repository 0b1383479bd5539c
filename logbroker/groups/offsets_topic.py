"""``__consumer_offsets``: where the coordinator's records are written and replayed from.

The topic is created on first use with ``offsets.topic.num.partitions`` partitions and
``cleanup.policy=compact`` (Kafka's settings for it, with 100 MiB segments). Records are keyed as
``schema.py`` documents; one batch per write (all records of one group share a partition), built
with ``segments.records.build_batch`` and appended through ``Broker.append`` like any produce, so
they get the topic's durability policy. Nothing here is on the produce or fetch hot path.

In a cluster ``__consumer_offsets`` is replicated like any topic: an append is refused unless this
broker leads the partition, and ``Appended.replicated`` resolves once every ISR member has the batch
(acks=all, with the topic's ``min.insync.replicas``).

Replay reads each partition (or the partitions asked for) of this broker's own copy from its log
start to its log end, batch by batch (``iter_batches`` and
``decode_records``, which ``decode_batches`` is made of; the batch headers tell where to read next
even when compaction emptied a batch), and yields every record; the coordinator applies them in
order (a later record for a key wins; a null value deletes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from logbroker.broker import Broker
from logbroker.errors import TopicExistsError
from logbroker.groups.schema import OFFSETS_TOPIC
from segments.batch import iter_batches
from segments.errors import CorruptBatchError
from segments.records import RecordInput, build_batch, decode_records

log = logging.getLogger(__name__)

OFFSETS_TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": str(100 * 1024 * 1024)}
_REPLAY_READ_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredRecord:
    partition: int
    offset: int
    key: bytes
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Appended:
    base_offset: int
    durable: Future[int] | None  # None: durable already, as far as the policy promises
    replicated: asyncio.Future[None] | None = None  # None: nothing to wait for (one broker, or done)


class GroupLog(Protocol):
    """The coordinator's view of ``__consumer_offsets`` (a fake in unit tests)."""

    def partition_count(self) -> int: ...

    def ensure_topic(self) -> None:
        """Create the topic if it does not exist; raises StorageError (or OSError) when it cannot."""
        ...

    async def ensure_topic_async(self) -> None:
        """``ensure_topic`` on the event loop: in a cluster the topic is registered with the cluster
        without the loop waiting on ZooKeeper."""
        ...

    def append(self, partition: int, records: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> Appended:
        """Append one batch of keyed records; raises StorageError (or OSError) when nothing was written."""
        ...

    def replay(self, partitions: Collection[int] | None = None) -> Iterator[StoredRecord]:
        """Every record of ``partitions`` (None: of every partition), in log order per partition."""
        ...


class BrokerGroupLog:
    """``GroupLog`` on the broker's own storage."""

    def __init__(self, broker: Broker, configured_partitions: int, *, topic: str = OFFSETS_TOPIC,
                 configs: dict[str, str] | None = None) -> None:
        """``topic``: another internal compacted topic kept the same way (``__share_group_state``)."""
        self.broker = broker
        self.configured_partitions = configured_partitions
        self.topic = topic
        self.configs = OFFSETS_TOPIC_CONFIGS if configs is None else configs

    def partition_count(self) -> int:
        """The existing topic's partition count (it never changes once created, as in Kafka, or
        every group would move), else the configured one."""
        if self.broker.has_topic(self.topic):
            return self.broker.partitions_of(self.topic)
        return self.configured_partitions

    def ensure_topic(self) -> None:
        if not self.broker.has_topic(self.topic):
            self.broker.create_topic(self.topic, self.configured_partitions, self.configs)
            log.info("created %s with %d partitions", self.topic, self.configured_partitions)

    async def ensure_topic_async(self) -> None:
        if self.broker.has_topic(self.topic):
            return
        try:
            await self.broker.create_topic_async(self.topic, self.configured_partitions, self.configs)
        except TopicExistsError:
            return  # another broker (or request) created it first
        log.info("created %s with %d partitions", self.topic, self.configured_partitions)

    def append(self, partition: int, records: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> Appended:
        self.ensure_topic()
        batch = build_batch([RecordInput(key, value, timestamp=now_ms) for key, value in records], now_ms=now_ms)
        self.broker.check_min_isr(self.topic, partition)
        outcome = self.broker.append(self.topic, partition, memoryview(bytearray(batch)), internal=True)
        replicated = self.broker.replicated(self.topic, partition, outcome.next_offset)
        return Appended(outcome.base_offset, outcome.durable, replicated)

    def replay(self, partitions: Collection[int] | None = None) -> Iterator[StoredRecord]:
        if not self.broker.has_topic(self.topic):
            return
        for partition in range(self.broker.partitions_of(self.topic)):
            if partitions is None or partition in partitions:
                yield from self._replay_partition(partition)

    def _replay_partition(self, partition: int) -> Iterator[StoredRecord]:
        start, end = self.broker.local_offsets(self.topic, partition)
        offset = start
        while offset < end:
            result = self.broker.read_local(self.topic, partition, offset, _REPLAY_READ_BYTES)
            data = b"".join(part.read() for part in result.parts)
            if not data:
                return
            next_offset = offset
            try:
                for pos, header in iter_batches(data):
                    next_offset = max(next_offset, header.next_offset)
                    if header.is_control:
                        continue
                    for record in decode_records(header, data, pos):
                        if record.offset >= offset and record.key is not None:
                            yield StoredRecord(partition, record.offset, record.key, record.value)
            except CorruptBatchError as exc:
                log.error("%s-%d: unreadable batch at or after offset %d; replay of this partition stops there: %s",
                          self.topic, partition, next_offset, exc)
                return
            if next_offset <= offset:
                return
            offset = next_offset
