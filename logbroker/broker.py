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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from logbroker.checkpoint_writer import CheckpointWriter
from logbroker.client_quotas import ClientQuotaStore, QuotaStorage
from logbroker.config import BrokerConfig, describe_broker, load_dynamic, save_dynamic
from logbroker.errors import (
    ClusterTopicChangeError,
    CorruptBatchError,
    InternalTopicError,
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidRecordError,
    InvalidReplicaAssignmentError,
    InvalidRequestError,
    LogStorageError,
    NotLeaderOrFollowerError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
    TopicAuthorizationError,
    TopicDeletionDisabledError,
    TopicExistsError,
    UnknownTopicError,
)
from logbroker.ownership import PartitionOwnership
from logbroker.producer_ids import ProducerIdAllocator
from logbroker.records import RecordInput, build_batch
from logbroker.security.acl_file import AclFile
from logbroker.security.authorizer import (
    AUTHORIZER_CLASS_NAMES,
    AllowEverything,
    Authorizer,
    parse_super_users,
)
from logbroker.security.password_checks import PasswordChecks
from logbroker.security.scram_store import CredentialStore, FileCredentialStore
from logbroker.security.token_revocations import RevocationStore
from logbroker.topics import (
    OFFSETS_TOPIC,
    ActiveProducer,
    ConfigChange,
    ConfigEntry,
    LogDirUsage,
    PartitionState,
    TopicDescription,
    TopicInfo,
    apply_config_ops,
    check_replicas,
    check_replication_factor,
    check_replication_factor_fits,
    check_replication_factor_sign,
    is_internal,
    is_replicated,
)
from segments.batch import HEADER_SIZE, iter_batches, read_header, set_log_append_time, set_partition_leader_epoch
from segments.checkpoint import CheckpointError, read_offset_checkpoint, write_offset_checkpoint
from segments.config import ConfigSource, describe
from segments.flush import Durability
from segments.leader_epoch import LeaderEpochCache
from segments.log import Log
from segments.producer_state import ProducerState, write_snapshot
from segments.records import has_keyless_record
from segments.store import Store, TopicChange
from segments.timestamp_bounds import check_timestamp_bounds
from segments.writer import WriteTicket

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"  # high watermarks, in a cluster
# ListOffsets timestamps that stand for a position, not a time (Kafka's ListOffsetsRequest).
EARLIEST = -2
LATEST = -1
# How long a view waits for the leaders of partitions held elsewhere before showing them as unknown.
LEADER_ASK_TIMEOUT_S = 5.0
# errno values of a log directory that has no room left: Kafka answers KAFKA_STORAGE_ERROR.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


# Kafka's LogValidator message for a null key on a compacted topic (INVALID_RECORD).
_KEYLESS = "Compacted topic cannot accept message without key in topic partition {topic}-{partition}."


def _local_only(in_cluster: bool, action: str) -> None:
    """The synchronous topic changes act on this broker alone; in a cluster a replicated topic changes
    through the cluster first (the ``*_async`` methods the fronts use). Asked of one broker alone, the
    change is refused: ClusterTopicChangeError (INVALID_REQUEST, HTTP 400), logged."""
    if in_cluster:
        log.error("%s refused: a topic the cluster replicates changes through the cluster, not on one broker",
                  action)
        raise ClusterTopicChangeError(f"{action}: a topic the cluster replicates is changed through the cluster "
                                      "(CreateTopics, CreatePartitions, DeleteTopics), never on one broker alone")


@contextmanager
def _disk_errors(action: str) -> Iterator[None]:
    """Turn a refusal of the log directory (the storage engine's LogStorageError, or an OSError from a
    file it does not wrap) into one LogStorageError naming the action (KAFKA_STORAGE_ERROR for a Kafka
    client, 507 over HTTP), logged once here: a full disk is a WARNING, anything else an ERROR."""
    try:
        yield
    except (LogStorageError, OSError) as exc:
        raise _storage_error(action, exc) from exc


def _storage_error(action: str, exc: LogStorageError | OSError) -> LogStorageError:
    """``_disk_errors``' translation and log line, for an error that arrives later (a pending write)."""
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    if exc.errno in _DISK_FULL:
        log.warning("%s refused: the log directory is full (%s)", action, exc)
        return LogStorageError(f"{action} refused: the log directory is full ({reason})", exc.errno)
    log.error("%s failed: %s", action, exc)
    return LogStorageError(f"{action} failed: {reason or exc}", exc.errno)


def _settle(fut: asyncio.Future[None], _error: BaseException | None) -> None:
    if not fut.done():
        fut.set_result(None)  # the outcome is read from the ticket; a future with no waiter stays quiet


def _copy_outcome(source: Future[int], target: Future[int]) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


def build_authorizer(config: BrokerConfig, data_dir: Path) -> Authorizer:
    """The authorizer ``authorizer.class.name`` asks for; ACLs in the data directory (a cluster swaps in
    its ZooKeeper store when it joins). An unknown class name stops the broker rather than leaving it open."""
    name = config.get_str("authorizer.class.name").strip()
    if not name:
        return AllowEverything()
    if name not in AUTHORIZER_CLASS_NAMES:
        raise InvalidConfigError(f"authorizer.class.name={name} is not known; use one of "
                                 + ", ".join(sorted(AUTHORIZER_CLASS_NAMES)))
    authorizer = Authorizer(AclFile(data_dir), super_users=parse_super_users(config.get_str("super.users")),
                            allow_if_no_acl=config.get_bool("allow.everyone.if.no.acl.found"))
    log.info("authorizer on (%s): %d ACL(s), super users %s", name, len(authorizer.acls()),
             sorted(authorizer.super_users) or "none")
    return authorizer


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    base_offset: int
    log_append_time: int  # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    durable: Future[int] | None  # resolves when the bytes are as durable as the topic's policy promises
    duplicate: bool = False
    next_offset: int = -1  # the log end right after this batch (what acks=all waits for the ISR to reach)
    # The write still pending when ``append`` returned (an append writer copies the bytes into the
    # file); ``Broker.wait_written`` waits for it (acks=1). None when the bytes were already written.
    written: WriteTicket | None = None


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    parts: Sequence[Any]  # FileRange objects (fileno, position, length) for sendfile
    nbytes: int
    high_watermark: int
    log_start_offset: int


@dataclass(frozen=True, slots=True)
class ProducerSnapshot:
    """One partition's producer state, taken on the loop, to be written by a worker thread."""

    partition: TopicPartition
    log: Log
    truncations: int  # the log's truncation count when the state was taken
    offset: int
    doc: dict[str, object]


class Broker:
    """One broker's state. Not thread-safe: call it from the event loop that owns it."""

    def __init__(self, store: Store, config: BrokerConfig, durability: Durability, data_dir: Path,
                 *, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.store = store
        self.config = config
        self.durability = durability
        self.clock = clock
        self.data_dir = data_dir
        self.node_id = config.node_id
        self.data_dir = data_dir
        # SCRAM credentials (logbroker/security/scram_store.py): a file here; a cluster swaps in ZooKeeper's.
        self.credentials: CredentialStore = FileCredentialStore(data_dir)
        # Client quotas (KIP-546), stored and described, not enforced (logbroker/client_quotas.py): a
        # file here; a cluster swaps in ZooKeeper's (logbroker/client_quotas_zookeeper.py).
        clustered = bool(config.get_str("zookeeper.connect"))
        self.client_quotas: QuotaStorage = ClientQuotaStore(data_dir, clustered=clustered)
        # PBKDF2 of password checks, both fronts' (logbroker/security/password_checks.py).
        self.password_checks = PasswordChecks()
        # HTTP token revocations every broker of a cluster sees (ZooKeeper); None: the HTTP front's own file.
        self.token_revocations: RevocationStore | None = None
        dynamic_default, dynamic_broker = load_dynamic(data_dir)
        if dynamic_default or dynamic_broker:
            self.config = config.with_dynamic(dynamic_default, dynamic_broker)
            store.set_default_config(self.config.log_defaults)
        self.cluster_id = config.get_str("cluster.id")
        self.producer_ids = ProducerIdAllocator(data_dir)
        self.authorizer = build_authorizer(config, data_dir)
        self._producer_states: dict[TopicPartition, ProducerState] = {}
        self._snapshot_offsets: dict[TopicPartition, int] = {}  # log end covered by the last snapshot written
        self._waiters: dict[TopicPartition, set[asyncio.Future[None]]] = {}
        self._listening: dict[TopicPartition, Log] = {}  # logs carrying the waiters' append listener
        self._epoch_caches: dict[TopicPartition, tuple[Log, LeaderEpochCache]] = {}
        # Leader-epoch checkpoints change on the loop; their fsyncs run on this writer's thread.
        self.epoch_writer = CheckpointWriter("leader-epoch-checkpoint")
        # Called with a topic's name once it is deleted (the group coordinator drops its state when
        # __consumer_offsets goes).
        self._deletion_listeners: list[Callable[[str], None]] = []
        self._epochs_checked: set[TopicPartition] = set()  # caches checked against the log end once
        # Set in a cluster (``zookeeper.connect``): who leads each partition is looked up there.
        # None: this single broker leads every partition and the high watermark is the log end.
        self.ownership: PartitionOwnership | None = None
        # Topics being adopted from the cluster's view: a second adoption of the name awaits the first.
        self._adoptions: dict[str, asyncio.Future[TopicInfo]] = {}
        # Dynamic broker config changes are written one at a time, in the order they were asked for.
        self._dynamic_lock = asyncio.Lock()
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

    @staticmethod
    def is_replicated(name: str) -> bool:
        """Topics a cluster replicates and leads per partition: client topics and ``__consumer_offsets``."""
        return is_replicated(name)

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

    async def ensure_topic_async(self, name: str) -> bool:
        """True if the topic exists, creating it when ``auto.create.topics.enable`` allows. Only an
        auto-creating Metadata request comes here: as in Kafka 4.1, a Produce (over either front)
        never creates a topic, it answers UNKNOWN_TOPIC_OR_PARTITION. Internal
        topics are never auto-created by a client's request: the broker creates them itself with their
        own configuration (compaction). In a cluster an auto-created topic is registered with the
        cluster first, without the event loop waiting on it."""
        if self.store.has_topic(name):
            return True
        if is_internal(name) or not self.config.get_bool("auto.create.topics.enable"):
            return False
        try:
            await self.create_topic_async(name, self.config.get_int("num.partitions"), {})
        except TopicExistsError:  # another request (or broker) registered it meanwhile: here once adopted
            return self.store.has_topic(name)
        log.info("auto-created topic %s with %d partition(s)", name, self.config.get_int("num.partitions"))
        return True

    def create_topic(self, name: str, partitions: int | None, configs: Mapping[str, str], *,
                     replication_factor: int | None = None, validate_only: bool = False) -> TopicInfo:
        """Create a topic (Kafka CreateTopics). ``partitions`` None or -1 means ``num.partitions`` and
        ``replication_factor`` None or -1 the default; with ``validate_only`` nothing is written.

        Raises InvalidReplicationFactorError, InvalidTopicError, TopicExistsError,
        InvalidPartitionsError or InvalidConfigError; a failed create leaves no topic behind.
        A topic a cluster replicates is registered with the cluster first: ``create_topic_async``;
        here it is refused with ClusterTopicChangeError.
        """
        if partitions is None or partitions == -1:
            partitions = self.config.get_int("num.partitions")
        _local_only(self.ownership is not None and is_replicated(name), f"creating topic {name}")
        check_replication_factor(replication_factor)
        with _disk_errors(f"create topic {name}"):
            return self.store.create_topic(name, partitions, dict(configs), validate_only=validate_only)

    async def adopt_topic(self, name: str, partitions: int, configs: Mapping[str, str],
                          topic_id: uuid.UUID) -> TopicInfo:
        """Create locally a topic the cluster already registered (same id), unless it is here. Only its
        metadata: a partition's directory is made when this broker, as one of its replicas, opens it.
        The metadata file is written in a worker thread; the topic is visible (and this returns)
        once it is durable. Adopting a name already being adopted waits for that adoption. A caller
        cancelled meanwhile does not stop it."""
        pending = self._adoptions.get(name)
        if pending is None:
            if self.store.has_topic(name):
                return self.store.topic(name)
            pending = asyncio.ensure_future(self._adopt(name, partitions, dict(configs), topic_id))
            self._adoptions[name] = pending
            pending.add_done_callback(lambda done: self._adopted(name, done))
        return await asyncio.shield(pending)

    async def _adopt(self, name: str, partitions: int, configs: dict[str, str], topic_id: uuid.UUID) -> TopicInfo:
        with _disk_errors(f"create topic {name}"):
            prepared = await asyncio.to_thread(self.store.prepare_topic, name, partitions, configs,
                                               topic_id=topic_id, directories=False)
        return self.store.commit_topic(prepared)

    def _adopted(self, name: str, done: asyncio.Future[TopicInfo]) -> None:
        if self._adoptions.get(name) is done:
            del self._adoptions[name]
        if not done.cancelled() and done.exception() is not None:
            log.warning("adopting topic %s failed: %s", name, done.exception())

    async def create_topic_async(self, name: str, partitions: int | None, configs: Mapping[str, str], *,
                                 replication_factor: int | None = None, validate_only: bool = False,
                                 assignments: Sequence[Sequence[int]] | None = None,
                                 leaders_timeout_s: float = 0) -> TopicInfo:
        """``create_topic`` for the fronts: the partition directories and metadata file are written in a
        worker thread (5,000 partitions take seconds of mkdir and fsync) while produce, fetch and
        /health go on; the topic becomes visible on the event loop once its files are durable. In a
        cluster the topic is registered in the cluster state first, the ZooKeeper writes in a worker
        thread; then it is created here with the cluster's topic id. ``assignments``: each partition's
        replicas as the client chose them (``manual_assignment``); a single broker accepts them when
        every replica is this broker. ``leaders_timeout_s`` (CreateTopics' ``timeout_ms``): in a cluster,
        wait that long for this broker to know every partition's leader (``PartitionOwnership.await_leaders``)."""
        if partitions is None or partitions == -1:
            partitions = self.config.get_int("num.partitions")
        if self.ownership is not None and is_replicated(name):
            info = self.store.create_topic(name, partitions, dict(configs), validate_only=True)
            check_replication_factor_sign(replication_factor)
            if validate_only:
                # Registering checks the factor against the brokers live then; a check answers from
                # the brokers this one knows, as Kafka's validateOnly answers from its metadata.
                if replication_factor not in (None, -1):
                    check_replication_factor_fits(replication_factor, len(self.ownership.live_brokers()))
                return info
            # The cluster's node adopts the topic here (its file durable) before it answers.
            await self.ownership.publish_topic(info, replication_factor, assignments)
            await self.ownership.await_leaders(name, leaders_timeout_s)
            return self.store.topic(name)
        check_replication_factor(replication_factor)
        if assignments is not None:
            # A single broker: every replica must be this one (Kafka's answer on a one-broker cluster).
            check_replicas(assignments, [self.node_id])
            partitions = len(assignments)
        with _disk_errors(f"create topic {name}"):
            prepared = await asyncio.to_thread(self.store.prepare_topic, name, partitions, dict(configs),
                                               validate_only=validate_only)
        if validate_only:
            return prepared.info()
        return self.store.commit_topic(prepared)

    def delete_topic(self, name: str) -> TopicInfo:
        """Delete a topic for a client (Kafka DeleteTopics).

        Raises TopicDeletionDisabledError (``delete.topic.enable=false``), UnknownTopicError, or
        TopicAuthorizationError for an internal topic other than ``__consumer_offsets``. A topic a
        cluster replicates (``__consumer_offsets`` too) is removed from the cluster:
        ``delete_topic_async``; here it is refused with ClusterTopicChangeError.
        """
        self._check_deletable(name)
        _local_only(self.ownership is not None and is_replicated(name), f"deleting topic {name}")
        return self.forget_topic(name)

    def _check_deletable(self, name: str) -> None:
        if not self.config.get_bool("delete.topic.enable"):
            raise TopicDeletionDisabledError("topic deletion is disabled (delete.topic.enable=false)")
        self.store.topic(name)
        # Kafka 4.1 (KRaft, no authorizer) deletes __consumer_offsets when asked, and every group's
        # state with it; the coordinator creates the topic again when a group next needs it. The
        # other internal topics hold state logbroker does not rebuild that way, so they stay.
        if is_internal(name) and name != OFFSETS_TOPIC:
            raise TopicAuthorizationError(f"topic {name} is internal and cannot be deleted")

    def forget_topic(self, name: str) -> TopicInfo:
        """Delete a topic's local partitions and state (a client's DeleteTopics, or in a cluster the
        topic's removal seen in the cluster state)."""
        self._forget_topic_state(name)
        with _disk_errors(f"delete topic {name}"):
            return self.store.delete_topic(name)

    def add_topic_deletion_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(topic)`` whenever a topic is deleted (on the event loop)."""
        self._deletion_listeners.append(listener)

    def _forget_topic_state(self, name: str) -> None:
        """Drop the broker's own state of a topic being deleted, wake its waiters and tell the
        deletion listeners."""
        for listener in self._deletion_listeners:
            listener(name)
        keys = [tp for tp in self._producer_states if tp[0] == name]
        for tp in keys:
            del self._producer_states[tp]
            self._snapshot_offsets.pop(tp, None)
        for tp in [tp for tp in self._waiters if tp[0] == name]:
            for fut in self._waiters.pop(tp):
                if not fut.done():
                    fut.set_result(None)
        for tp in [tp for tp in self._listening if tp[0] == name]:
            del self._listening[tp]
        dropped = [tp for tp in self._epoch_caches if tp[0] == name]
        for tp in dropped:
            del self._epoch_caches[tp]
        if dropped:
            # A queued epoch checkpoint must not land in a directory of the same name created next.
            self.epoch_writer.flush()
        self._epochs_checked = {tp for tp in self._epochs_checked if tp[0] != name}

    async def delete_topic_async(self, name: str, *, timeout_s: float | None = None) -> TopicInfo:
        """``delete_topic`` for the fronts: the topic is gone from the broker at once (on the event
        loop), and its data files are removed in a worker thread. In a cluster the deletion of a topic
        the cluster replicates (``__consumer_offsets`` included: every broker's copy and the groups on
        it go, as Kafka deletes it) goes through the cluster state (marked for deletion in a worker
        thread, then waited for up to ``timeout_s``, DeleteTopics' ``timeout_ms``)."""
        self._check_deletable(name)
        if self.ownership is not None and is_replicated(name):
            info = self.store.topic(name)
            await self.ownership.unpublish_topic(name, timeout_s)
            if self.topic_id(name) != info.topic_id:
                return info  # the cluster's deletion reached this broker's copy first
            return self.forget_topic(name)
        self._forget_topic_state(name)
        with _disk_errors(f"delete topic {name}"):
            info, doomed = self.store.detach_topic(name)
        await asyncio.to_thread(self.store.remove_detached, doomed)
        return info

    def create_partitions(self, name: str, new_total: int, *, validate_only: bool = False,
                          assignments: Sequence[Sequence[int]] | None = None) -> TopicInfo:
        """Grow a topic to ``new_total`` partitions (Kafka CreatePartitions); counts never shrink. In a
        cluster the new partitions' replicas (``assignments``, else spread over the live brokers) are
        registered in the cluster state first (``create_partitions_async``); every broker then grows
        its copy."""
        _local_only(self.ownership is not None and is_replicated(name), f"adding partitions to {name}")
        if assignments is not None and any(list(a) != [self.node_id] for a in assignments):
            raise InvalidReplicaAssignmentError(f"the only broker is {self.node_id}")
        with _disk_errors(f"add partitions to {name}"):
            return self.store.add_partitions(name, new_total, validate_only=validate_only)

    async def create_partitions_async(self, name: str, new_total: int, *, validate_only: bool = False,
                                      assignments: Sequence[Sequence[int]] | None = None,
                                      leaders_timeout_s: float = 0) -> TopicInfo:
        """``create_partitions`` for the fronts: the metadata file and the new partitions' directories
        are written by the store's metadata thread while produce and fetch go on, and the answer
        waits until they are durable; in a cluster the new partitions are registered with the
        cluster first (a worker thread writes ZooKeeper), and the answer waits up to
        ``leaders_timeout_s`` for their leaders as ``create_topic_async``'s does."""
        if self.ownership is None or not is_replicated(name):
            if assignments is not None and any(list(a) != [self.node_id] for a in assignments):
                raise InvalidReplicaAssignmentError(f"the only broker is {self.node_id}")
            change = self.store.plan_partitions(name, new_total)
            if validate_only:
                return change.info()
            return await self._write_topic_change(change, f"add partitions to {name}")
        if is_internal(name):
            raise InvalidPartitionsError(f"the partition count of internal topic {name} cannot change")
        info = self.store.add_partitions(name, new_total, validate_only=True)
        if validate_only:
            return info
        await self.ownership.add_partitions(name, new_total, assignments)
        if self.store.planned_topic(name).partitions < new_total:  # else the cluster's view grew it meanwhile
            # Only the metadata: a partition's directory is made where one of its replicas opens it.
            change = self.store.plan_partitions(name, new_total, directories=False)
            await self._write_topic_change(change, f"add partitions to {name}")
        await self.ownership.await_leaders(name, leaders_timeout_s)
        return self.store.topic(name)

    async def _write_topic_change(self, change: TopicChange, action: str) -> TopicInfo:
        """Have the store's metadata thread write ``change``, apply it once durable and only then
        return: the event loop goes on serving meanwhile. A request cancelled while it waits does
        not undo the change: it is applied all the same once written."""
        written = asyncio.wrap_future(self.store.write_change(change))
        written.add_done_callback(lambda f: self._settle_topic_change(change, f))
        with _disk_errors(action):
            await asyncio.shield(written)
        return self.store.settle_change(change)

    def _settle_topic_change(self, change: TopicChange, written: asyncio.Future[None]) -> None:
        error = written.exception() if not written.cancelled() else asyncio.CancelledError()
        with suppress(UnknownTopicError):  # deleted while its change was written: the request says so
            self.store.settle_change(change, error)

    async def grow_topic(self, name: str, partitions: int) -> TopicInfo:
        """Grow the local copy of a topic the cluster grew (unless it has that many already). The
        metadata file is written by the store's metadata thread, behind the topic's changes queued
        before; this returns once the copy has ``partitions`` partitions, durably."""
        info = self.store.topic(name)
        if info.partitions >= partitions:
            return info
        if self.store.planned_topic(name).partitions >= partitions:
            # A growth still being written covers it: queue the topic as planned behind it (the
            # metadata thread writes in order), so this returns only once that growth is durable.
            change = self.store.plan_config(name)
        else:
            change = self.store.plan_partitions(name, partitions, directories=False)
        return await self._write_topic_change(change, f"add partitions to {name}")

    def describe_configs(self, name: str, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """The topic's configs with their values, defaults and sources (Kafka DescribeConfigs)."""
        return self.configs_of(self.store.topic(name), names)

    def configs_of(self, info: TopicInfo, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """The configs a topic has (or would have: ``info`` from a validate-only change)."""
        return describe(info.overrides, self.config.log_defaults, broker_props=self.config.props,
                        names=list(names) if names else None, broker_sources=self.config.dynamic_sources())

    def alter_configs(self, name: str, *, set: Mapping[str, str], delete: Iterable[str] = (),
                      validate_only: bool = False) -> TopicInfo:
        """Set and remove topic config overrides; the others stay. Blocks until the metadata file
        is durable: the fronts use ``alter_configs_async``."""
        with _disk_errors(f"change configs of {name}"):
            return self.store.alter_config(name, set=dict(set), delete=list(delete), validate_only=validate_only)

    async def alter_configs_async(self, name: str, *, set: Mapping[str, str], delete: Iterable[str] = (),
                                  validate_only: bool = False) -> TopicInfo:
        """``alter_configs`` for the fronts: the metadata file is written (and fsynced) by the
        store's metadata thread, the answer given once it is durable."""
        change = self.store.plan_config(name, dict(set), list(delete))
        if validate_only:
            return change.info()
        return await self._write_topic_change(change, f"change configs of {name}")

    async def replace_configs_async(self, name: str, overrides: Mapping[str, str], *,
                                    validate_only: bool = False) -> TopicInfo:
        """Replace a topic's whole set of overrides (Kafka's legacy AlterConfigs)."""
        info = self.store.planned_topic(name)
        return await self.alter_configs_async(name, set=overrides,
                                              delete=[k for k in info.overrides if k not in overrides],
                                              validate_only=validate_only)

    async def incremental_alter_configs_async(self, name: str, changes: Iterable[ConfigChange], *,
                                              validate_only: bool = False) -> TopicInfo:
        """Apply SET/DELETE/APPEND/SUBTRACT changes (Kafka IncrementalAlterConfigs), on top of the
        changes still being written."""
        info = self.store.planned_topic(name)
        return await self.replace_configs_async(name, apply_config_ops(info.overrides, info.config, changes),
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

    async def alter_broker_configs(self, resource_name: str, changes: Iterable[ConfigChange], *,
                                   replace: bool = False, validate_only: bool = False) -> None:
        """Change dynamic broker configs: for this broker (``resource_name`` its node id) or the
        cluster-wide default (``""``). ``replace`` drops every dynamic config of that layer first
        (Kafka's legacy AlterConfigs). The topic defaults they set apply to every topic once the
        file is durable, written (and fsynced) in a worker thread while the event loop goes on;
        changes are written and applied one at a time, in the order asked, each on top of the one
        before. A caller cancelled while its change is written does not undo it.
        Raises InvalidRequestError: another broker, a config that is not dynamic, a bad value (Kafka
        answers INVALID_REQUEST for every refused change of a BROKER resource, where a topic's get
        INVALID_CONFIG)."""
        self._check_broker_resource(resource_name, allow_default=True)
        changes = list(changes)
        if validate_only:
            self._dynamic_configs_after(resource_name, changes, replace)
            return
        task = asyncio.ensure_future(self._alter_dynamic(resource_name, changes, replace))
        task.add_done_callback(_note_dynamic_failure)
        await asyncio.shield(task)

    async def _alter_dynamic(self, resource_name: str, changes: list[ConfigChange], replace: bool) -> None:
        async with self._dynamic_lock:
            updated = self._dynamic_configs_after(resource_name, changes, replace)
            with _disk_errors("change dynamic broker configs"):
                await asyncio.to_thread(save_dynamic, self.data_dir, updated.dynamic_default, updated.dynamic_broker)
            self.config = updated
            self.store.set_default_config(updated.log_defaults)
        log.info("dynamic broker configs now: cluster default %s, broker %d %s", dict(updated.dynamic_default),
                 self.node_id, dict(updated.dynamic_broker))

    def _dynamic_configs_after(self, resource_name: str, changes: list[ConfigChange], replace: bool) -> BrokerConfig:
        """The broker config with ``changes`` applied to one dynamic layer; nothing is written."""
        config = self.config
        layer = dict(config.dynamic_default if resource_name == "" else config.dynamic_broker)
        if replace:
            layer = {}
        try:
            layer = apply_config_ops(layer, config.log_defaults, changes, base_of=config.props)
            default = layer if resource_name == "" else config.dynamic_default
            broker = config.dynamic_broker if resource_name == "" else layer
            updated = config.with_dynamic(default, broker)
        except InvalidConfigError as exc:
            raise InvalidRequestError(str(exc)) from exc
        return updated

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
            if self.ownership is not None and is_replicated(name):
                indexes = [p for p in indexes if self.ownership.hosts_replica(name, p)]
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
        Raises UnknownTopicError, NotLeaderOrFollowerError where this broker holds no replica."""
        plog = self._hosted_log(topic, partition)
        state = self._producer_state(topic, partition, plog)
        return [ActiveProducer(e.producer_id, e.epoch, e.last_seq, e.last_timestamp)
                for _, e in sorted(state.entries.items())]

    def _partition_state(self, topic: str, partition: int) -> PartitionState:
        """This broker's copy of a partition; in a cluster, one it holds no replica of is shown empty
        (its log is neither opened nor created here)."""
        if self.ownership is not None and is_replicated(topic) and not self.ownership.hosts_replica(topic, partition):
            self.store.topic(topic)
            return PartitionState(topic, partition, 0, 0, 0, 0)
        plog = self.store.log(topic, partition)
        return PartitionState(topic, partition, plog.log_start_offset, plog.log_end_offset, plog.size_bytes,
                              len(plog.segments))

    async def partition_states_async(self, name: str, start: int, stop: int) -> list[PartitionState]:
        """``partition_states``, but in a cluster a partition this broker holds no replica of is asked
        of its leader: log start offset and high watermark (ListOffsets) and size (DescribeLogDirs),
        both at once; its segment count is -1 (Kafka's APIs do not carry it). One whose leader could
        not be asked has offsets and size -1 and ``error`` saying why."""
        states = self.partition_states(name, start, stop)
        ownership = self.ownership
        if ownership is None or not is_replicated(name):
            return states
        elsewhere = [(name, s.partition) for s in states if not ownership.hosts_replica(name, s.partition)]
        if not elsewhere:
            return states
        answers, sizes = await asyncio.gather(self.list_offsets_async(elsewhere, (EARLIEST, LATEST)),
                                              ownership.leader_sizes(elsewhere, LEADER_ASK_TIMEOUT_S))
        out = []
        for s in states:
            answer = answers.get((name, s.partition))
            size = sizes.get((name, s.partition), -1)
            if isinstance(answer, tuple):
                s = PartitionState(name, s.partition, answer[0], answer[1], size if isinstance(size, int) else -1, -1,
                                   error=None if isinstance(size, int) else str(size))
            elif answer is not None:
                s = PartitionState(name, s.partition, -1, -1, -1, -1, error=str(answer))
            out.append(s)
        return out

    async def cluster_topic_totals(self, timeout_s: float = LEADER_ASK_TIMEOUT_S
                                   ) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
        """Per topic, (records, size in bytes) over all its partitions: alone, the open logs (as
        ``open_partitions``); in a cluster every partition through its leader, this broker answering
        for what it leads and the other leaders asked at once (ListOffsets and DescribeLogDirs). The
        second map names, per topic, why some partition could not be counted (its figures left
        out)."""
        totals: dict[str, list[int]] = {}
        ownership = self.ownership
        if ownership is None:
            for state in self.open_partitions():
                acc = totals.setdefault(state.topic, [0, 0])
                acc[0] += state.log_end_offset - state.log_start_offset
                acc[1] += state.size_bytes
            return {t: (r, b) for t, (r, b) in totals.items()}, {}
        here: list[tuple[str, int]] = []
        elsewhere: list[tuple[str, int]] = []
        for name in sorted(self.store.list_topics()):
            count = self.store.topic(name).partitions
            totals.setdefault(name, [0, 0])
            for p in range(count):
                view = ownership.partition_view(name, p) if is_replicated(name) else None
                if view is not None and view.leader != self.node_id:
                    elsewhere.append((name, p))
                else:
                    here.append((name, p))
        errors: dict[str, str] = {}
        for name, p in here:
            if is_replicated(name) and not ownership.hosts_replica(name, p):
                continue
            plog = self.store.log(name, p)
            hw = ownership.high_watermark(name, p, plog.log_end_offset) if is_replicated(name) else plog.log_end_offset
            totals[name][0] += max(hw - plog.log_start_offset, 0)
            totals[name][1] += plog.size_bytes
        if elsewhere:
            offsets, sizes = await asyncio.gather(ownership.leader_offsets(elsewhere, (EARLIEST, LATEST), timeout_s),
                                                  ownership.leader_sizes(elsewhere, timeout_s))
            for tp in elsewhere:
                answer, size = offsets.get(tp), sizes.get(tp)
                if isinstance(answer, tuple) and isinstance(size, int):
                    totals[tp[0]][0] += max(answer[1] - answer[0], 0)
                    totals[tp[0]][1] += size
                else:
                    failed = answer if not isinstance(answer, tuple) else size
                    errors.setdefault(tp[0], f"{tp[0]}-{tp[1]}: {failed}")
        return {t: (r, b) for t, (r, b) in totals.items()}, errors

    async def describe_topic_async(self, name: str) -> TopicDescription:
        """``describe_topic`` with the partitions held elsewhere asked of their leaders
        (``partition_states_async``)."""
        info = self.store.topic(name)
        partitions = tuple(await self.partition_states_async(name, 0, info.partitions))
        return TopicDescription(info, is_internal(name), partitions, tuple(self.describe_configs(name)))

    async def list_offsets_async(self, partitions: Sequence[tuple[str, int]], timestamps: Sequence[int],
                                 timeout_s: float = LEADER_ASK_TIMEOUT_S
                                 ) -> dict[tuple[str, int], tuple[int, ...] | StorageError]:
        """Per partition, its offsets for each of ``timestamps`` as Kafka's ListOffsets answers them
        (EARLIEST the log start, LATEST the high watermark, else the first offset at or after that
        time, -1 when none), whichever broker leads it: this broker answers for what it leads (alone,
        for everything); the rest is asked of the leaders, once per leader, within ``timeout_s``. A
        partition that could not be answered carries the error instead (unknown, no leader, the
        leader not answering)."""
        out: dict[tuple[str, int], tuple[int, ...] | StorageError] = {}
        elsewhere: list[tuple[str, int]] = []
        ownership = self.ownership
        for tp in dict.fromkeys(partitions):
            if ownership is not None and is_replicated(tp[0]) and self.has_partition(*tp):
                view = ownership.partition_view(*tp)
                if view is not None and view.leader != self.node_id:
                    elsewhere.append(tp)
                    continue
            try:
                out[tp] = tuple(self.offset_for_timestamp(tp[0], tp[1], ts)[0] for ts in timestamps)
            except StorageError as exc:
                out[tp] = exc
        if elsewhere:
            assert ownership is not None
            out.update(await ownership.leader_offsets(elsewhere, timestamps, timeout_s))
        return out

    def partition_states(self, name: str, start: int, stop: int) -> list[PartitionState]:
        """Offsets, sizes and segment counts of partitions ``[start, stop)`` of a topic: a page of a
        large topic opens only the logs it shows. Raises UnknownTopicError."""
        info = self.store.topic(name)
        return [self._partition_state(name, p) for p in range(max(start, 0), min(stop, info.partitions))]

    def disk_usage(self) -> tuple[int, int, int]:
        """(bytes of the open partition logs, free bytes, total bytes) of the data directory's file system."""
        usage = shutil.disk_usage(self.data_dir)
        used = sum(plog.size_bytes for plog in self.store.open_logs().values())
        return used, usage.free, usage.total

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

    def build_batches(self, topic: str, partition: int, records: Sequence[RecordInput], *,
                      now_ms: int) -> list[tuple[int, bytes]]:
        """``records`` as consecutive batches that each fit the topic's ``max.message.bytes``, as a Kafka
        producer or REST proxy splits what it was given: ``(record count, batch)`` pairs in order.

        A request that fits is one batch (one build); one that does not is halved until each part fits,
        so the work stays per batch. Raises RecordTooLargeError when a single record is over the limit,
        and what ``build_batch`` raises.
        """
        try:
            return [(len(records), self.build_batch(topic, partition, records, now_ms=now_ms))]
        except RecordTooLargeError:
            if len(records) == 1:
                raise
        half = len(records) // 2
        return (self.build_batches(topic, partition, records[:half], now_ms=now_ms)
                + self.build_batches(topic, partition, records[half:], now_ms=now_ms))

    def append(self, topic: str, partition: int, records: memoryview, *,
               expect_one_batch: bool = True, internal: bool = False, wait_durable: bool = True) -> AppendOutcome:
        """Append one partition's produced batch. HOT PATH: per batch work only (records are walked
        only on a compacted topic, to refuse null keys, as Kafka's validator does).

        ``internal`` is for the broker's own writes (the group coordinator's ``__consumer_offsets``);
        a client's append to an internal topic raises InternalTopicError. ``wait_durable`` false
        (acks=0 or 1: no one waits for the fsync) lets the flush policy fsync it lazily
        (``Durability.after_append``).
        Raises UnknownTopicError, CorruptBatchError, RecordTooLargeError, InvalidRecordError (and its
        InvalidTimestampError: message.timestamp.before/after.max.ms), OutOfOrderSequenceError,
        InvalidProducerEpochError or LogStorageError (the disk refused the write); nothing is written
        when it raises.
        """
        if not internal:
            self.check_client_append(topic)
        if self.ownership is not None and is_replicated(topic):
            self.ownership.check_leader(topic, partition)
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
                if dup.last_offset >= plog.log_end_offset:
                    plog.drain()  # a retry of a batch whose write is still pending (rare): let it land
                log.info("duplicate batch from producer %d to %s-%d (sequence %d): answering offset %d",
                         header.producer_id, topic, partition, header.base_sequence, dup.first_offset)
                return AppendOutcome(dup.first_offset, -1, plog.log_start_offset,
                                     self.durability.after_append(plog, config, dup.last_offset, now_ms=now,
                                                                  wait=wait_durable),
                                     duplicate=True, next_offset=dup.last_offset + 1)
        if records.readonly:
            # Offsets (and LogAppendTime) are written into the batch in place: one copy at most.
            records = memoryview(bytearray(records))
        log_append_time = -1
        if self.ownership is not None and is_replicated(topic):
            set_partition_leader_epoch(records, 0, self.ownership.leader_epoch(topic, partition))
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
        ticket = result.written
        if ticket is None:
            durable = self.durability.after_append(plog, config, result.last_offset, now_ms=now, wait=wait_durable)
        else:
            durable = self._after_write(topic, partition, plog, result.last_offset, now, ticket, wait_durable)
        return AppendOutcome(result.first_offset, log_append_time, plog.log_start_offset, durable,
                             next_offset=result.last_offset + 1, written=ticket)

    def _after_write(self, topic: str, partition: int, plog: Log, last_offset: int, now: int,
                     ticket: WriteTicket, wait_durable: bool = True) -> Future[int]:
        """The durability future of an append whose write is pending: the topic's policy applies once
        the bytes are in the file (its callbacks run on the loop); a failed write fails it."""
        durable: Future[int] = Future()

        def written(error: BaseException | None) -> None:
            if error is None and last_offset >= plog.log_end_offset:
                error = LogStorageError(f"offset {last_offset} of {topic}-{partition} was truncated")
            if error is not None:
                err = error if isinstance(error, (LogStorageError, OSError)) else LogStorageError(str(error))
                # The producer state counted batches that are not in the log: rebuilt from the log
                # once the writes still pending have landed or failed.
                plog.drain()
                self._producer_states.pop((topic, partition), None)
                durable.set_exception(_storage_error(f"append to {topic}-{partition}", err))
                return
            try:
                policy = self.durability.after_append(plog, plog.config, last_offset, now_ms=now, wait=wait_durable)
            except Exception as exc:
                durable.set_exception(exc)
                return
            policy.add_done_callback(partial(_copy_outcome, target=durable))

        ticket.add_done_callback(written)
        return durable

    @staticmethod
    async def wait_written(outcomes: Sequence[AppendOutcome], timeout_s: float) -> list[BaseException | None]:
        """Wait until appends' bytes are in their files (acks=1); one result per outcome, in order:
        None when written, TimeoutError when not within ``timeout_s``, else the storage error. No
        await at all when every write has already landed (or was done inline)."""
        tickets = [o.written for o in outcomes if o.written is not None]
        pending = [t for t in tickets if not t.done]
        if pending:
            loop = asyncio.get_running_loop()
            futures = []
            for ticket in pending:
                fut: asyncio.Future[None] = loop.create_future()
                ticket.add_done_callback(partial(_settle, fut))
                futures.append(fut)
            await asyncio.wait(futures, timeout=max(timeout_s, 0.001))
        results: list[BaseException | None] = []
        for outcome in outcomes:
            written = outcome.written
            if written is None:
                results.append(None)
            elif not written.done:
                results.append(TimeoutError("the write did not complete within the request timeout"))
            elif written.error is not None:
                err = written.error
                results.append(err if isinstance(err, LogStorageError) else LogStorageError(str(err)))
            else:
                results.append(None)
        return results

    def check_min_isr(self, topic: str, partition: int) -> None:
        """acks=all: raise NotEnoughReplicasError when the ISR is below the topic's
        ``min.insync.replicas`` (never on a single broker, whose ISR is itself)."""
        if self.ownership is not None and is_replicated(topic):
            min_isr = self.store.log(topic, partition).config.min_insync_replicas
            self.ownership.check_min_isr(topic, partition, min_isr)

    def replicated(self, topic: str, partition: int, next_offset: int) -> asyncio.Future[None] | None:
        """acks=all: a future resolved once every ISR member has the log up to ``next_offset``;
        None when nothing is to wait for (a single broker, or already replicated)."""
        if self.ownership is None or not is_replicated(topic):
            return None
        min_isr = self.store.log(topic, partition).config.min_insync_replicas
        return self.ownership.replicated(topic, partition, next_offset, min_isr)

    # ---------------------------------------------------------------- replication (cluster only)
    def append_replica(self, topic: str, partition: int, records: memoryview) -> int:
        """A follower appends batches fetched from its leader as they are (offsets and leader epochs
        kept) and records each newer leader epoch in the partition's epoch cache. Returns the log end."""
        plog = self.store.log(topic, partition)
        cache = self.epoch_cache(topic, partition)
        with _disk_errors(f"replicate to {topic}-{partition}"):
            result = plog.append_as_is(records)
            for _pos, header in iter_batches(records, check_crc=False):
                if header.partition_leader_epoch > cache.latest_epoch:
                    cache.assign(header.partition_leader_epoch, header.base_offset)
        state = self._producer_states.get((topic, partition))
        if state is not None:
            for _pos, header in iter_batches(records, check_crc=False):
                if header.producer_id >= 0:
                    state.update(header, header.base_offset)
        self.durability.after_append(plog, plog.config, result.last_offset, now_ms=self.clock())
        return int(plog.log_end_offset)

    def truncate_replica(self, topic: str, partition: int, offset: int) -> int:
        """Cut a follower's log to ``offset`` (KIP-101 truncation); returns the new log end."""
        plog = self.store.log(topic, partition)
        if offset < plog.log_end_offset:
            with _disk_errors(f"truncate {topic}-{partition}"):
                plog.truncate_to(offset)
                self.epoch_cache(topic, partition).truncate_from_end(plog.log_end_offset)
            self._producer_states.pop((topic, partition), None)  # rebuilt from the log when needed
        return int(plog.log_end_offset)

    def holds_replica_files(self, topic: str, partition: int) -> bool:
        """Whether this broker has a copy of the partition on disk (or open)."""
        return self.store.holds_partition(topic, partition)

    def drop_replica(self, topic: str, partition: int) -> Path | None:
        """This broker is no longer a replica of the partition: forget its producer state and epoch
        cache, wake its waiting fetches and take its data out of the store (on the loop; quick).
        Returns the detached directory, for ``Store.remove_detached`` in a worker thread."""
        tp = (topic, partition)
        self._producer_states.pop(tp, None)
        self._snapshot_offsets.pop(tp, None)
        self._notify(tp)
        self._listening.pop(tp, None)
        if self._epoch_caches.pop(tp, None) is not None:
            self.epoch_writer.flush()  # a queued checkpoint must not land after the directory moved
        self._epochs_checked.discard(tp)
        with _disk_errors(f"remove the replica of {topic}-{partition}"):
            return self.store.detach_partition(topic, partition)

    def remove_dropped_replica(self, path: Path) -> None:
        """Remove what ``drop_replica`` detached (blocking: run it in a worker thread)."""
        self.store.remove_detached([path])

    def become_leader(self, topic: str, partition: int, leader_epoch: int) -> None:
        """This broker now leads the partition under ``leader_epoch``: later batches are stamped with
        it, and its epoch starts at the current log end. Producer state is rebuilt from the log, which
        now holds the batches this broker replicated as a follower."""
        plog = self.store.log(topic, partition)
        self.epoch_cache(topic, partition).assign(leader_epoch, plog.log_end_offset)
        self._producer_states.pop((topic, partition), None)

    def epoch_cache(self, topic: str, partition: int) -> LeaderEpochCache:
        """The partition's leader-epoch cache. The first time a process loads it, epochs starting at or
        after the log end are dropped (crash recovery may have cut the log below them, or the epoch
        wrote nothing), as Kafka's log loader does, so the file never names offsets the log lacks."""
        tp = (topic, partition)
        plog = self.store.log(topic, partition)
        held = self._epoch_caches.get(tp)
        if held is None or held[0] is not plog:
            cache = LeaderEpochCache.load(plog.path, self.epoch_writer.write)
            if tp not in self._epochs_checked:
                self._epochs_checked.add(tp)
                with _disk_errors(f"leader-epoch checkpoint of {topic}-{partition}"):
                    cache.truncate_from_end(plog.log_end_offset)
            held = (plog, cache)
            self._epoch_caches[tp] = held
        return held[1]

    def read_high_watermarks(self) -> dict[TopicPartition, int]:
        """The ``replication-offset-checkpoint`` of the data directory (Kafka's name): each replicated
        partition's high watermark as last checkpointed; empty when missing or unreadable."""
        try:
            return read_offset_checkpoint(self.data_dir / REPLICATION_OFFSET_CHECKPOINT)
        except CheckpointError as exc:
            log.warning("ignoring the unreadable high-watermark checkpoint: %s", exc)
            return {}

    def write_high_watermarks(self, high_watermarks: Mapping[TopicPartition, int]) -> None:
        """Replace the ``replication-offset-checkpoint`` crash-safely (blocking: fsync and rename)."""
        with _disk_errors("write the high-watermark checkpoint"):
            write_offset_checkpoint(self.data_dir / REPLICATION_OFFSET_CHECKPOINT, high_watermarks)

    def end_offset_for_epoch(self, topic: str, partition: int, leader_epoch: int) -> tuple[int, int]:
        """OffsetForLeaderEpoch: (largest epoch <= ``leader_epoch``, the offset where it ends)."""
        plog = self.store.log(topic, partition)
        return self.epoch_cache(topic, partition).end_offset_for(leader_epoch, plog.log_end_offset)

    def log_end_offset(self, topic: str, partition: int) -> int:
        return int(self.store.log(topic, partition).log_end_offset)

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
        return self.producer_ids.allocate(), 0

    async def init_producer_id_async(self, producer_id: int = -1, producer_epoch: int = -1) -> tuple[int, int]:
        """``init_producer_id`` for the fronts: in a cluster a new block of ids is claimed from the
        cluster in a worker thread."""
        del producer_id, producer_epoch
        return await self.producer_ids.allocate_async(), 0

    # ---------------------------------------------------------------- fetch
    def read(self, topic: str, partition: int, offset: int, max_bytes: int, *,
             replica_id: int = -1, leader_epoch: int = -1, min_one_batch: bool = True,
             whole_batches: bool = True) -> ReadOutcome:
        """File ranges from ``offset`` (at least one whole batch if any, with ``min_one_batch``). HOT PATH.

        ``whole_batches=False``: Kafka's fetch slice, exactly ``max_bytes`` from one segment,
        possibly ending inside a batch (``Log.read``). In a cluster only the leader answers; a
        consumer (``replica_id`` < 0) reads below the high watermark only, a follower (its broker
        id) up to the log end, and its fetch offset is reported to the leader's replica tracking.
        """
        ownership = self.ownership
        sizing = {"min_one_batch": min_one_batch, "whole_batches": whole_batches}
        if ownership is None:
            plog = self.store.log(topic, partition)
            result = plog.read(offset, max_bytes, **sizing)
            hw = plog.log_end_offset
        else:
            # The role is checked before the log is looked up: a broker that is not a replica (any
            # more) answers without opening, so without creating, the partition's directory.
            self._check_leader(ownership, topic, partition, leader_epoch)
            plog = self.store.log(topic, partition)
            if replica_id >= 0:
                ownership.replica_fetched(topic, partition, replica_id, offset)
                result = plog.read(offset, max_bytes, **sizing)
                hw = ownership.high_watermark(topic, partition, plog.log_end_offset)
            else:
                hw = ownership.high_watermark(topic, partition, plog.log_end_offset)
                result = plog.read(offset, max_bytes, max_offset=hw, **sizing)
        nbytes = sum(r.length for r in result.ranges)
        return ReadOutcome(result.ranges, nbytes, hw, plog.log_start_offset)

    def _check_leader(self, ownership: PartitionOwnership, topic: str, partition: int, leader_epoch: int = -1) -> None:
        """``ownership.check_leader``, but a partition the topic does not have is UNKNOWN_TOPIC_OR_PARTITION
        (as Kafka answers a partition missing from its metadata), not NOT_LEADER_OR_FOLLOWER."""
        try:
            ownership.check_leader(topic, partition, leader_epoch)
        except NotLeaderOrFollowerError:
            if not self.has_partition(topic, partition):
                raise UnknownTopicError(f"unknown topic or partition {topic}-{partition}") from None
            raise

    def _hosted_log(self, topic: str, partition: int) -> Log:
        """The partition's log, when this broker holds a replica of it (a single broker holds every
        partition). In a cluster a broker that is not one of the partition's replicas answers
        NOT_LEADER_OR_FOLLOWER (UNKNOWN_TOPIC_OR_PARTITION for a partition the topic lacks) and
        never opens, so never creates, a directory for it."""
        ownership = self.ownership
        if ownership is not None and is_replicated(topic) and not ownership.hosts_replica(topic, partition):
            if not self.has_partition(topic, partition):
                raise UnknownTopicError(f"unknown topic or partition {topic}-{partition}")
            raise NotLeaderOrFollowerError(f"this broker holds no replica of {topic}-{partition}")
        return self.store.log(topic, partition)

    def read_replica(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadOutcome:
        """A consumer's read of this broker's own replica, whether it leads the partition or follows it
        (Kafka's fetch from a follower, KIP-392): whole batches below the high watermark this broker
        knows (a follower's as its leader last told it), so only committed records. HOT PATH: the HTTP
        front's group members read this way on their coordinator, which leads only some partitions."""
        if self.ownership is None or not is_replicated(topic):
            return self.read(topic, partition, offset, max_bytes)
        plog = self._hosted_log(topic, partition)
        hw = self.ownership.high_watermark(topic, partition, plog.log_end_offset)
        result = plog.read(offset, max_bytes, max_offset=hw)
        return ReadOutcome(result.ranges, sum(r.length for r in result.ranges), hw, plog.log_start_offset)

    def count_bytes_out(self, topic: str, nbytes: int) -> None:
        """Record bytes a front actually answered with (once per response, not per read attempt)."""
        if nbytes:
            self.topic_bytes_out[topic] = self.topic_bytes_out.get(topic, 0) + nbytes

    def offsets(self, topic: str, partition: int) -> tuple[int, int]:
        """(log start offset, log end offset) of a partition; in a cluster the end a consumer sees is
        the high watermark. A broker holding no replica of it refuses (NOT_LEADER_OR_FOLLOWER)."""
        plog = self._hosted_log(topic, partition)
        if self.ownership is not None and is_replicated(topic):
            return plog.log_start_offset, self.ownership.high_watermark(topic, partition, plog.log_end_offset)
        return plog.log_start_offset, plog.log_end_offset

    def local_offsets(self, topic: str, partition: int) -> tuple[int, int]:
        """(log start offset, log end offset) of this broker's own copy, whoever leads: the group
        coordinator loading ``__consumer_offsets`` after it became a partition's leader."""
        plog = self.store.log(topic, partition)
        return plog.log_start_offset, plog.log_end_offset

    def read_local(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadOutcome:
        """``read`` of this broker's own copy up to its log end, without asking who leads (the group
        coordinator's load of ``__consumer_offsets``; never a client's read)."""
        plog = self.store.log(topic, partition)
        result = plog.read(offset, max_bytes)
        return ReadOutcome(result.ranges, sum(r.length for r in result.ranges), plog.log_end_offset,
                           plog.log_start_offset)

    async def wait_for_append(self, keys: Iterable[TopicPartition], timeout_s: float) -> None:
        """Return when any of ``keys`` gets an append, or after ``timeout_s``.

        The wake-up is the partition log's own append listener (one mechanism for every writer:
        produce, the group coordinator, replication); an unknown partition, or in a cluster one this
        broker holds no replica of, only waits out the time.
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
        """Attach the waiters' wake-up to the partition's log once (again if the log was reopened).
        In a cluster a partition this broker holds no replica of has no log here, and none is made
        for a wait: its waiters wait out their time."""
        if self.ownership is not None and is_replicated(tp[0]) and not self.ownership.hosts_replica(*tp):
            return
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

    def notify_readers(self, topic: str, partition: int) -> None:
        """Wake fetches waiting on the partition (its high watermark moved)."""
        self._notify((topic, partition))

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
        if self.ownership is not None and is_replicated(topic):
            self._check_leader(self.ownership, topic, partition)  # before the log opens: see ``read``
        plog = self.store.log(topic, partition)
        if timestamp == -2:
            return plog.log_start_offset, -1
        if timestamp == -1:
            return self.offsets(topic, partition)[1], -1
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

    def delete_records(self, topic: str, partition: int, offset: int, *, checkpoint: bool = True) -> int:
        """Advance the log start offset to ``offset`` (-1: the high watermark); returns the new low watermark.

        Kafka refuses DeleteRecords on internal topics (INVALID_TOPIC_EXCEPTION). With ``checkpoint``
        the log-start-offset checkpoint is written here (blocking: fsync and rename); without it the
        caller writes it (``write_checkpoint``, in a worker thread) before answering.
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
            if checkpoint:
                self.store.checkpoint()
        return int(plog.log_start_offset)

    async def write_checkpoint(self) -> None:
        """Write the offset checkpoints (recovery points, log start offsets) as they are now: the
        snapshot is taken here, on the loop; the fsync and rename run in a worker thread, so a slow
        disk does not stall produce and fetch. Raises LogStorageError when the disk refuses."""
        snapshot = self.store.checkpoint_snapshot()
        with _disk_errors("write the offset checkpoints"):
            await asyncio.to_thread(self.store.write_checkpoint, snapshot)

    # ---------------------------------------------------------------- lifecycle
    def partitions_of(self, topic: str) -> int:
        return self.store.topic(topic).partitions

    def leader_http_url(self, topic: str, partition: int) -> str | None:
        """The HTTP API base URL of the broker that leads a partition, when that is another broker of
        the cluster (None: a single broker, this broker, no leader, or its URL not known yet)."""
        if self.ownership is None:
            return None
        view = self.ownership.partition_view(topic, partition)
        if view is None or view.leader < 0 or view.leader == self.node_id:
            return None
        return self.ownership.http_url(view.leader)

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
        self.write_producer_snapshots(self.producer_snapshots())

    def producer_snapshots(self) -> list[ProducerSnapshot]:
        """The producer state of every loaded partition as a document, from memory (on the event loop;
        no I/O). Partitions whose log end has not moved since their last snapshot are left out."""
        out: list[ProducerSnapshot] = []
        for tp, state in list(self._producer_states.items()):
            try:
                plog = self.store.log(*tp)
            except UnknownTopicError:
                continue
            end = plog.log_end_offset
            if self._snapshot_offsets.get(tp) == end:
                continue
            self._snapshot_offsets[tp] = end
            out.append(ProducerSnapshot(tp, plog, plog.truncations, end, state.snapshot(end)))
        return out

    @staticmethod
    def write_producer_snapshots(snapshots: Iterable[ProducerSnapshot]) -> None:
        """Write ``producer_snapshots()`` (fsync + rename each); safe from a worker thread."""
        for snap in snapshots:
            if snap.log.truncations != snap.truncations:
                continue  # truncated since the state was taken: it may name batches the log lost
            try:
                path = write_snapshot(snap.log.path, snap.offset, snap.doc)
            except OSError as exc:  # e.g. the topic was deleted meanwhile
                log.warning("could not write producer snapshot for %s-%d: %s", *snap.partition, exc)
                continue
            if snap.log.truncations != snap.truncations:
                # A truncation ran while it was written, after removing the snapshots beyond its
                # end: this one may be stale too (the count moves before that removal).
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self.password_checks.close()
        self.snapshot_producer_states()
        self.epoch_writer.close()
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        self._waiters.clear()


def _note_dynamic_failure(task: asyncio.Future[None]) -> None:
    """Log a dynamic config change that failed (its requester may have gone meanwhile)."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("dynamic broker config change refused or not written: %s", task.exception())
