"""The data directory: topics, their partition logs, topic metadata and checkpoints.

Layout (Kafka's log directory, with topic metadata kept beside the data instead of in a metadata log)::

    <data_dir>/
      .lock                              flock'ed while a Store has the directory open
      .kafka_cleanshutdown               present only after a clean close (empty file)
      recovery-point-offset-checkpoint   per partition: offset below which data is known fsynced
      log-start-offset-checkpoint        per partition: first offset still readable
      cleaner-offset-checkpoint          per compacted partition: where the uncompacted part starts
      __topics/<topic id hex>.json       one file per topic (below)
      <topic>-<partition>/               one partition log (segments/log.py)
      <topic>-<partition>.<id hex>-delete/  a partition of a topic being deleted
      <topic>-<partition>.<hex>.replica-delete/  a partition this broker no longer replicates

Topic metadata file (JSON object, replaced atomically: tmp, fsync, rename, fsync dir)::

    key         type             meaning
    version     int              1
    name        string           topic name
    topic_id    string (UUID)    Kafka topic id (Metadata v10+, Fetch v13+); fixed at creation
    partitions  int              partition count (only grows)
    configs     {string: string} topic config overrides, Kafka names, canonical string values

The file is named after the topic id rather than the topic because a 249-character topic name plus a
suffix would exceed the 255-byte file name limit.

Checkpoint files use Kafka's text format (see ``segments/checkpoint.py``) and are written on
``checkpoint()`` (called periodically by the broker) and on ``close()``.

Crash safety:

- Creating a topic writes its metadata file first, then the partition directories; a directory that
  is missing after a crash is created on first use. Adding partitions works the same way.
- Deleting a topic renames every partition directory to ``<topic>-<p>.<id hex>-delete`` (the topic
  part truncated so the name fits 255 bytes, as Kafka does), fsyncs the data directory, then removes
  the metadata file, then the renamed directories. On open, a ``-delete`` directory whose id belongs
  to a live topic means the deletion was interrupted before the metadata went: it is completed. Every
  ``-delete`` directory is then removed.
- The clean-shutdown marker is written last by ``close()`` (after every log is flushed and closed
  and the checkpoints are written) and removed, durably, by ``open`` before any log can change. When
  it was present, logs are opened with ``clean=True``: no segment is scanned. Otherwise each log
  recovers from its checkpointed recovery point.
- Partition directories without metadata are left alone (with a warning): losing ``__topics`` must
  never make the broker delete data.

Opening is lazy: ``open`` reads the metadata files and checkpoints only; a partition's ``Log`` is
opened by the first ``log(topic, partition)`` call, so a directory with thousands of partitions
opens in milliseconds (5,000 partitions: about 10 ms). All logs share one ``OpenSegmentCache``, which
bounds the inactive segments holding a file descriptor across the whole directory; each opened log
keeps its active segment open until the topic is deleted or the store is closed.

Threading: a Store belongs to one thread (the broker's event loop); its methods are not
thread-safe, except as stated: ``prepare_topic`` and ``remove_detached`` (topic creation and
deletion in a worker thread), ``partitions_with_data`` (the retention sweep's look at the
directories), ``write_checkpoint`` (the fsync + rename of the checkpoints in a worker thread), the
metadata thread of ``write_change`` (config and partition-count changes, planned and applied on the
loop, their files written in between) and
``cleaner_offset``/``set_cleaner_offset`` (the cleaner thread, which is handed logs opened on the
loop and works on them under their own ``Log.lock``). The group-commit flusher
calls ``Log.flush`` on logs obtained from the store; ``checkpoint_snapshot()`` reads the recovery
points the flusher advances (plain ints).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from segments.checkpoint import (
    CheckpointError,
    TopicPartition,
    atomic_write,
    fsync_dir,
    read_offset_checkpoint,
    write_offset_checkpoint,
)
from segments.config import CONFIGS_BY_NAME, ConfigEntry, LogConfig, describe, normalize_props
from segments.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidTopicError,
    LogClosedError,
    StorageError,
    TopicExistsError,
    UnknownTopicError,
)

if TYPE_CHECKING:
    from segments.log import Log
    from segments.writer import AppendWriter

logger = logging.getLogger(__name__)

TOPICS_DIR = "__topics"
LOCK_FILE = ".lock"
CLEAN_SHUTDOWN_MARKER = ".kafka_cleanshutdown"
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"
DELETE_SUFFIX = "-delete"
METADATA_VERSION = 1
MAX_TOPIC_NAME_LENGTH = 249
# Kafka allows up to 2**31-1 partitions in principle; a bound keeps a typo from creating a million dirs.
MAX_PARTITIONS = 100_000
DEFAULT_MAX_OPEN_SEGMENTS = 1024
# Inactive segments keeping their indexes in memory, whatever the descriptor budget (a memory bound).
MAX_INACTIVE_SEGMENTS = 1024
_FILE_NAME_MAX = 255
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
_DELETE_DIR = re.compile(r".*\.([0-9a-f]{32})" + re.escape(DELETE_SUFFIX))


class LogFactory(Protocol):
    """How the store opens a partition log (``Log.open`` by default; injectable for tests)."""

    def __call__(
        self,
        path: Path,
        config: LogConfig,
        *,
        now_ms: int,
        recovery_point: int | None,
        log_start_offset: int | None,
        clean: bool,
    ) -> Log: ...


class _DefaultLogFactory:
    """Opens ``segments.log.Log``s sharing one cache of open inactive segments (bounds open files)."""

    __slots__ = ("cache",)

    def __init__(self, max_open_segments: int) -> None:
        from segments.segment import OpenSegmentCache

        self.cache = OpenSegmentCache(max_open_segments, max_inactive=MAX_INACTIVE_SEGMENTS)

    def __call__(
        self,
        path: Path,
        config: LogConfig,
        *,
        now_ms: int,
        recovery_point: int | None,
        log_start_offset: int | None,
        clean: bool,
    ) -> Log:
        from segments.log import Log

        return Log.open(
            path,
            config,
            now_ms=now_ms,
            recovery_point=recovery_point,
            log_start_offset=log_start_offset,
            clean=clean,
            cache=self.cache,
        )


def validate_topic_name(name: str) -> None:
    """Kafka's rules: 1..249 characters of [a-zA-Z0-9._-], and not '.' or '..'. Raises InvalidTopicError."""
    if not name:
        raise InvalidTopicError("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopicError(f"topic name {name!r} is not allowed")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicError(f"topic name is {len(name)} characters; the maximum is {MAX_TOPIC_NAME_LENGTH}")
    if _LEGAL_TOPIC.fullmatch(name) is None:
        raise InvalidTopicError(
            f"topic name {name!r} contains characters other than ASCII letters, digits, '.', '_', '-'"
        )


def _collision_key(name: str) -> str:
    # '.' and '_' collide in Kafka's metric names, so Kafka refuses topics differing only by them.
    return name.replace(".", "_")


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as stored: id, partition count, its own config overrides and the effective config."""

    name: str
    topic_id: uuid.UUID
    partitions: int
    overrides: Mapping[str, str]
    config: LogConfig


@dataclass(slots=True)
class _Topic:
    name: str
    topic_id: uuid.UUID
    partitions: int
    overrides: dict[str, str]
    config: LogConfig

    def info(self) -> TopicInfo:
        return TopicInfo(self.name, self.topic_id, self.partitions, dict(self.overrides), self.config)

    def to_json(self) -> bytes:
        doc = {
            "version": METADATA_VERSION,
            "name": self.name,
            "topic_id": str(self.topic_id),
            "partitions": self.partitions,
            "configs": dict(sorted(self.overrides.items())),
        }
        return (json.dumps(doc, indent=1) + "\n").encode()


@dataclass(frozen=True, slots=True)
class TopicChange:
    """A change of a topic's metadata file (its configs or its partition count), planned on the
    thread that owns the maps, written by the metadata thread (``Store.write_change``) and applied
    by ``Store.settle_change`` once durable. ``seq`` orders the changes: a change is planned on top
    of every change planned before it, and an older one is never applied over a newer one."""

    topic: _Topic
    added: range  # partitions whose directories the change creates
    seq: int

    def info(self) -> TopicInfo:
        return self.topic.info()


@dataclass(frozen=True, slots=True)
class CheckpointSnapshot:
    """The three offset checkpoints as of one moment (``Store.checkpoint_snapshot``)."""

    generation: int
    recovery: dict[TopicPartition, int]
    starts: dict[TopicPartition, int]
    cleaned: dict[TopicPartition, int]


class Store:
    """One data directory: the topics, their lazily opened partition logs and the checkpoints.

    Invariants: every topic in ``_topics`` has a metadata file; a partition log is open at most once
    and only for a partition below its topic's count; the clean-shutdown marker exists only while no
    Store has the directory open.
    """

    def __init__(
        self,
        data_dir: Path,
        default_config: LogConfig,
        *,
        now_ms: int,
        clock: Callable[[], int] | None,
        log_factory: LogFactory,
        lock_fd: int,
        max_open_segments: int = DEFAULT_MAX_OPEN_SEGMENTS,
    ) -> None:
        self.data_dir = data_dir
        self.max_open_segments = max_open_segments
        self._topics_dir = data_dir / TOPICS_DIR
        self._default_config = default_config
        self._now_ms = now_ms
        self._clock = clock
        self._log_factory = log_factory
        self._lock_fd = lock_fd
        self._topics: dict[str, _Topic] = {}
        self._collisions: dict[str, str] = {}
        self._logs: dict[TopicPartition, Log] = {}
        self._recovery_points: dict[TopicPartition, int] = {}
        self._log_start_offsets: dict[TopicPartition, int] = {}
        self._cleaner_offsets: dict[TopicPartition, int] = {}
        # Checkpoint files may be written from a worker thread: one writer at a time, never an older
        # snapshot over a newer one.
        self._checkpoint_lock = threading.Lock()
        # The cleaner thread records where each compacted partition's dirty part starts.
        self._cleaner_offsets_lock = threading.Lock()
        # Topic creation writes its files from a worker thread: names being created are reserved.
        self._admin_lock = threading.Lock()
        self._reserved: set[str] = set()
        # Config and partition-count changes are written by one metadata thread, in the order they
        # were planned; a topic's deletion takes this lock, so no write lands after it.
        self._metadata_lock = threading.Lock()
        self._metadata_thread: ThreadPoolExecutor | None = None
        self._planned: dict[str, TopicChange] = {}  # per topic, the latest change not yet applied
        self._applied_seq: dict[str, int] = {}
        self._change_seq = 0
        self._snapshot_generation = 0
        self._written_generation = 0
        self._clean = False
        self._closed = False
        self._writer: AppendWriter | None = None

    def use_writer(self, writer: AppendWriter | None) -> None:
        """Hand the writes of appends to ``writer`` (``segments/writer.py``), for every log open now
        and opened later; None writes inline again."""
        self._writer = writer
        for log in self._logs.values():
            log.use_writer(writer)

    # ----------------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str],
        default_config: LogConfig | None = None,
        *,
        now_ms: int,
        clock: Callable[[], int] | None = None,
        log_factory: LogFactory | None = None,
        max_open_segments: int = DEFAULT_MAX_OPEN_SEGMENTS,
    ) -> Store:
        """Open (creating if needed) a data directory. Reads metadata and checkpoints; opens no log.

        ``default_config`` is the broker-derived topic default (``LogConfig.from_broker_props``).
        ``clock`` (ms) supplies ``now_ms`` to lazily opened logs; without it the last ``now_ms``
        given to the store is used. ``max_open_segments`` bounds the segments of all logs that keep a
        file descriptor, active ones included (the handle budget; evicted active segments reopen on
        use), and a topic may not have more partitions than it, so that each of a topic's partitions
        can keep its active segment open at once.
        Raises StorageError if another Store holds the directory.
        """
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / TOPICS_DIR).mkdir(exist_ok=True)
        lock_fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise StorageError(f"data directory {path} is in use by another store") from None
        store = cls(
            path,
            default_config if default_config is not None else LogConfig(),
            now_ms=now_ms,
            clock=clock,
            log_factory=log_factory if log_factory is not None else _DefaultLogFactory(max_open_segments),
            lock_fd=lock_fd,
            max_open_segments=max_open_segments,
        )
        try:
            store._load()
        except BaseException:
            os.close(lock_fd)
            raise
        return store

    def _load(self) -> None:
        marker = self.data_dir / CLEAN_SHUTDOWN_MARKER
        clean = marker.exists()
        for entry in os.scandir(self._topics_dir):
            if not entry.name.endswith(".json") or not entry.is_file():
                continue
            topic = self._read_metadata(Path(entry.path))
            self._topics[topic.name] = topic
            self._collisions[_collision_key(topic.name)] = topic.name
        self._finish_deletions()
        try:
            self._recovery_points = read_offset_checkpoint(self.data_dir / RECOVERY_POINT_CHECKPOINT)
            self._log_start_offsets = read_offset_checkpoint(self.data_dir / LOG_START_OFFSET_CHECKPOINT)
        except CheckpointError as exc:
            # Without trustworthy recovery points every log must be recovered from its start.
            logger.warning("ignoring unreadable checkpoint, recovering all logs: %s", exc)
            self._recovery_points = {}
            self._log_start_offsets = {}
            clean = False
        try:
            self._cleaner_offsets = read_offset_checkpoint(self.data_dir / CLEANER_OFFSET_CHECKPOINT)
        except CheckpointError as exc:
            # Losing it only means the next compaction treats the whole log as dirty.
            logger.warning("ignoring unreadable cleaner checkpoint: %s", exc)
        self._clean = clean
        if clean:
            # Removed before any log can change, so a crash from now on is seen as unclean.
            marker.unlink()
            fsync_dir(self.data_dir)
        logger.info(
            "opened data directory %s: %d topics, %d partitions, clean=%s",
            self.data_dir,
            len(self._topics),
            sum(t.partitions for t in self._topics.values()),
            clean,
        )

    def _read_metadata(self, path: Path) -> _Topic:
        try:
            doc: Any = json.loads(path.read_bytes())
            if doc.get("version") != METADATA_VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            overrides = {str(k): str(v) for k, v in doc["configs"].items()}
            name = str(doc["name"])
            partitions = int(doc["partitions"])
            topic_id = uuid.UUID(str(doc["topic_id"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(f"unreadable topic metadata {path}: {exc}") from None
        try:
            config = LogConfig.from_props(overrides, self._default_config)
        except InvalidConfigError as exc:
            # A config the current code no longer accepts must not make the topic vanish.
            logger.warning("topic %s: ignoring stored config overrides: %s", name, exc)
            config = self._default_config
        return _Topic(name, topic_id, partitions, overrides, config)

    def _finish_deletions(self) -> None:
        by_id = {t.topic_id.hex: t for t in self._topics.values()}
        doomed: list[Path] = []
        for entry in os.scandir(self.data_dir):
            if not entry.name.endswith(DELETE_SUFFIX) or not entry.is_dir():
                continue
            doomed.append(Path(entry.path))
            match = _DELETE_DIR.fullmatch(entry.name)
            topic = by_id.pop(match.group(1), None) if match is not None else None
            if topic is not None:
                logger.info("completing interrupted deletion of topic %s", topic.name)
                doomed.extend(self._detach_topic(topic))
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)

    # ----------------------------------------------------------------------------------- topics

    def create_topic(
        self,
        name: str,
        partitions: int,
        configs: Mapping[str, str] | None = None,
        *,
        topic_id: uuid.UUID | None = None,
        validate_only: bool = False,
        directories: bool = True,
    ) -> TopicInfo:
        """Create a topic with ``partitions`` partitions and config overrides (Kafka CreateTopics).

        Raises InvalidTopicError (name), TopicExistsError, InvalidPartitionsError (count < 1),
        InvalidConfigError. With ``validate_only`` nothing is written (CreateTopics validateOnly).
        ``directories=False``: only the metadata file is written; each partition's directory is made
        when its log is first opened (a cluster's broker holds only the partitions it replicates).
        """
        topic = self.prepare_topic(name, partitions, configs, topic_id=topic_id, validate_only=validate_only,
                                   directories=directories)
        if validate_only:
            return topic.info()
        return self.commit_topic(topic)

    def prepare_topic(
        self,
        name: str,
        partitions: int,
        configs: Mapping[str, str] | None = None,
        *,
        topic_id: uuid.UUID | None = None,
        validate_only: bool = False,
        directories: bool = True,
    ) -> _Topic:
        """The slow half of ``create_topic``, safe from a worker thread: validate and write the
        partition directories and the metadata file. The name is reserved until ``commit_topic``
        (on the thread that owns the in-memory maps) makes the topic visible."""
        with self._admin_lock:
            topic = self._validate_new_topic(name, partitions, configs, topic_id)
            if validate_only:
                return topic
            self._reserved.add(name)
        try:
            self._create_files(topic, directories)
        except BaseException:
            with self._admin_lock:
                self._reserved.discard(name)
            raise
        return topic

    def commit_topic(self, topic: _Topic) -> TopicInfo:
        """Make a prepared topic visible (call on the thread that owns the maps: the event loop)."""
        self._topics[topic.name] = topic
        self._collisions[_collision_key(topic.name)] = topic.name
        with self._admin_lock:
            self._reserved.discard(topic.name)
        logger.info("created topic %s (%s) with %d partitions, overrides %s", topic.name, topic.topic_id,
                    topic.partitions, topic.overrides)
        return topic.info()

    def _validate_new_topic(self, name: str, partitions: int, configs: Mapping[str, str] | None,
                            topic_id: uuid.UUID | None) -> _Topic:
        self._check_open()
        validate_topic_name(name)
        if name in self._topics or name in self._reserved:
            raise TopicExistsError(f"topic {name!r} already exists")
        other = self._collisions.get(_collision_key(name))
        if other is not None:
            raise InvalidTopicError(f"topic {name!r} collides with existing topic {other!r} ('.' and '_' collide)")
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise InvalidPartitionsError(f"partition count {partitions} must be between 1 and {MAX_PARTITIONS}")
        self._check_handle_budget(partitions)
        overrides = normalize_props(configs or {})
        config = LogConfig.from_props(overrides, self._default_config)
        topic = _Topic(name, topic_id or uuid.uuid4(), partitions, overrides, config)
        if any(t.topic_id == topic.topic_id for t in list(self._topics.values())):
            raise TopicExistsError(f"topic id {topic.topic_id} is already in use")
        return topic

    def _create_files(self, topic: _Topic, directories: bool = True) -> None:
        """Partition directories first, then the metadata file (the commit point), then the in-memory
        maps: a failure at any step (disk full, permissions) undoes the steps before it, so a retry
        does not find a half-created topic. A crash before the metadata file leaves only empty
        directories, which the next create of that name reuses."""
        made: list[str] = []
        metadata = self._topics_dir / f"{topic.topic_id.hex}.json"
        # One mkdir per partition and little Python around it: this runs in a worker thread, and the
        # event loop waits for the interpreter lock whenever this loop holds it between system calls.
        prefix = os.path.join(self.data_dir, topic.name) + "-"
        try:
            for partition in range(topic.partitions if directories else 0):
                path = prefix + str(partition)
                try:
                    os.mkdir(path)
                except FileExistsError:
                    continue
                made.append(path)
            fsync_dir(self.data_dir)
            self._write_metadata(topic)
        except BaseException:
            with contextlib.suppress(OSError):
                metadata.unlink(missing_ok=True)
            for path in reversed(made):
                shutil.rmtree(path, ignore_errors=True)
            logger.warning("creating topic %s failed; removed its %d partition directories", topic.name, len(made))
            raise

    def _check_handle_budget(self, partitions: int) -> None:
        """Refuse, before writing anything, a topic whose partitions cannot all keep a file open."""
        if partitions > self.max_open_segments:
            raise InvalidPartitionsError(
                f"{partitions} partitions exceed this broker's file handle budget of {self.max_open_segments} open "
                f"segments (set from its open-file limit, ulimit -n); use at most {self.max_open_segments} "
                "partitions or raise the limit"
            )

    def delete_topic(self, name: str) -> TopicInfo:
        """Delete a topic and its data (Kafka DeleteTopics); crash-safe, see the module docstring."""
        info, doomed = self.detach_topic(name)
        self.remove_detached(doomed)
        return info

    def detach_topic(self, name: str) -> tuple[TopicInfo, list[Path]]:
        """The quick half of ``delete_topic`` (call on the thread that owns the maps): close the logs,
        rename the partition directories to ``-delete`` and drop the metadata; the topic is gone once
        this returns. Returns the directories whose data ``remove_detached`` removes."""
        self._check_open()
        topic = self._topic(name)
        for partition in range(topic.partitions):
            log = self._logs.pop((name, partition), None)
            if log is not None:
                try:
                    log.close()
                except (OSError, StorageError) as exc:  # e.g. a full disk: the files go with the topic anyway
                    logger.warning("closing %s-%d for its deletion could not write its indexes (%s); "
                                   "deleting it without", name, partition, exc)
                    log.abandon()
        doomed = self._detach_topic(topic)
        logger.info("deleted topic %s (%s)", name, topic.topic_id)
        return topic.info(), doomed

    def holds_partition(self, name: str, partition: int) -> bool:
        """Whether the partition's log is open or its directory exists here."""
        return (name, partition) in self._logs or (self.data_dir / f"{name}-{partition}").is_dir()

    def detach_partition(self, name: str, partition: int) -> Path | None:
        """Take one partition's data out of the store, the topic staying (this broker is no longer one
        of its replicas, Kafka's StopReplica with delete): close its log, rename its directory to
        ``<topic>-<p>.<random hex>.replica-delete`` and forget its checkpointed offsets. Ranges a
        fetch still holds keep their descriptors (``FileHandle``). Returns the directory for
        ``remove_detached``, None when there was none; a crash leaves it to the next start's cleanup.
        The partition opens again, empty, if it is used later (this broker becomes a replica again)."""
        self._check_open()
        self._topic(name)
        key = (name, partition)
        log = self._logs.pop(key, None)
        if log is not None:
            log.close()
        path = self.data_dir / f"{name}-{partition}"
        if not path.is_dir():
            return None
        suffix = f"-{partition}.{uuid.uuid4().hex}.replica{DELETE_SUFFIX}"
        target = self.data_dir / (name[: _FILE_NAME_MAX - len(suffix)] + suffix)
        os.rename(path, target)
        fsync_dir(self.data_dir)
        self._recovery_points.pop(key, None)
        self._log_start_offsets.pop(key, None)
        with self._cleaner_offsets_lock:
            self._cleaner_offsets.pop(key, None)
        logger.info("removed the local replica of %s-%d", name, partition)
        return target

    @staticmethod
    def remove_detached(paths: Iterable[Path]) -> None:
        """Remove detached partition directories (their data); safe from a worker thread, as nothing
        refers to them any more. A crash first leaves them to the next start's cleanup."""
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    def _detach_topic(self, topic: _Topic) -> list[Path]:
        """Rename partition dirs to ``-delete``, then drop the metadata; returns the dirs to remove."""
        with self._metadata_lock:
            renamed = self._detach_topic_files(topic)
        self._planned.pop(topic.name, None)
        self._applied_seq.pop(topic.name, None)
        for key in [k for k in self._recovery_points if k[0] == topic.name]:
            del self._recovery_points[key]
        for key in [k for k in self._log_start_offsets if k[0] == topic.name]:
            del self._log_start_offsets[key]
        with self._cleaner_offsets_lock:
            for key in [k for k in self._cleaner_offsets if k[0] == topic.name]:
                del self._cleaner_offsets[key]
        return renamed

    def _detach_topic_files(self, topic: _Topic) -> list[Path]:
        renamed: list[Path] = []
        for entry in os.scandir(self.data_dir):
            partition = self._partition_of_dir(entry.name, topic.name)
            if partition is None or not entry.is_dir():
                continue
            target = self.data_dir / _delete_dir_name(topic.name, partition, topic.topic_id)
            os.rename(entry.path, target)
            renamed.append(target)
        fsync_dir(self.data_dir)
        (self._topics_dir / f"{topic.topic_id.hex}.json").unlink(missing_ok=True)
        fsync_dir(self._topics_dir)
        self._topics.pop(topic.name, None)
        self._collisions.pop(_collision_key(topic.name), None)
        return renamed

    @staticmethod
    def _partition_of_dir(dir_name: str, topic: str) -> int | None:
        prefix = topic + "-"
        if not dir_name.startswith(prefix):
            return None
        rest = dir_name[len(prefix) :]
        return int(rest) if rest.isdigit() else None

    def add_partitions(self, name: str, new_total: int, *, validate_only: bool = False,
                       directories: bool = True) -> TopicInfo:
        """Grow a topic to ``new_total`` partitions (Kafka CreatePartitions); counts never shrink.
        Blocks until the metadata is durable: ``plan_partitions`` and ``write_change`` do not.
        ``directories=False``: as in ``create_topic``."""
        change = self.plan_partitions(name, new_total, directories=directories)
        if validate_only:
            return change.info()
        return self._write_and_settle(change)

    def plan_partitions(self, name: str, new_total: int, *, directories: bool = True) -> TopicChange:
        """Validate a growth to ``new_total`` partitions, on top of the changes already planned;
        nothing is written. Raises UnknownTopicError, InvalidPartitionsError."""
        self._check_open()
        topic = self._latest(name)
        if new_total <= topic.partitions:
            raise InvalidPartitionsError(
                f"topic {name!r} has {topic.partitions} partitions; the new count {new_total} must be larger"
            )
        if new_total > MAX_PARTITIONS:
            raise InvalidPartitionsError(f"partition count {new_total} exceeds the maximum {MAX_PARTITIONS}")
        self._check_handle_budget(new_total)
        grown = _Topic(topic.name, topic.topic_id, new_total, dict(topic.overrides), topic.config)
        return self._plan(grown, range(topic.partitions, new_total) if directories else range(0))

    def alter_config(
        self,
        name: str,
        set: Mapping[str, str] | None = None,
        delete: Iterable[str] = (),
        *,
        validate_only: bool = False,
    ) -> TopicInfo:
        """Set and/or remove topic config overrides (Kafka IncrementalAlterConfigs SET/DELETE).

        For the legacy AlterConfigs (replace every override) pass the overrides to drop in ``delete``.
        The result is validated as a whole before anything is written, persisted, then applied to the
        topic's open logs. Blocks until the metadata is durable: ``plan_config`` and
        ``write_change`` do not.
        """
        change = self.plan_config(name, set, delete)
        if validate_only:
            return change.info()
        return self._write_and_settle(change)

    def plan_config(self, name: str, set: Mapping[str, str] | None = None, delete: Iterable[str] = ()) -> TopicChange:
        """Validate a change of config overrides, on top of the changes already planned; nothing is
        written. Raises UnknownTopicError, InvalidConfigError."""
        self._check_open()
        topic = self._latest(name)
        overrides = dict(topic.overrides)
        for key in delete:
            if key not in CONFIGS_BY_NAME:
                raise InvalidConfigError(f"unknown topic configuration {key!r}")
            overrides.pop(key, None)
        overrides.update(normalize_props(set or {}))
        config = LogConfig.from_props(overrides, self._default_config)
        return self._plan(_Topic(topic.name, topic.topic_id, topic.partitions, overrides, config), range(0))

    def planned_topic(self, name: str) -> TopicInfo:
        """The topic as the changes planned so far leave it (``topic`` once they are applied)."""
        return self._latest(name).info()

    def _latest(self, name: str) -> _Topic:
        planned = self._planned.get(name)
        return planned.topic if planned is not None else self._topic(name)

    def _plan(self, topic: _Topic, added: range) -> TopicChange:
        self._change_seq += 1
        return TopicChange(topic, added, self._change_seq)

    def write_change(self, change: TopicChange) -> Future[None]:
        """Queue ``change`` for the metadata thread, behind every change queued before it: its
        metadata file (tmp, fsync, rename, fsync the directory), then the directories of the
        partitions it adds. The future fails with UnknownTopicError when the topic was deleted
        first (nothing written), or the OSError of the write; ``settle_change`` finishes it."""
        self._check_open()
        self._planned[change.topic.name] = change
        if self._metadata_thread is None:
            self._metadata_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="topic-metadata")
        return self._metadata_thread.submit(self._write_change, change)

    def _write_change(self, change: TopicChange) -> None:
        """On the metadata thread. The lock keeps a deletion from passing between the check and the
        write, which would leave a metadata file behind for a deleted topic."""
        topic = change.topic
        with self._metadata_lock:
            live = self._topics.get(topic.name)
            if live is None or live.topic_id != topic.topic_id:
                raise UnknownTopicError(f"topic {topic.name!r} was deleted")
            self._write_metadata(topic)
            if change.added:
                prefix = os.path.join(self.data_dir, topic.name) + "-"
                for partition in change.added:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(prefix + str(partition))
                fsync_dir(self.data_dir)

    def settle_change(self, change: TopicChange, error: BaseException | None = None) -> TopicInfo:
        """On the thread that owns the maps, once ``write_change``'s future is done (``error`` its
        exception): apply the change to the topic and its open logs, unless a newer change was
        applied already; a failed change is forgotten. Idempotent. Raises UnknownTopicError when
        the topic is gone."""
        name = change.topic.name
        if self._planned.get(name) is change:
            del self._planned[name]
        if error is not None:
            return change.info()
        topic = self._topics.get(name)
        if topic is None or topic.topic_id != change.topic.topic_id:
            raise UnknownTopicError(f"unknown topic {name!r}")
        if change.seq <= self._applied_seq.get(name, 0):
            return topic.info()
        self._applied_seq[name] = change.seq
        old = topic.partitions
        if change.topic.overrides != topic.overrides:
            topic.overrides = dict(change.topic.overrides)
            topic.config = change.topic.config
            for partition in range(topic.partitions):
                log = self._logs.get((name, partition))
                if log is not None:
                    _apply_config(log, topic.config)
            logger.info("topic %s config overrides now %s", name, topic.overrides)
        if change.topic.partitions > old:
            topic.partitions = change.topic.partitions
            logger.info("topic %s grew from %d to %d partitions", name, old, topic.partitions)
        return topic.info()

    def _write_and_settle(self, change: TopicChange) -> TopicInfo:
        try:
            self.write_change(change).result()
        except BaseException as exc:
            self.settle_change(change, exc)
            raise
        return self.settle_change(change)

    def describe_config(self, name: str, names: Iterable[str] | None = None) -> list[ConfigEntry]:
        """DescribeConfigs rows for a topic: value, default and source of each config."""
        topic = self._topic(name)
        return describe(topic.overrides, self._default_config, names=names)

    def list_topics(self) -> list[str]:
        return sorted(self._topics)

    def topics(self) -> list[TopicInfo]:
        return [self._topics[name].info() for name in sorted(self._topics)]

    def topic(self, name: str) -> TopicInfo:
        """Raises UnknownTopicError."""
        return self._topic(name).info()

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicInfo:
        """Look a topic up by id (Fetch v13+, DeleteTopics v6+). Raises UnknownTopicError."""
        for topic in self._topics.values():
            if topic.topic_id == topic_id:
                return topic.info()
        raise UnknownTopicError(f"no topic with id {topic_id}")

    def has_topic(self, name: str) -> bool:
        return name in self._topics

    @property
    def default_config(self) -> LogConfig:
        return self._default_config

    def set_default_config(self, default_config: LogConfig) -> None:
        """Change the broker-derived topic defaults (Kafka's dynamic ``log.*`` broker configs): every
        topic's effective config is recomputed from its own overrides on top of the new defaults and
        applied to its open logs. Raises InvalidConfigError, changing nothing, when a topic's overrides
        do not fit the new defaults."""
        self._check_open()
        configs = {name: LogConfig.from_props(t.overrides, default_config) for name, t in self._topics.items()}
        self._default_config = default_config
        for name, config in configs.items():
            topic = self._topics[name]
            topic.config = config
            for partition in range(topic.partitions):
                log = self._logs.get((name, partition))
                if log is not None:
                    _apply_config(log, config)

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise UnknownTopicError(f"unknown topic {name!r}")
        return topic

    def _write_metadata(self, topic: _Topic) -> None:
        atomic_write(self._topics_dir / f"{topic.topic_id.hex}.json", topic.to_json())

    # ----------------------------------------------------------------------------------- logs

    def log(self, topic: str, partition: int, *, now_ms: int | None = None) -> Log:
        """The partition's log, opened on first use (HOT PATH after the first call: one dict lookup).

        Raises UnknownTopicError for an unknown topic or a partition outside the topic's count.
        """
        log = self._logs.get((topic, partition))
        if log is not None:
            return log
        return self._open_log(topic, partition, now_ms)

    def _open_log(self, name: str, partition: int, now_ms: int | None) -> Log:
        self._check_open()
        topic = self._topic(name)
        if not 0 <= partition < topic.partitions:
            raise UnknownTopicError(f"topic {name!r} has no partition {partition} (it has {topic.partitions})")
        key = (name, partition)
        path = self.data_dir / f"{name}-{partition}"
        path.mkdir(exist_ok=True)
        log = self._log_factory(
            path,
            topic.config,
            now_ms=self._time(now_ms),
            recovery_point=self._recovery_points.get(key),
            log_start_offset=self._log_start_offsets.get(key),
            clean=self._clean,
        )
        if self._writer is not None:
            log.use_writer(self._writer)
        self._logs[key] = log
        return log

    def open_logs(self) -> dict[TopicPartition, Log]:
        """The logs opened so far (a copy)."""
        return dict(self._logs)

    def partitions(self) -> Iterator[TopicPartition]:
        """Every (topic, partition) in the store, opened or not."""
        for name in sorted(self._topics):
            for partition in range(self._topics[name].partitions):
                yield name, partition

    def partitions_with_data(self, keys: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Those of ``keys`` whose directory holds a segment file (a ``.log``); safe from a worker
        thread (it reads the file system only). A partition never written to has nothing to retain
        or compact, so the retention sweep need not open it (which would create its segment files)."""
        out: list[TopicPartition] = []
        for topic, partition in keys:
            try:
                with os.scandir(os.path.join(self.data_dir, f"{topic}-{partition}")) as entries:
                    if any(entry.name.endswith(".log") for entry in entries):
                        out.append((topic, partition))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return out

    def cleaner_offset(self, topic: str, partition: int) -> int:
        """Where the not yet compacted part of a partition starts (``compact(first_dirty_offset=...)``)."""
        return self._cleaner_offsets.get((topic, partition), 0)

    def set_cleaner_offset(self, topic: str, partition: int, offset: int) -> None:
        """Record ``CompactionStats.next_dirty_offset``; persisted by ``checkpoint()`` and ``close()``.
        Safe from the cleaner thread."""
        with self._cleaner_offsets_lock:
            if self._is_live((topic, partition)):
                self._cleaner_offsets[(topic, partition)] = offset

    def _time(self, now_ms: int | None) -> int:
        if now_ms is not None:
            self._now_ms = max(self._now_ms, now_ms)
            return now_ms
        if self._clock is not None:
            return self._clock()
        return self._now_ms

    # ----------------------------------------------------------------------------------- durability

    def flush_all(self) -> None:
        """Fsync every open log (blocking)."""
        for log in list(self._logs.values()):
            log.flush()

    def checkpoint(self, *, sync: bool = True) -> None:
        """Write the recovery-point and log-start-offset checkpoints crash-safely.

        Partitions not opened since start keep the values read at open.
        """
        self._check_open()
        self._write_checkpoints(sync=sync)

    def checkpoint_snapshot(self) -> CheckpointSnapshot:
        """What the checkpoints would say now, from memory only (per partition, no I/O): take it on
        the thread that mutates the logs, then ``write_checkpoint`` it from any thread."""
        self._check_open()
        for key, log in self._logs.items():
            self._recovery_points[key] = log.recovery_point
            self._log_start_offsets[key] = log.log_start_offset
        self._snapshot_generation += 1
        with self._cleaner_offsets_lock:
            cleaned = {k: v for k, v in self._cleaner_offsets.items() if self._is_live(k)}
        return CheckpointSnapshot(
            generation=self._snapshot_generation,
            recovery={k: v for k, v in self._recovery_points.items() if self._is_live(k)},
            starts={k: v for k, v in self._log_start_offsets.items() if self._is_live(k)},
            cleaned=cleaned,
        )

    def write_checkpoint(self, snapshot: CheckpointSnapshot, *, sync: bool = True) -> bool:
        """Write ``snapshot`` crash-safely (fsync + rename); safe from a worker thread. Returns False,
        writing nothing, when a newer snapshot was already written."""
        with self._checkpoint_lock:
            if snapshot.generation <= self._written_generation:
                return False
            write_offset_checkpoint(self.data_dir / RECOVERY_POINT_CHECKPOINT, snapshot.recovery, sync=sync)
            write_offset_checkpoint(self.data_dir / LOG_START_OFFSET_CHECKPOINT, snapshot.starts, sync=sync)
            write_offset_checkpoint(self.data_dir / CLEANER_OFFSET_CHECKPOINT, snapshot.cleaned, sync=sync)
            self._written_generation = snapshot.generation
            return True

    def _write_checkpoints(self, *, sync: bool = True) -> None:
        self.write_checkpoint(self.checkpoint_snapshot(), sync=sync)

    def _is_live(self, key: TopicPartition) -> bool:
        topic = self._topics.get(key[0])
        return topic is not None and 0 <= key[1] < topic.partitions

    def close(self) -> None:
        """Flush and close every log, write the checkpoints, then the clean-shutdown marker."""
        if self._closed:
            return
        if self._metadata_thread is not None:
            self._metadata_thread.shutdown(wait=True)
        try:
            for log in self._logs.values():
                log.flush()
            self._write_checkpoints()
            for log in self._logs.values():
                log.close()
            self._logs.clear()
            atomic_write(self.data_dir / CLEAN_SHUTDOWN_MARKER, b"")
        finally:
            self._closed = True
            os.close(self._lock_fd)
        logger.info("closed data directory %s cleanly", self.data_dir)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def opened_clean(self) -> bool:
        """Whether the previous shutdown was clean (logs open without scanning segments)."""
        return self._clean

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"store {self.data_dir} is closed")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _delete_dir_name(topic: str, partition: int, topic_id: uuid.UUID) -> str:
    suffix = f"-{partition}.{topic_id.hex}{DELETE_SUFFIX}"
    return topic[: _FILE_NAME_MAX - len(suffix)] + suffix


def _apply_config(log: Log, config: LogConfig) -> None:
    log.config = config
