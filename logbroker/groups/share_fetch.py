"""Acquisition from the log for a share-group member, the same for both fronts: for each partition,
read the log from the lowest offset the share-partition would hand out, then acquire only offsets
inside what was read, so every acquired record is among the bytes returned; the acquisitions are
made durable before the records are handed out (``acquire_durably``). Not on the produce or
fetch hot path: the batches are read into memory (at most ``max_bytes`` in all, and
``PARTITION_READ_BYTES`` per partition).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from logbroker.broker import Broker
from logbroker.errors import StorageError
from logbroker.groups.share_partition import AcquiredRange
from logbroker.groups.shares import ShareGroups
from segments.batch import iter_batches
from segments.errors import CorruptBatchError

log = logging.getLogger(__name__)

PARTITION_READ_BYTES = 1024 * 1024
TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Acquired:
    data: bytes  # whole record batches; they may hold records outside ``ranges``
    ranges: list[AcquiredRange]


def _read(broker: Broker, topic: str, partition: int, offset: int, max_bytes: int) -> tuple[bytes, int]:
    """Record batches from ``offset`` and the offset after the last one read."""
    out = broker.read(topic, partition, offset, max_bytes)
    data = b"".join(part.read() for part in out.parts)
    end = offset
    for _, header in iter_batches(data, check_crc=False):
        end = max(end, header.next_offset)
    return data, end


def acquire_records(broker: Broker, share: ShareGroups, group_id: str, member_id: str,
                    partitions: Sequence[TopicPartition], max_records: int, max_bytes: int,
                    now_ms: int) -> dict[TopicPartition, Acquired]:
    got: dict[TopicPartition, Acquired] = {}
    left_records, left_bytes = max_records, max_bytes
    for topic, partition in partitions:
        if left_records <= 0 or left_bytes <= 0:
            break
        start = share.next_fetch_offset(group_id, member_id, topic, partition, now_ms)
        if start is None:
            continue
        try:
            data, read_end = _read(broker, topic, partition, start, min(left_bytes, PARTITION_READ_BYTES))
        except (StorageError, CorruptBatchError) as exc:
            log.warning("share group %s: reading %s-%d for member %s failed: %s", group_id, topic, partition,
                        member_id, exc)
            continue
        if not data:
            continue
        ranges = share.acquire(group_id, member_id, topic, partition, left_records, now_ms, read_end=read_end)
        if ranges:
            got[(topic, partition)] = Acquired(data, ranges)
            left_records -= sum(r.last_offset - r.first_offset + 1 for r in ranges)
            left_bytes -= len(data)
            broker.count_bytes_out(topic, len(data))
    return got


async def acquire_durably(broker: Broker, share: ShareGroups, group_id: str, member_id: str,
                          partitions: Sequence[TopicPartition], max_records: int, max_bytes: int,
                          now_ms: int) -> dict[TopicPartition, Acquired]:
    """``acquire_records``, answered once the acquisitions' delivery counts are durable. If the state
    cannot be written, nothing is handed out: the records stay locked and come back when the lock
    expires, with the delivery counted. In a cluster a share-partition served here for the first time
    is read back from its share coordinator first (``ShareGroups.ensure_loaded``)."""
    if share.clustered:
        await share.ensure_loaded(group_id, partitions)
        now_ms = broker.clock()
    got = acquire_records(broker, share, group_id, member_id, partitions, max_records, max_bytes, now_ms)
    if got and not await share.persist(group_id, got, now_ms):
        log.warning("share group %s: acquisitions of member %s on %s not written; withheld", group_id, member_id,
                    sorted(got))
        return {}
    return got
