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
import errno
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from logbroker.config import BrokerConfig, describe_broker, load_dynamic, save_dynamic
from logbroker.errors import (
    CorruptBatchError,
    InternalTopicError,
    InvalidRecordError,
    InvalidRequestError,
    LogStorageError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    TopicAuthorizationError,
    TopicDeletionDisabledError,
    UnknownTopicError,
)
from logbroker.producer_ids import ProducerIdAllocator
from logbroker.records import RecordInput, build_batch
from logbroker.topics import (
    ActiveProducer,
    ConfigChange,
    ConfigEntry,
    LogDirUsage,
    PartitionState,
    TopicDescription,
    TopicInfo,
    apply_config_ops,
    check_replication_factor,
    is_internal,
)
from segments.batch import HEADER_SIZE, read_header, set_log_append_time
from segments.config import ConfigSource, describe
from segments.flush import Durability
from segments.log import Log
from segments.producer_state import ProducerState
from segments.records import has_keyless_record
from segments.store import Store
from segments.timestamp_bounds import check_timestamp_bounds

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
# errno values of a log directory that has no room left: Kafka answers KAFKA_STORAGE_ERROR.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


# Kafka's LogValidator message for a null key on a compacted topic (INVALID_RECORD).
_KEYLESS = "Compacted topic cannot accept message without key in topic partition {topic}-{partition}."


@contextmanager
def _disk_errors(action: str) -> Iterator[None]:
    """Turn an OSError from the log directory into LogStorageError (KAFKA_STORAGE_ERROR for a Kafka
    client, 507 over HTTP), logged once here: a full disk is a WARNING, anything else an ERROR."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            log.warning("%s refused: the log directory is full (%s)", action, exc)
            raise LogStorageError(f"{action} refused: the log directory is full ({exc.strerror})") from exc
        log.error("%s failed: %s", action, exc)
        raise LogStorageError(f"{action} failed: {exc.strerror or exc}") from exc


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
        self.data_dir = data_dir
        dynamic_default, dynamic_broker = load_dynamic(data_dir)
        if dynamic_default or dynamic_broker:
            self.config = config.with_dynamic(dynamic_default, dynamic_broker)
            store.set_default_config(self.config.log_defaults)
        self.cluster_id = config.get_str("cluster.id")
        self._producer_ids = ProducerIdAllocator(data_dir)
        self._producer_states: dict[TopicPartition, ProducerState] = {}
        self._waiters: dict[TopicPartition, set[asyncio.Future[None]]] = {}
        self._listening: dict[TopicPartition, Log] = {}  # logs carrying the waiters' append listener
        self.bytes_in = 0
        self.records_in = 0
        # Per-topic traffic for /metrics (Kafka's BrokerTopicMetrics: BytesIn, MessagesIn, BytesOut).
        self.topic_bytes_in: dict[str, int] = {}
        self.topic_records_in: dict[str, int] = {}
        self.topic_bytes_out: dict[str, int] = {}

    # ---------------------------------------------------------------- topics
    @staticmethod
    def is_internal(name: str) -> bool:
        """Kafka's internal topics (``__consumer_offsets``): only the broker writes them."""
        return is_internal(name)

    def has_topic(self, name: str) -> bool:
        return self.store.has_topic(name)

    def topic(self, name: str) -> TopicInfo:
        """The topic's name, id, partition count and config. Raises UnknownTopicError."""
        return self.store.topic(name)

    def topics(self) -> list[TopicInfo]:
        return self.store.topics()

    def topic_names(self) -> list[str]:
        return self.store.list_topics()

    def topic_id(self, name: str) -> uuid.UUID | None:
        """The topic's id, or None when there is no such topic."""
        try:
            return self.store.topic(name).topic_id
        except UnknownTopicError:
            return None

    def has_partition(self, topic: str, partition: int) -> bool:
        return self.store.has_topic(topic) and 0 <= partition < self.store.topic(topic).partitions

    def ensure_topic(self, name: str) -> bool:
        """True if the topic exists, creating it when ``auto.create.topics.enable`` allows.

        Internal topics are never auto-created by a client's request: the broker creates them itself
        with their own configuration (compaction).
        """
        if self.store.has_topic(name):
            return True
        if is_internal(name) or not self.config.get_bool("auto.create.topics.enable"):
            return False
        self.create_topic(name, self.config.get_int("num.partitions"), {})
        log.info("auto-created topic %s with %d partition(s)", name, self.config.get_int("num.partitions"))
        return True

    def create_topic(self, name: str, partitions: int | None, configs: Mapping[str, str], *,
                     replication_factor: int | None = None, validate_only: bool = False) -> TopicInfo:
        """Create a topic (Kafka CreateTopics). ``partitions`` None or -1 means ``num.partitions`` and
        ``replication_factor`` None or -1 the default; with ``validate_only`` nothing is written.

        Raises InvalidReplicationFactorError, InvalidTopicError, TopicExistsError,
        InvalidPartitionsError or InvalidConfigError; a failed create leaves no topic behind.
        """
        check_replication_factor(replication_factor)
        if partitions is None or partitions == -1:
            partitions = self.config.get_int("num.partitions")
        with _disk_errors(f"create topic {name}"):
            return self.store.create_topic(name, partitions, dict(configs), validate_only=validate_only)

    def delete_topic(self, name: str) -> TopicInfo:
        """Delete a topic for a client (Kafka DeleteTopics).

        Raises TopicDeletionDisabledError (``delete.topic.enable=false``), UnknownTopicError, or
        TopicAuthorizationError for an internal topic (the group coordinator's state lives there).
        """
        if not self.config.get_bool("delete.topic.enable"):
            raise TopicDeletionDisabledError("topic deletion is disabled (delete.topic.enable=false)")
        self.store.topic(name)
        if is_internal(name):
            raise TopicAuthorizationError(f"topic {name} is internal and cannot be deleted")
        keys = [tp for tp in self._producer_states if tp[0] == name]
        for tp in keys:
            del self._producer_states[tp]
        for tp in [tp for tp in self._waiters if tp[0] == name]:
            for fut in self._waiters.pop(tp):
                if not fut.done():
                    fut.set_result(None)
        for tp in [tp for tp in self._listening if tp[0] == name]:
            del self._listening[tp]
        with _disk_errors(f"delete topic {name}"):
            return self.store.delete_topic(name)

    def create_partitions(self, name: str, new_total: int, *, validate_only: bool = False) -> TopicInfo:
        """Grow a topic to ``new_total`` partitions (Kafka CreatePartitions); counts never shrink."""
        with _disk_errors(f"add partitions to {name}"):
            return self.store.add_partitions(name, new_total, validate_only=validate_only)

    def describe_configs(self, name: str, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """The topic's configs with their values, defaults and sources (Kafka DescribeConfigs)."""
        return self.configs_of(self.store.topic(name), names)

    def configs_of(self, info: TopicInfo, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """The configs a topic has (or would have: ``info`` from a validate-only change)."""
        return describe(info.overrides, self.config.log_defaults, broker_props=self.config.props,
                        names=list(names) if names else None, broker_sources=self.config.dynamic_sources())

    def alter_configs(self, name: str, *, set: Mapping[str, str], delete: Iterable[str] = (),
                      validate_only: bool = False) -> TopicInfo:
        """Set and remove topic config overrides; the others stay."""
        with _disk_errors(f"change configs of {name}"):
            return self.store.alter_config(name, set=dict(set), delete=list(delete), validate_only=validate_only)

    def replace_configs(self, name: str, overrides: Mapping[str, str], *, validate_only: bool = False) -> TopicInfo:
        """Replace a topic's whole set of overrides (Kafka's legacy AlterConfigs)."""
        info = self.store.topic(name)
        with _disk_errors(f"change configs of {name}"):
            return self.store.alter_config(name, set=dict(overrides),
                                           delete=[k for k in info.overrides if k not in overrides],
                                           validate_only=validate_only)

    def incremental_alter_configs(self, name: str, changes: Iterable[ConfigChange], *,
                                  validate_only: bool = False) -> TopicInfo:
        """Apply SET/DELETE/APPEND/SUBTRACT changes (Kafka IncrementalAlterConfigs)."""
        info = self.store.topic(name)
        return self.replace_configs(name, apply_config_ops(info.overrides, info.config, changes),
                                    validate_only=validate_only)

    # ---------------------------------------------------------------- broker configs
    def _check_broker_resource(self, name: str, *, allow_default: bool) -> None:
        if name == "" and allow_default:
            return
        if name != str(self.node_id):
            raise InvalidRequestError(f"Unexpected broker id, expected {self.node_id}, but received {name!r}")

    def describe_broker_configs(self, resource_name: str, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """This broker's configs (Kafka DescribeConfigs on a BROKER resource, named by its node id), or
        with an empty name the dynamic cluster defaults alone, as Kafka describes its default resource."""
        self._check_broker_resource(resource_name, allow_default=True)
        if resource_name == "":
            layer = self.config.dynamic_default
            wanted = [n for n in (names or layer) if n in layer]
            return [replace(e, value=layer[e.name], source=ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
                    for e in describe_broker(self.config, wanted)] if wanted else []
        return describe_broker(self.config, names)

    def alter_broker_configs(self, resource_name: str, changes: Iterable[ConfigChange], *, replace: bool = False,
                             validate_only: bool = False) -> None:
        """Change dynamic broker configs: for this broker (``resource_name`` its node id) or the
        cluster-wide default (``""``). ``replace`` drops every dynamic config of that layer first
        (Kafka's legacy AlterConfigs). The topic defaults they set apply at once to every topic.
        Raises InvalidRequestError (another broker) or InvalidConfigError (not dynamic, bad value)."""
        self._check_broker_resource(resource_name, allow_default=True)
        config = self.config
        layer = dict(config.dynamic_default if resource_name == "" else config.dynamic_broker)
        if replace:
            layer = {}
        layer = apply_config_ops(layer, config.log_defaults, changes, base_of=config.props)
        default = layer if resource_name == "" else config.dynamic_default
        broker = config.dynamic_broker if resource_name == "" else layer
        updated = config.with_dynamic(default, broker)
        if validate_only:
            return
        with _disk_errors("change dynamic broker configs"):
            save_dynamic(self.data_dir, updated.dynamic_default, updated.dynamic_broker)
        self.config = updated
        self.store.set_default_config(updated.log_defaults)
        log.info("dynamic broker configs now: cluster default %s, broker %d %s", dict(updated.dynamic_default),
                 self.node_id, dict(updated.dynamic_broker))

    def describe_topic(self, name: str) -> TopicDescription:
        """A topic with each partition's offsets and size and its configs."""
        info = self.store.topic(name)
        partitions = tuple(self._partition_state(name, p) for p in range(info.partitions))
        return TopicDescription(info, is_internal(name), partitions, tuple(self.describe_configs(name)))

    def open_partitions(self) -> list[PartitionState]:
        """Offsets and sizes of every partition log opened so far (metrics), sorted."""
        return [PartitionState(t, p, plog.log_start_offset, plog.log_end_offset, plog.size_bytes)
                for (t, p), plog in sorted(self.store.open_logs().items())]

    def log_dir_usage(self, wanted: Mapping[str, Iterable[int]] | None = None) -> LogDirUsage:
        """The data directory with the size of each partition in ``wanted`` (topic -> partitions;
        None: every partition of every topic), for Kafka's DescribeLogDirs. Unknown topics and
        partitions are left out, as Kafka leaves out replicas it does not host."""
        states: list[PartitionState] = []
        for name in sorted(self.store.list_topics()) if wanted is None else wanted:
            if not self.store.has_topic(name):
                continue
            count = self.store.topic(name).partitions
            indexes = range(count) if wanted is None else sorted(set(wanted[name]))
            states += [self._partition_state(name, p) for p in indexes if 0 <= p < count]
        path = self.store.data_dir.resolve()
        try:
            usage = shutil.disk_usage(path)
            total, usable = usage.total, usage.free
        except OSError:
            total = usable = -1
        return LogDirUsage(str(path), tuple(states), total, usable)

    def active_producers(self, topic: str, partition: int) -> list[ActiveProducer]:
        """The idempotent producers with state on a partition (Kafka DescribeProducers), by id.
        Raises UnknownTopicError."""
        plog = self.store.log(topic, partition)
        state = self._producer_state(topic, partition, plog)
        return [ActiveProducer(e.producer_id, e.epoch, e.last_seq, e.last_timestamp)
                for _, e in sorted(state.entries.items())]

    def _partition_state(self, topic: str, partition: int) -> PartitionState:
        plog = self.store.log(topic, partition)
        return PartitionState(topic, partition, plog.log_start_offset, plog.log_end_offset, plog.size_bytes)

    # ---------------------------------------------------------------- produce
    @staticmethod
    def check_client_append(topic: str) -> None:
        """Raise InternalTopicError when a client may not write to ``topic`` (Kafka refuses appends
        to internal topics unless they come from the broker itself)."""
        if is_internal(topic):
            raise InternalTopicError(f"Cannot append to internal topic {topic}")

    def build_batch(self, topic: str, partition: int, records: Sequence[RecordInput], *, now_ms: int) -> bytes:
        """One batch of ``records`` for a partition, refused before anything is written when it is over
        the topic's ``max.message.bytes`` or (compacted topic) a record has no key.

        For fronts that receive records rather than batches (HTTP). Raises UnknownTopicError,
        RecordTooLargeError, InvalidRecordError; ValueError for records no batch can hold.
        """
        config = self.store.log(topic, partition).config
        if config.compact and any(r.key is None for r in records):
            raise InvalidRecordError(_KEYLESS.format(topic=topic, partition=partition))
        batch = build_batch(records, now_ms=now_ms)
        limit = config.max_message_bytes
        if len(batch) > limit:
            raise RecordTooLargeError(f"the {len(records)} record(s) for partition {partition} make a batch of "
                                      f"{len(batch)} bytes, over the topic's max.message.bytes {limit}")
        return batch

    def append(self, topic: str, partition: int, records: memoryview, *,
               expect_one_batch: bool = True, internal: bool = False) -> AppendOutcome:
        """Append one partition's produced batch. HOT PATH: per batch work only (records are walked
        only on a compacted topic, to refuse null keys, as Kafka's validator does).

        ``internal`` is for the broker's own writes (the group coordinator's ``__consumer_offsets``);
        a client's append to an internal topic raises InternalTopicError.
        Raises UnknownTopicError, CorruptBatchError, RecordTooLargeError, InvalidRecordError (and its
        InvalidTimestampError: message.timestamp.before/after.max.ms), OutOfOrderSequenceError,
        InvalidProducerEpochError or LogStorageError (the disk refused the write); nothing is written
        when it raises.
        """
        if not internal:
            self.check_client_append(topic)
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
        if config.compact and has_keyless_record(records):
            raise InvalidRecordError(_KEYLESS.format(topic=topic, partition=partition))
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
        with _disk_errors(f"append to {topic}-{partition}"):
            result = plog.append(records, now_ms=now)
        if state is not None:
            state.update(header, result.first_offset)
        self.bytes_in += len(records)
        self.records_in += header.record_count
        self.topic_bytes_in[topic] = self.topic_bytes_in.get(topic, 0) + len(records)
        self.topic_records_in[topic] = self.topic_records_in.get(topic, 0) + header.record_count
        durable = self.durability.after_append(plog, config, result.last_offset, now_ms=now)
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

    def _producer_state(self, topic: str, partition: int, plog: Log) -> ProducerState:
        tp = (topic, partition)
        state = self._producer_states.get(tp)
        if state is None:
            state = ProducerState.recover(plog)
            # As Kafka's ProducerStateManager on load: producers idle past producer.id.expiration.ms
            # (by their last batch's timestamp) are dropped.
            state.expire(int(time.time() * 1000), self.config.get_int("producer.id.expiration.ms"))
            self._producer_states[tp] = state
        return state

    def init_producer_id(self, producer_id: int = -1, producer_epoch: int = -1) -> tuple[int, int]:
        """Give an idempotent producer a new id at epoch 0 (KIP-98).

        Without a transactional id Kafka's coordinator always allocates a new id, even when the request
        names the producer's current id and epoch (KIP-360's bump applies to transactional producers);
        the old id is not fenced and keeps producing with its own sequences."""
        del producer_id, producer_epoch
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
        """Return when any of ``keys`` gets an append, or after ``timeout_s``.

        The wake-up is the partition log's own append listener (one mechanism for every writer:
        produce, the group coordinator, replication); an unknown partition only waits out the time.
        """
        if timeout_s <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        registered = []
        for tp in keys:
            self._listen(tp)
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

    def _listen(self, tp: TopicPartition) -> None:
        """Attach the waiters' wake-up to the partition's log once (again if the log was reopened)."""
        try:
            plog = self.store.log(*tp)
        except UnknownTopicError:
            return
        if self._listening.get(tp) is plog:
            return
        plog.add_append_listener(partial(self._on_append, tp))
        self._listening[tp] = plog

    def _on_append(self, tp: TopicPartition, _log_end_offset: int) -> None:
        self._notify(tp)

    def _notify(self, tp: TopicPartition) -> None:
        waiters = self._waiters.pop(tp, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # ---------------------------------------------------------------- offsets
    def offset_for_timestamp(self, topic: str, partition: int, timestamp: int) -> tuple[int, int]:
        """Kafka ListOffsets semantics: -2 earliest, -1 latest, -3 max timestamp, else by time.

        Returns (offset, timestamp); (-1, -1) when no record has a timestamp >= ``timestamp``. For -3
        the offset is the record's holding the largest timestamp, not its batch's (Kafka, KIP-734).
        """
        plog = self.store.log(topic, partition)
        if timestamp == -2:
            return plog.log_start_offset, -1
        if timestamp == -1:
            return plog.log_end_offset, -1
        found = plog.max_timestamp_record() if timestamp == -3 else plog.record_for_timestamp(timestamp)
        return found if found is not None else (-1, -1)

    def reset_offset(self, topic: str, partition: int, strategy: str, *, timestamp: int | None = None,
                     shift: int | None = None, current: int | None = None) -> int:
        """Where a consumer reset puts a partition (``auto.offset.reset`` and kafka-consumer-groups
        ``--reset-offsets``): ``earliest`` the log start, ``latest`` the log end, ``timestamp`` the first
        record at or after it (else the log end), ``shift`` ``current`` (else the log end) moved by
        ``shift`` records, kept within the log. Raises ValueError for another strategy."""
        start, end = self.offsets(topic, partition)
        if strategy == "earliest":
            return start
        if strategy == "latest":
            return end
        if strategy == "timestamp" and timestamp is not None:
            found, _ = self.offset_for_timestamp(topic, partition, timestamp)
            return found if found >= 0 else end
        if strategy == "shift" and shift is not None:
            return min(max((end if current is None else current) + shift, start), end)
        raise ValueError(f"unknown offset reset strategy {strategy!r} (or its argument is missing)")

    def start_offset(self, topic: str, partition: int, committed: int | None, reset: str) -> int:
        """A consumer's first position: the committed offset while it is inside the log, else per
        ``reset`` (``earliest``/``latest``), as a Kafka consumer does after OFFSET_OUT_OF_RANGE."""
        start, end = self.offsets(topic, partition)
        if committed is not None and start <= committed <= end:
            return committed
        return self.reset_offset(topic, partition, reset)

    def delete_records(self, topic: str, partition: int, offset: int) -> int:
        """Advance the log start offset to ``offset`` (-1: the high watermark); returns the new low watermark.

        Kafka refuses DeleteRecords on internal topics (INVALID_TOPIC_EXCEPTION).
        """
        if is_internal(topic):
            raise InternalTopicError(f"Cannot delete records of internal topic {topic}")
        plog = self.store.log(topic, partition)
        if offset < 0 and offset != -1:
            # Kafka's ReplicaManager: only -1 (the high watermark) stands for an offset.
            raise OffsetOutOfRangeError(offset, plog.log_start_offset, plog.log_end_offset)
        target = plog.log_end_offset if offset == -1 else offset
        with _disk_errors(f"delete records of {topic}-{partition}"):
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
