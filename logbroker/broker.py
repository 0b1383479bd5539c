"""The broker core, protocol-agnostic: topics, partitions, produce, fetch waiters, producer ids.

The Kafka front and the HTTP front are thin translations onto this object; a feature is built
here once. It runs on one asyncio event loop; disk syncs happen on the storage engine's flusher
thread and reach callers as futures.

Produce path (HOT): the caller hands the raw record batch bytes of one partition (a writable
memoryview into the request frame). The broker reads the 61-byte header for the idempotence check,
``Log.append`` validates the CRC, assigns offsets in place and writes the bytes with one write, and
the durability policy says when the bytes are safe. No record is decoded.

Fetch path (HOT): ``read`` returns file ranges that the network layer sends with ``sendfile``.
A fetch that finds too little data waits on the partition's append signal, never polls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logbroker.config import BrokerConfig
from logbroker.producer_ids import ProducerIdAllocator
from segments.batch import HEADER_SIZE, BatchHeader, read_header, set_log_append_time
from segments.errors import CorruptBatchError, InvalidRecordError, UnknownTopicError
from segments.flush import Durability
from segments.producer_state import ProducerState
from segments.records import decode_batch
from segments.store import Store
from segments.timestamp_bounds import check_timestamp_bounds

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
INTERNAL_TOPICS = frozenset({"__consumer_offsets"})


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    base_offset: int
    log_append_time: int  # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    durable: Future[int] | None  # resolves when the bytes are as durable as the topic's policy promises
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    parts: Sequence[Any]  # FileRange objects (fileno, position, length) for sendfile
    nbytes: int
    high_watermark: int
    log_start_offset: int


class Broker:
    """One broker's state. Not thread-safe: call it from the event loop that owns it."""

    def __init__(self, store: Store, config: BrokerConfig, durability: Durability, data_dir: Path,
                 *, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.store = store
        self.config = config
        self.durability = durability
        self.clock = clock
        self.node_id = config.node_id
        self.cluster_id = config.get_str("cluster.id")
        self._producer_ids = ProducerIdAllocator(data_dir)
        self._producer_states: dict[TopicPartition, ProducerState] = {}
        self._waiters: dict[TopicPartition, set[asyncio.Future[None]]] = {}
        self.bytes_in = 0
        self.records_in = 0
        # Per-topic traffic for /metrics (Kafka's BrokerTopicMetrics: BytesIn, MessagesIn, BytesOut).
        self.topic_bytes_in: dict[str, int] = {}
        self.topic_records_in: dict[str, int] = {}
        self.topic_bytes_out: dict[str, int] = {}

    # ---------------------------------------------------------------- topics
    def ensure_topic(self, name: str) -> bool:
        """True if the topic exists, creating it when ``auto.create.topics.enable`` allows."""
        if self.store.has_topic(name):
            return True
        if not self.config.get_bool("auto.create.topics.enable"):
            return False
        self.create_topic(name, self.config.get_int("num.partitions"), {})
        log.info("auto-created topic %s with %d partition(s)", name, self.config.get_int("num.partitions"))
        return True

    def create_topic(self, name: str, partitions: int, configs: Mapping[str, str], *,
                     validate_only: bool = False) -> Any:
        return self.store.create_topic(name, partitions, dict(configs), validate_only=validate_only)

    def delete_topic(self, name: str) -> None:
        keys = [tp for tp in self._producer_states if tp[0] == name]
        for tp in keys:
            del self._producer_states[tp]
        for tp in [tp for tp in self._waiters if tp[0] == name]:
            for fut in self._waiters.pop(tp):
                if not fut.done():
                    fut.set_result(None)
        self.store.delete_topic(name)

    # ---------------------------------------------------------------- produce
    def append(self, topic: str, partition: int, records: memoryview, *,
               expect_one_batch: bool = True) -> AppendOutcome:
        """Append one partition's produced batch. HOT PATH: per batch work only.

        Raises UnknownTopicError, CorruptBatchError, RecordTooLargeError, InvalidRecordError (and its
        InvalidTimestampError: message.timestamp.before/after.max.ms), OutOfOrderSequenceError or
        InvalidProducerEpochError; nothing is written when it raises.
        """
        plog = self.store.log(topic, partition)
        config = plog.config
        now = self.clock()
        if len(records) < HEADER_SIZE:
            raise CorruptBatchError(f"records of {len(records)} bytes cannot hold a record batch")
        header = read_header(records)
        if expect_one_batch and header.size != len(records):
            raise InvalidRecordError("a produce request must carry exactly one record batch per partition")
        if header.is_control:
            raise InvalidRecordError("clients may not produce control batches")
        if header.is_transactional:
            raise InvalidRecordError("transactional produce is not supported by this broker")
        check_timestamp_bounds(header, config, now)
        state: ProducerState | None = None
        if header.producer_id >= 0:
            state = self._producer_state(topic, partition, plog)
            dup = state.check(header)
            if dup is not None:
                log.info("duplicate batch from producer %d to %s-%d (sequence %d): answering offset %d",
                         header.producer_id, topic, partition, header.base_sequence, dup.first_offset)
                return AppendOutcome(dup.first_offset, -1, plog.log_start_offset,
                                     self.durability.after_append(plog, config, dup.last_offset, now_ms=now),
                                     duplicate=True)
        if records.readonly:
            # Offsets (and LogAppendTime) are written into the batch in place: one copy at most.
            records = memoryview(bytearray(records))
        log_append_time = -1
        if config.message_timestamp_type == "LogAppendTime":
            set_log_append_time(records, 0, now)
            log_append_time = now
        result = plog.append(records, now_ms=now)
        if state is not None:
            state.update(header, result.first_offset)
        self.bytes_in += len(records)
        self.records_in += header.record_count
        self.topic_bytes_in[topic] = self.topic_bytes_in.get(topic, 0) + len(records)
        self.topic_records_in[topic] = self.topic_records_in.get(topic, 0) + header.record_count
        durable = self.durability.after_append(plog, config, result.last_offset, now_ms=now)
        self._notify((topic, partition))
        return AppendOutcome(result.first_offset, log_append_time, plog.log_start_offset, durable)

    @staticmethod
    async def wait_durable(futures: Sequence[Future[int]], timeout_s: float) -> list[BaseException | None]:
        """Wait until appends are as durable as their topics promise; one result per future, in order:
        None when durable, TimeoutError when not within ``timeout_s``, else the storage error.

        Appends of one log in one group-commit round share a future, so each distinct future is
        awaited once, and none is ever cancelled: other requests may be waiting on the same one.
        """
        wrapped: dict[int, asyncio.Future[int]] = {}
        for f in futures:
            if id(f) not in wrapped:
                wrapped[id(f)] = asyncio.wrap_future(f)
        if wrapped:
            await asyncio.wait(list(wrapped.values()), timeout=max(timeout_s, 0.001))
        results: list[BaseException | None] = []
        for f in futures:
            w = wrapped[id(f)]
            if not w.done():
                results.append(TimeoutError("the write was not durable within the request timeout"))
            else:
                results.append(w.exception())
        return results

    def _producer_state(self, topic: str, partition: int, plog: Any) -> ProducerState:
        tp = (topic, partition)
        state = self._producer_states.get(tp)
        if state is None:
            state, covered = ProducerState.load_snapshot(plog.path, plog.log_end_offset)
            state.truncate_to(plog.log_end_offset)
            state.rebuild(self._headers_from(plog, max(covered, plog.log_start_offset)))
            self._producer_states[tp] = state
        return state

    @staticmethod
    def _headers_from(plog: Any, offset: int) -> Iterable[BatchHeader]:
        """Batch headers from ``offset`` to the log end, reading 61 bytes per batch (no records)."""
        end = plog.log_end_offset
        while offset < end:
            result = plog.read(offset, 64 * 1024 * 1024)
            if not result.ranges:
                return
            for part in result.ranges:
                pos, stop = part.position, part.position + part.length
                while pos + HEADER_SIZE <= stop:
                    header = read_header(os.pread(part.fileno, HEADER_SIZE, pos))
                    if header.next_offset > offset:
                        yield header
                        offset = header.next_offset
                    pos += header.size
            if offset >= end:
                return

    def init_producer_id(self, producer_id: int = -1, producer_epoch: int = -1) -> tuple[int, int]:
        """Give an idempotent producer its id and epoch (KIP-98), or bump the epoch of a known one
        (KIP-360: a producer that lost track of its sequences asks for a fresh epoch)."""
        if producer_id >= 0 and producer_epoch >= 0:
            if producer_epoch >= 32766:
                return self._producer_ids.allocate(), 0
            new_epoch = producer_epoch + 1
            for state in self._producer_states.values():
                state.bump_epoch(producer_id, new_epoch)
            return producer_id, new_epoch
        return self._producer_ids.allocate(), 0

    # ---------------------------------------------------------------- fetch
    def read(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadOutcome:
        """File ranges from ``offset`` (at least one whole batch if any). HOT PATH."""
        plog = self.store.log(topic, partition)
        result = plog.read(offset, max_bytes)
        nbytes = sum(r.length for r in result.ranges)
        return ReadOutcome(result.ranges, nbytes, plog.log_end_offset, plog.log_start_offset)

    def count_bytes_out(self, topic: str, nbytes: int) -> None:
        """Record bytes a front actually answered with (once per response, not per read attempt)."""
        if nbytes:
            self.topic_bytes_out[topic] = self.topic_bytes_out.get(topic, 0) + nbytes

    def offsets(self, topic: str, partition: int) -> tuple[int, int]:
        """(log start offset, log end offset) of a partition."""
        plog = self.store.log(topic, partition)
        return plog.log_start_offset, plog.log_end_offset

    async def wait_for_append(self, keys: Iterable[TopicPartition], timeout_s: float) -> None:
        """Return when any of ``keys`` gets an append, or after ``timeout_s``."""
        if timeout_s <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        registered = []
        for tp in keys:
            self._waiters.setdefault(tp, set()).add(fut)
            registered.append(tp)
        try:
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            pass
        finally:
            for tp in registered:
                waiters = self._waiters.get(tp)
                if waiters is not None:
                    waiters.discard(fut)
                    if not waiters:
                        del self._waiters[tp]

    def _notify(self, tp: TopicPartition) -> None:
        waiters = self._waiters.pop(tp, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # ---------------------------------------------------------------- offsets
    def offset_for_timestamp(self, topic: str, partition: int, timestamp: int) -> tuple[int, int]:
        """Kafka ListOffsets semantics: -2 earliest, -1 latest, -3 max timestamp, else by time.

        Returns (offset, timestamp); (-1, -1) when no batch has a timestamp >= ``timestamp``.
        """
        plog = self.store.log(topic, partition)
        if timestamp == -2:
            return plog.log_start_offset, -1
        if timestamp == -1:
            return plog.log_end_offset, -1
        if timestamp == -3:
            found = plog.max_timestamp_offset()
            return found if found is not None else (-1, -1)
        found = plog.offset_for_timestamp(timestamp)
        if found is None:
            return -1, -1
        # The time index finds the first batch whose max timestamp reaches ``timestamp``; Kafka then
        # answers with the first record in that batch at or after it, so decode that one batch.
        result = plog.read(found[0], 1)
        if result.ranges:
            first = result.ranges[0]
            for record in decode_batch(os.pread(first.fileno, first.length, first.position)):
                if record.offset >= found[0] and record.timestamp >= timestamp:
                    return record.offset, record.timestamp
        return found

    def delete_records(self, topic: str, partition: int, offset: int) -> int:
        """Advance the log start offset to ``offset`` (-1: the high watermark); returns the new low watermark."""
        plog = self.store.log(topic, partition)
        target = plog.log_end_offset if offset == -1 else offset
        plog.delete_records_before(target)
        self.store.checkpoint()
        return int(plog.log_start_offset)

    # ---------------------------------------------------------------- lifecycle
    def partitions_of(self, topic: str) -> int:
        return self.store.topic(topic).partitions

    def topic_name_by_id(self, topic_id: object) -> str | None:
        """The name of the topic with this id (Produce v13+, Fetch v13+), or None."""
        if not isinstance(topic_id, uuid.UUID):
            return None
        try:
            return self.store.topic_by_id(topic_id).name
        except UnknownTopicError:
            return None

    def snapshot_producer_states(self) -> None:
        """Write each loaded partition's producer state, so a restart after a crash only rescans the
        batches appended since (entries beyond the log end are dropped when a snapshot is loaded)."""
        for (topic, partition), state in list(self._producer_states.items()):
            try:
                plog = self.store.log(topic, partition)
                state.write_snapshot(plog.path, plog.log_end_offset)
            except (OSError, UnknownTopicError) as exc:
                log.warning("could not write producer snapshot for %s-%d: %s", topic, partition, exc)

    def close(self) -> None:
        self.snapshot_producer_states()
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        self._waiters.clear()
