"""An in-memory ``__consumer_offsets`` for coordinator tests, and small helpers."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future

from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.offsets_topic import Appended, StoredRecord
from logbroker.groups.settings import CoordinatorSettings
from segments.errors import StorageError


class MemoryGroupLog:
    """Records per partition in append order. ``defer`` makes appends wait for ``complete_pending``;
    ``fail`` makes them raise as a full disk would."""

    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions
        self.records: dict[int, list[StoredRecord]] = {p: [] for p in range(partitions)}
        self.defer = False
        self.fail = False
        self.pending: list[Future[int]] = []

    def partition_count(self) -> int:
        return self.partitions

    def ensure_topic(self) -> None:
        pass

    async def ensure_topic_async(self) -> None:
        pass

    def append(self, partition: int, records: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> Appended:
        if self.fail:
            raise StorageError("no space left on device")
        log = self.records[partition]
        base = len(log)
        for i, (key, value) in enumerate(records):
            log.append(StoredRecord(partition, base + i, key, value))
        durable: Future[int] | None = None
        if self.defer:
            durable = Future()
            self.pending.append(durable)
        return Appended(base, durable)

    def complete_pending(self, error: BaseException | None = None) -> None:
        for fut in self.pending:
            if error is None:
                fut.set_result(0)
            else:
                fut.set_exception(error)
        self.pending.clear()

    def replay(self, partitions: Collection[int] | None = None) -> Iterator[StoredRecord]:
        for p in range(self.partitions):
            if partitions is None or p in partitions:
                yield from self.records[p]


SETTINGS = CoordinatorSettings(initial_rebalance_delay_ms=3000, min_session_timeout_ms=6000,
                               max_session_timeout_ms=300_000, offsets_retention_ms=3_600_000,
                               retention_check_interval_ms=60_000)


def make_coordinator(log: MemoryGroupLog, loop: asyncio.AbstractEventLoop,
                     settings: CoordinatorSettings = SETTINGS) -> GroupCoordinator:
    return GroupCoordinator(log, settings, loop=loop, partition_exists=lambda t, p: t != "missing" and p < 8,
                            log_end_offset=lambda t, p: 100 if t != "missing" else None)


def drain(loop: asyncio.AbstractEventLoop) -> None:
    """Run callbacks scheduled from other threads (durability completions)."""
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def subscription(*topics: str) -> bytes:
    """ConsumerProtocolSubscription v0: version, topics, null user data."""
    return struct.pack(">hi", 0, len(topics)) + b"".join(_string(t) for t in topics) + struct.pack(">i", -1)


def assignment(parts: dict[str, list[int]]) -> bytes:
    """ConsumerProtocolAssignment v0."""
    out = struct.pack(">hi", 0, len(parts))
    for topic, ps in parts.items():
        out += _string(topic) + struct.pack(">i", len(ps)) + b"".join(struct.pack(">i", p) for p in ps)
    return out + struct.pack(">i", -1)
