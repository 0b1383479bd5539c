from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from segments.checkpoint import CheckpointError, read_offset_checkpoint, write_offset_checkpoint
from segments.config import ConfigSource, LogConfig
from segments.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidTopicError,
    LogClosedError,
    StorageError,
    TopicExistsError,
    UnknownTopicError,
)
from segments.store import (
    CLEAN_SHUTDOWN_MARKER,
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    TOPICS_DIR,
    Store,
    validate_topic_name,
)


class FakeLog:
    """Stands in for segments.log.Log: records how it was opened."""

    def __init__(self, path: Path, config: LogConfig, **kwargs: Any) -> None:
        self.path = path
        self.config = config
        self.open_args = kwargs
        self.recovery_point = kwargs["recovery_point"] or 0
        self.log_start_offset = kwargs["log_start_offset"] or 0
        self.log_end_offset = self.recovery_point
        self.closed = False
        self.flushes = 0

    def flush(self, up_to: int | None = None) -> None:
        self.flushes += 1
        self.recovery_point = self.log_end_offset

    def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self) -> None:
        self.opened: list[FakeLog] = []

    def __call__(self, path: Path, config: LogConfig, **kwargs: Any) -> Any:
        log = FakeLog(path, config, **kwargs)
        self.opened.append(log)
        return log


def open_store(path: Path, factory: Factory | None = None, config: LogConfig | None = None) -> Store:
    return Store.open(path, config, now_ms=1000, log_factory=factory or Factory())


def test_create_and_reopen(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    info = store.create_topic("orders", 3, {"retention.ms": "1000", "cleanup.policy": "compact , delete"})
    assert info.partitions == 3
    assert info.overrides == {"retention.ms": "1000", "cleanup.policy": "compact,delete"}
    assert info.config.retention_ms == 1000 and info.config.compact
    assert {p.name for p in tmp_path.iterdir()} >= {"orders-0", "orders-1", "orders-2", TOPICS_DIR}
    store.close()
    again = open_store(tmp_path)
    assert again.opened_clean
    assert again.topic("orders") == info
    assert again.topic_by_id(info.topic_id).name == "orders"
    assert again.list_topics() == ["orders"]
    again.close()


def test_metadata_file_format(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    tid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    store.create_topic("t", 2, {"internal.segment.bytes": "1024"}, topic_id=tid)
    doc = json.loads((tmp_path / TOPICS_DIR / f"{tid.hex}.json").read_text())
    assert doc == {
        "version": 1,
        "name": "t",
        "topic_id": str(tid),
        "partitions": 2,
        "configs": {"internal.segment.bytes": "1024"},
    }
    assert not list((tmp_path / TOPICS_DIR).glob("*.tmp"))
    store.close()


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 250, "a b", "a/b", "tópico", "a:b"])
def test_invalid_topic_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_name(name)
    store = open_store(tmp_path)
    with pytest.raises(InvalidTopicError):
        store.create_topic(name, 1)
    store.close()


def test_longest_name_and_legal_characters(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    long = "x" * 249
    store.create_topic(long, 1)
    store.create_topic("A.z_0-9", 1)
    store.log(long, 0)
    store.delete_topic(long)  # the -delete dir name must fit 255 bytes
    assert store.list_topics() == ["A.z_0-9"]
    store.close()


def test_create_errors(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("a.b", 1)
    with pytest.raises(TopicExistsError):
        store.create_topic("a.b", 1)
    with pytest.raises(InvalidTopicError, match="collides"):
        store.create_topic("a_b", 1)
    with pytest.raises(InvalidPartitionsError):
        store.create_topic("zero", 0)
    with pytest.raises(InvalidConfigError, match=r"segment\.bytes"):
        store.create_topic("bad", 1, {"segment.bytes": "1"})
    with pytest.raises(InvalidConfigError):
        store.create_topic("bad", 1, {"no.such.config": "1"})
    assert store.list_topics() == ["a.b"]
    assert not (tmp_path / "bad-0").exists()
    info = store.create_topic("dry", 2, validate_only=True)
    assert info.partitions == 2 and not store.has_topic("dry") and not (tmp_path / "dry-0").exists()
    store.close()


def test_logs_open_lazily_with_checkpoints(tmp_path: Path) -> None:
    factory = Factory()
    store = open_store(tmp_path, factory)
    store.create_topic("t", 2)
    assert factory.opened == []
    log: Any = store.log("t", 1)
    assert len(factory.opened) == 1
    assert factory.opened[0] is log
    store.log("t", 1)
    assert len(factory.opened) == 1  # opened once, then served from memory
    assert log.open_args == {"now_ms": 1000, "recovery_point": None, "log_start_offset": None, "clean": False}
    with pytest.raises(UnknownTopicError):
        store.log("t", 2)
    with pytest.raises(UnknownTopicError):
        store.log("nope", 0)
    fake: Any = log
    fake.log_end_offset = 42
    fake.log_start_offset = 7
    store.close()
    assert fake.closed and fake.flushes >= 1
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 1): 42}
    assert read_offset_checkpoint(tmp_path / LOG_START_OFFSET_CHECKPOINT) == {("t", 1): 7}
    assert (tmp_path / CLEAN_SHUTDOWN_MARKER).exists()

    factory2 = Factory()
    store2 = open_store(tmp_path, factory2)
    assert not (tmp_path / CLEAN_SHUTDOWN_MARKER).exists()  # removed at open: a crash now is unclean
    reopened: Any = store2.log("t", 1, now_ms=5000)
    assert reopened.open_args == {"now_ms": 5000, "recovery_point": 42, "log_start_offset": 7, "clean": True}
    # A partition not opened in this run keeps its checkpointed values.
    store2.close()
    store3 = open_store(tmp_path)
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 1): 42}
    store3.checkpoint()
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 1): 42}
    store3.close()


def test_crash_means_unclean_open(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    store.log("t", 0)
    store.checkpoint()
    # No close(): simulate a crash by dropping the store's lock without the clean marker.
    import os

    os.close(store._lock_fd)
    factory = Factory()
    again = open_store(tmp_path, factory)
    assert not again.opened_clean
    log: Any = again.log("t", 0)
    assert log.open_args["clean"] is False and log.open_args["recovery_point"] == 0
    again.close()


def test_unreadable_checkpoint_forces_recovery(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    store.close()
    (tmp_path / RECOVERY_POINT_CHECKPOINT).write_text("0\n5\nt 0 1\n")
    factory = Factory()
    again = open_store(tmp_path, factory)
    assert not again.opened_clean
    log: Any = again.log("t", 0)
    assert log.open_args["recovery_point"] is None and log.open_args["clean"] is False
    again.close()


def test_data_dir_is_locked(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(StorageError, match="in use"):
        open_store(tmp_path)
    store.close()
    open_store(tmp_path).close()


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    store.close()
    store.close()  # idempotent
    with pytest.raises(LogClosedError):
        store.log("t", 0)
    with pytest.raises(LogClosedError):
        store.create_topic("u", 1)


def test_delete_topic(tmp_path: Path) -> None:
    factory = Factory()
    store = open_store(tmp_path, factory)
    info = store.create_topic("gone", 2)
    store.create_topic("gone-1", 1)  # a topic whose name looks like a partition dir of another
    log: Any = store.log("gone", 0)
    log.log_end_offset = 5
    store.checkpoint()
    store.delete_topic("gone")
    assert log.closed
    assert store.list_topics() == ["gone-1"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [TOPICS_DIR, "gone-1-0"]
    assert not (tmp_path / TOPICS_DIR / f"{info.topic_id.hex}.json").exists()
    with pytest.raises(UnknownTopicError):
        store.delete_topic("gone")
    with pytest.raises(UnknownTopicError):
        store.log("gone", 0)
    recreated = store.create_topic("gone", 1)
    assert recreated.topic_id != info.topic_id
    store.close()
    assert ("gone", 0) not in read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT)


def test_interrupted_delete_is_completed_on_open(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    info = store.create_topic("half", 3)
    store.create_topic("keep", 1)
    store.close()
    # Crash after renaming one partition dir but before the metadata file was removed.
    (tmp_path / "half-0").rename(tmp_path / f"half-0.{info.topic_id.hex}-delete")
    again = open_store(tmp_path)
    assert again.list_topics() == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [TOPICS_DIR, "keep-0"]
    again.close()


def test_stale_delete_dirs_removed_and_orphans_kept(tmp_path: Path) -> None:
    (tmp_path / f"old-0.{uuid.uuid4().hex}-delete").mkdir(parents=True)
    (tmp_path / "orphan-0").mkdir()
    store = open_store(tmp_path)
    assert store.list_topics() == []
    names = {p.name for p in tmp_path.iterdir()}
    assert "orphan-0" in names  # never delete data just because its metadata is missing
    assert not any(n.endswith("-delete") for n in names)
    store.close()


def test_add_partitions(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 2)
    with pytest.raises(InvalidPartitionsError):
        store.add_partitions("t", 2)
    with pytest.raises(UnknownTopicError):
        store.add_partitions("u", 3)
    assert store.add_partitions("t", 4, validate_only=True).partitions == 4
    assert store.topic("t").partitions == 2
    info = store.add_partitions("t", 4)
    assert info.partitions == 4 and (tmp_path / "t-3").is_dir()
    store.log("t", 3)
    assert list(store.partitions()) == [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    store.close()
    assert open_store(tmp_path).topic("t").partitions == 4


def test_changes_are_written_in_plan_order_and_applied_only_once_durable(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    grow = store.plan_partitions("t", 3)
    written = store.write_change(grow)
    configure = store.plan_config("t", {"retention.ms": "1000"})  # on top of the growth still in flight
    assert configure.info().partitions == 3 and store.planned_topic("t").partitions == 3
    assert store.topic("t").partitions == 1  # nothing applied before it is durable
    store.write_change(configure).result()
    written.result()
    # Settled out of order: the newer change wins and the older one changes nothing after it.
    assert store.settle_change(configure).overrides == {"retention.ms": "1000"}
    assert store.settle_change(grow) == store.topic("t") and store.topic("t").partitions == 3
    assert (tmp_path / "t-2").is_dir()
    doc = json.loads(next((tmp_path / TOPICS_DIR).glob("*.json")).read_text())
    assert (doc["partitions"], doc["configs"]) == (3, {"retention.ms": "1000"})
    store.close()


def test_a_change_of_a_topic_deleted_first_writes_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    change = store.plan_config("t", {"retention.ms": "1000"})
    store.delete_topic("t")
    with pytest.raises(UnknownTopicError):
        store.write_change(change).result()
    store.settle_change(change, UnknownTopicError("t"))
    assert list((tmp_path / TOPICS_DIR).iterdir()) == []
    store.close()
    assert open_store(tmp_path).list_topics() == []


def test_alter_config(tmp_path: Path) -> None:
    defaults = LogConfig.from_props({"retention.ms": "5000"})
    store = open_store(tmp_path, config=defaults)
    store.create_topic("t", 2, {"segment.bytes": "2097152", "retention.bytes": "100"})
    log: Any = store.log("t", 0)
    info = store.alter_config("t", {"retention.ms": "60000"}, delete=["retention.bytes"])
    assert info.overrides == {"segment.bytes": "2097152", "retention.ms": "60000"}
    assert info.config.retention_ms == 60000 and info.config.retention_bytes == -1
    assert log.config == info.config  # applied to the open log
    with pytest.raises(InvalidConfigError):
        store.alter_config("t", {"retention.ms": "-7"})
    with pytest.raises(InvalidConfigError):
        store.alter_config("t", delete=["nope"])
    with pytest.raises(InvalidConfigError, match=r"min\.compaction\.lag\.ms"):
        store.alter_config("t", {"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})
    assert store.topic("t").overrides == info.overrides
    store.alter_config("t", delete=["retention.ms"])
    assert store.topic("t").config.retention_ms == 5000  # back to the broker default
    rows = {e.name: e for e in store.describe_config("t")}
    assert rows["segment.bytes"].source is ConfigSource.TOPIC_CONFIG
    assert rows["retention.ms"].source is ConfigSource.STATIC_BROKER_CONFIG
    assert rows["retention.bytes"].source is ConfigSource.DEFAULT_CONFIG
    store.close()
    assert open_store(tmp_path, config=defaults).topic("t").overrides == {"segment.bytes": "2097152"}


def test_checkpoint_file_format(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    write_offset_checkpoint(path, {("b", 1): 10, ("a", 0): 5})
    assert path.read_text() == "0\n2\na 0 5\nb 1 10\n"
    assert read_offset_checkpoint(path) == {("a", 0): 5, ("b", 1): 10}
    assert read_offset_checkpoint(tmp_path / "missing") == {}
    for bad in ["", "1\n0\n", "0\nx\n", "0\n1\na 0\n", "0\n1\na b c\n"]:
        path.write_text(bad)
        with pytest.raises(CheckpointError):
            read_offset_checkpoint(path)


# --- with the real segments.log.Log ---------------------------------------------------------------


def _batch(value: bytes, ts: int = 1000) -> bytes:
    from segments.records import RecordInput, build_batch

    return build_batch([RecordInput(b"k", value, timestamp=ts)])


def test_real_logs_clean_restart_scans_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("t", 2)
    log = store.log("t", 0)
    for i in range(5):
        log.append(_batch(b"v%d" % i), now_ms=1000)
    store.close()
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 0): 5}

    again = Store.open(tmp_path, LogConfig(), now_ms=2000)
    assert again.opened_clean
    reopened = again.log("t", 0)
    assert reopened.log_end_offset == 5 and reopened.recovery_point == 5
    assert reopened.recovery_report.scanned_bytes == 0
    assert again.log("t", 1).log_end_offset == 0
    again.close()


def test_real_logs_crash_recovers_from_recovery_point(tmp_path: Path) -> None:
    import os

    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("t", 1)
    log = store.log("t", 0)
    log.append(_batch(b"a"), now_ms=1000)
    log.flush()
    store.checkpoint()
    log.append(_batch(b"b"), now_ms=1000)
    # Crash: no close, no marker; a torn half batch at the tail.
    with open(log.active_segment.path, "ab") as f:
        f.write(_batch(b"torn")[:30])
    os.close(store._lock_fd)

    again = Store.open(tmp_path, LogConfig(), now_ms=2000)
    assert not again.opened_clean
    recovered = again.log("t", 0)
    assert recovered.log_end_offset == 2
    assert recovered.recovery_report.scanned_bytes > 0
    assert recovered.recovery_report.lost_bytes == 30
    again.close()


def test_real_logs_alter_config_reaches_open_log(tmp_path: Path) -> None:
    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("t", 1)
    log = store.log("t", 0)
    store.alter_config("t", {"internal.segment.bytes": "1000"})
    assert log.config.segment_bytes == 1000
    store.delete_topic("t")
    assert list(tmp_path.glob("t-*")) == []
    store.close()


def test_cleaner_offsets_persist(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 1)
    assert store.cleaner_offset("t", 0) == 0
    store.set_cleaner_offset("t", 0, 42)
    store.close()
    again = open_store(tmp_path)
    assert again.cleaner_offset("t", 0) == 42
    again.delete_topic("t")
    again.close()


def test_interrupted_create_or_grow_heals_on_first_use(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.create_topic("t", 3)
    store.close()
    # Crash after the metadata file was written but before the partition dirs were made.
    for p in range(3):
        (tmp_path / f"t-{p}").rmdir()
    again = open_store(tmp_path)
    assert again.topic("t").partitions == 3
    again.log("t", 2)
    assert (tmp_path / "t-2").is_dir()
    again.close()


@pytest.mark.parametrize("failing_step", ["partition directory", "metadata file"])
def test_a_create_that_fails_midway_leaves_no_topic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      failing_step: str) -> None:
    store = Store.open(tmp_path / "data", LogConfig(), now_ms=0)
    real_mkdir = os.mkdir

    def mkdir(path: str, *args: Any, **kwargs: Any) -> None:
        if os.path.basename(path) == "orders-2":
            raise OSError(28, "No space left on device")
        real_mkdir(path, *args, **kwargs)

    def write(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    if failing_step == "partition directory":
        monkeypatch.setattr(os, "mkdir", mkdir)
    else:
        monkeypatch.setattr("segments.store.atomic_write", write)
    with pytest.raises(OSError):
        store.create_topic("orders", 3)
    monkeypatch.undo()
    assert not store.has_topic("orders")
    assert not [p.name for p in (tmp_path / "data").iterdir() if p.name.startswith("orders")]
    assert not list((tmp_path / "data" / TOPICS_DIR).glob("*.json"))
    # A retry succeeds rather than finding a half-created topic.
    assert store.create_topic("orders", 3).partitions == 3
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if p.name.startswith("orders")) == [
        "orders-0", "orders-1", "orders-2"]
    store.close()
    reopened = Store.open(tmp_path / "data", LogConfig(), now_ms=0)
    assert reopened.topic("orders").partitions == 3
    reopened.close()


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_partitions_beyond_the_handle_budget_share_it_and_bigger_topics_are_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path, LogConfig(), now_ms=0, max_open_segments=8)
    with pytest.raises(InvalidPartitionsError, match="file handle budget of 8"):
        store.create_topic("huge", 9)
    assert not store.has_topic("huge") and not any(tmp_path.glob("huge-*"))
    store.create_topic("t", 8)
    with pytest.raises(InvalidPartitionsError, match="file handle budget"):
        store.add_partitions("t", 9)
    store.create_topic("u", 8)
    before = _open_fds()
    # 16 partitions written in turn through 8 descriptors: active segments are evicted and reopen.
    for round_ in range(3):
        for topic in ("t", "u"):
            for p in range(8):
                store.log(topic, p).append(_batch(b"%s-%d-%d" % (topic.encode(), p, round_)), now_ms=1000)
    assert _open_fds() - before <= 8
    for topic in ("t", "u"):
        for p in range(8):
            log = store.log(topic, p)
            assert log.log_end_offset == 3
            data = log.read(0, 1 << 20).read_bytes()
            assert b"%s-%d-2" % (topic.encode(), p) in data
    store.close()
    again = Store.open(tmp_path, LogConfig(), now_ms=2000, max_open_segments=8)
    assert again.opened_clean and again.log("u", 7).log_end_offset == 3
    again.close()


def test_new_defaults_reach_every_topic_but_its_overrides(tmp_path: Path) -> None:
    store = open_store(tmp_path, Factory())
    store.create_topic("plain", 1)
    store.create_topic("own", 1, {"retention.ms": "1000"})
    log: Any = store.log("plain", 0)
    store.set_default_config(LogConfig(retention_ms=5000, segment_bytes=2_097_152))
    assert store.topic("plain").config.retention_ms == 5000 and log.config.segment_bytes == 2_097_152
    assert store.topic("own").config.retention_ms == 1000 and store.topic("own").config.segment_bytes == 2_097_152
    assert store.default_config.retention_ms == 5000


def test_checkpoint_written_from_a_worker_thread_never_goes_back(tmp_path: Path) -> None:
    """The snapshot is taken where the logs change; the files are written from another thread,
    and a snapshot older than one already written is dropped, not written over it."""
    import threading

    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("t", 1)
    log = store.log("t", 0)
    log.append(bytearray(_batch(b"one")), now_ms=0)
    log.flush()
    old = store.checkpoint_snapshot()
    log.append(bytearray(_batch(b"two")), now_ms=0)
    log.flush()
    new = store.checkpoint_snapshot()
    worker = threading.Thread(target=store.write_checkpoint, args=(new,))
    worker.start()
    worker.join(timeout=30)
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 0): 2}
    assert store.write_checkpoint(old) is False
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 0): 2}
    store.close()
    assert read_offset_checkpoint(tmp_path / RECOVERY_POINT_CHECKPOINT) == {("t", 0): 2}


def test_partitions_with_data_lists_only_written_directories(tmp_path: Path) -> None:
    """The retention sweep opens only partitions with segment files: a fresh topic's empty directories
    are left unopened (and get no segment files)."""
    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("t", 3)
    store.log("t", 1).append(_batch(b"v"), now_ms=1)
    store.close()
    reopened = Store.open(tmp_path, LogConfig(), now_ms=0)
    keys = list(reopened.partitions())
    assert reopened.partitions_with_data([*keys, ("gone", 0)]) == [("t", 1)]
    assert not list((tmp_path / "t-0").iterdir()) and not list((tmp_path / "t-2").iterdir())
    reopened.close()


def test_detach_partition_keeps_the_topic_and_the_ranges_a_reader_holds(tmp_path: Path) -> None:
    from segments.records import RecordInput, build_batch

    store = Store.open(tmp_path, LogConfig(), now_ms=0, clock=lambda: 0)
    store.create_topic("t", 2)
    data = build_batch([RecordInput(b"k", b"v" * 100)], now_ms=0)
    store.log("t", 1).append_as_is(data)
    held = store.log("t", 1).read(0, 1 << 20).ranges  # a fetch still sending these
    doomed = store.detach_partition("t", 1)
    assert doomed is not None and doomed.name.endswith(".replica-delete") and doomed.is_dir()
    assert not (tmp_path / "t-1").exists()
    store.remove_detached([doomed])
    assert not doomed.exists()
    assert os.pread(held[0].fileno, held[0].length, held[0].position) == data  # its descriptor still reads
    assert store.topic("t").partitions == 2 and store.log("t", 1).log_end_offset == 0  # reopened empty
    assert store.detach_partition("t", 0) is not None  # never written: its directory goes too
    assert store.detach_partition("t", 0) is None  # nothing left to detach
    # A crash between the rename and the removal: the next open removes the directory, keeps the topic.
    store.log("t", 1).append_as_is(data)
    assert store.detach_partition("t", 1) is not None
    store.close()
    reopened = Store.open(tmp_path, LogConfig(), now_ms=0, clock=lambda: 0)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith("-delete")]
    assert reopened.topic("t").partitions == 2 and reopened.log("t", 1).log_end_offset == 0
    reopened.close()


def test_a_topic_is_deleted_when_closing_its_logs_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: closing a log for its deletion cannot write the trimmed indexes; the topic is
    deleted anyway (its files go with it) instead of the deletion being refused."""
    import errno

    from segments.segment import LogSegment

    store = Store.open(tmp_path, None, now_ms=1000)
    store.create_topic("full", 1)
    log = store.log("full", 0)

    def no_space(self: LogSegment) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LogSegment, "seal", no_space)
    store.delete_topic("full")
    monkeypatch.undo()
    assert log.closed
    assert store.list_topics() == []
    assert [p.name for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("full")] == []
    store.close()
