"""The broker core in-process: the rules every front gets from it, and what a full disk gives."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from logbroker.broker import EARLIEST, LATEST, Broker
from logbroker.config import BrokerConfig
from logbroker.errors import (
    ClusterTopicChangeError,
    InternalTopicError,
    InvalidRecordError,
    InvalidReplicationFactorError,
    LogStorageError,
    StorageError,
    TopicAuthorizationError,
    TopicDeletionDisabledError,
    UnknownTopicError,
)
from logbroker.groups.offsets_topic import BrokerGroupLog
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import RequestContext
from logbroker.kafka.handlers.produce import handle_produce
from logbroker.records import RecordInput, build_batch
from logbroker.topics import ConfigChange, ConfigOp, TopicInfo
from segments.flush import Durability
from segments.store import Store

NOW = 1_700_000_000_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = make_broker(tmp_path)
    yield b
    shut(b)


def shut(broker: Broker) -> None:
    """As the app stops a broker: the broker, its group committer's threads, then the store."""
    broker.close()
    broker.durability.close()
    broker.store.close()


def make_broker(tmp_path: Path, **props: str) -> Broker:
    config = BrokerConfig.load(None, props)
    store = Store.open(tmp_path, config.log_defaults, now_ms=NOW, clock=lambda: NOW)
    return Broker(store, config, Durability(), tmp_path, clock=lambda: NOW)


def batch(*records: RecordInput, compression: int = 0) -> memoryview:
    return memoryview(bytearray(build_batch(list(records), compression=compression, now_ms=NOW)))


def test_clients_cannot_append_to_an_internal_topic(broker: Broker) -> None:
    broker.create_topic("__consumer_offsets", 1, {"cleanup.policy": "compact"})
    with pytest.raises(InternalTopicError, match="Cannot append to internal topic __consumer_offsets"):
        broker.append("__consumer_offsets", 0, batch(RecordInput(b"k", b"v")))
    with pytest.raises(InternalTopicError):
        broker.delete_records("__consumer_offsets", 0, -1)
    assert broker.offsets("__consumer_offsets", 0) == (0, 0)
    # The broker's own writes (the group coordinator's) go through.
    assert broker.append("__consumer_offsets", 0, batch(RecordInput(b"k", b"v")), internal=True).base_offset == 0


def test_consumer_offsets_may_be_deleted_but_not_the_other_internal_topics(broker: Broker) -> None:
    """As Kafka 4.1: DeleteTopics on __consumer_offsets deletes it (and the listeners hear of it)."""
    deleted: list[str] = []
    broker.add_topic_deletion_listener(deleted.append)
    for name in ("__consumer_offsets", "__share_group_state"):
        broker.create_topic(name, 1, {"cleanup.policy": "compact"})
    broker.delete_topic("__consumer_offsets")
    assert not broker.has_topic("__consumer_offsets") and deleted == ["__consumer_offsets"]
    with pytest.raises(TopicAuthorizationError):
        broker.delete_topic("__share_group_state")
    assert broker.has_topic("__share_group_state") and deleted == ["__consumer_offsets"]
    assert not asyncio.run(broker.ensure_topic_async("__transaction_state"))  # never auto-created for a client


def test_a_cluster_brokers_synchronous_topic_changes_are_refused_with_a_typed_error(
        broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    """In a cluster a replicated topic changes through the cluster (the ``*_async`` methods every front
    uses); the synchronous methods, which act on this broker alone, refuse with ClusterTopicChangeError
    (INVALID_REQUEST, HTTP 400) and a log line, and the group log's safety net gets the same refusal
    (its coordinator answers COORDINATOR_NOT_AVAILABLE to a StorageError) instead of a bare RuntimeError."""
    broker.create_topic("held", 1, {})
    broker.ownership = cast(Any, object())  # any ownership: this broker is in a cluster
    with caplog.at_level(logging.ERROR, logger="logbroker.broker"):
        with pytest.raises(ClusterTopicChangeError, match="creating topic t: a topic the cluster replicates"):
            broker.create_topic("t", 1, {})
        with pytest.raises(ClusterTopicChangeError):
            broker.create_partitions("held", 2)
        with pytest.raises(ClusterTopicChangeError):
            broker.delete_topic("held")
        with pytest.raises(ClusterTopicChangeError) as refused:
            BrokerGroupLog(broker, 3).append(0, [(b"k", b"v")], NOW)
    assert isinstance(refused.value, StorageError) and error_code_for(refused.value) == ErrorCode.INVALID_REQUEST
    assert sum("refused: a topic the cluster replicates" in r.getMessage() for r in caplog.records) == 4
    assert broker.topic_names() == ["held"] and broker.topic("held").partitions == 1


def test_topic_rules(tmp_path: Path) -> None:
    broker = make_broker(tmp_path, **{"num.partitions": "3", "delete.topic.enable": "false"})
    try:
        assert broker.create_topic("defaulted", None, {}).partitions == 3
        assert broker.create_topic("minus-one", -1, {}, replication_factor=-1).partitions == 3
        with pytest.raises(InvalidReplicationFactorError, match="larger than the 1 available broker"):
            broker.create_topic("rf2", 1, {}, replication_factor=2)
        assert not broker.has_topic("rf2")
        with pytest.raises(TopicDeletionDisabledError):
            broker.delete_topic("defaulted")
        assert broker.has_topic("defaulted")
    finally:
        shut(broker)


def test_incremental_config_changes_start_from_the_effective_value(broker: Broker) -> None:
    broker.create_topic("t", 1, {})

    async def change() -> tuple[TopicInfo, TopicInfo]:
        # The second change is planned while the first is still being written: it starts from the
        # first one's outcome, and the two are applied in order.
        return await asyncio.gather(
            broker.incremental_alter_configs_async("t", [ConfigChange(ConfigOp.APPEND, "cleanup.policy", "compact"),
                                                         ConfigChange(ConfigOp.SET, "retention.ms", "1000")]),
            broker.incremental_alter_configs_async("t", [ConfigChange(ConfigOp.SUBTRACT, "cleanup.policy", "delete"),
                                                         ConfigChange(ConfigOp.DELETE, "retention.ms", None)]))

    first, second = asyncio.run(change())
    assert first.overrides == {"cleanup.policy": "delete,compact", "retention.ms": "1000"}
    assert second.overrides == {"cleanup.policy": "compact"}
    described = {e.name: e.value for e in broker.describe_configs("t", ["cleanup.policy"])}
    assert described == {"cleanup.policy": "compact"}


@pytest.mark.parametrize("compression", [0, 1, 3, 4])
def test_compacted_topic_refuses_records_without_key(broker: Broker, compression: int) -> None:
    broker.create_topic("c", 1, {"cleanup.policy": "compact"})
    with pytest.raises(InvalidRecordError, match="Compacted topic cannot accept message without key"):
        broker.append("c", 0, batch(RecordInput(b"k", b"v"), RecordInput(None, b"v"), compression=compression))
    assert broker.offsets("c", 0) == (0, 0)
    assert broker.append("c", 0, batch(RecordInput(b"k", b"v"), compression=compression)).base_offset == 0
    with pytest.raises(InvalidRecordError):
        broker.build_batch("c", 0, [RecordInput(None, b"v")], now_ms=NOW)
    broker.create_topic("plain", 1, {})
    assert broker.append("plain", 0, batch(RecordInput(None, b"v"), compression=compression)).base_offset == 0


def test_list_offsets_by_time_and_max_timestamp_name_records(broker: Broker) -> None:
    broker.create_topic("t", 1, {})
    timestamps = [10, 30, 20, 50, 40]
    broker.append("t", 0, batch(*(RecordInput(None, b"v", timestamp=NOW + ts) for ts in timestamps)))
    broker.append("t", 0, batch(RecordInput(None, b"late", timestamp=NOW + 45)))
    assert broker.offset_for_timestamp("t", 0, -3) == (3, NOW + 50)  # the record, not its batch (0)
    assert broker.offset_for_timestamp("t", 0, NOW + 25) == (1, NOW + 30)
    assert broker.offset_for_timestamp("t", 0, NOW + 51) == (-1, -1)
    assert broker.offset_for_timestamp("t", 0, -2) == (0, -1)
    assert broker.offset_for_timestamp("t", 0, -1) == (6, -1)


def test_fetch_waiters_wake_on_any_append_to_the_log(broker: Broker) -> None:
    broker.create_topic("t", 1, {})

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiter = asyncio.create_task(broker.wait_for_append([("t", 0)], 10))
        await asyncio.sleep(0.05)
        # A write that does not come through Broker.append (e.g. replication) still wakes it.
        broker.store.log("t", 0).append_as_is(build_batch([RecordInput(b"k", b"v")], base_offset=0, now_ms=NOW))
        await asyncio.wait_for(waiter, 5)
        return loop.time() - started

    assert asyncio.run(scenario()) < 5


def test_producer_state_is_rebuilt_from_the_log_after_a_restart(tmp_path: Path) -> None:
    broker = make_broker(tmp_path)
    broker.create_topic("t", 1, {})
    records = [RecordInput(b"k", b"v")]
    now = int(time.time() * 1000)  # a recent batch: older producers expire when the log loads
    first = memoryview(bytearray(build_batch(records, producer_id=7, producer_epoch=0, base_sequence=0, now_ms=now)))
    assert broker.append("t", 0, first).base_offset == 0
    broker.durability.close()
    broker.store.close()  # no producer snapshot: the state must come from the batch headers
    again = make_broker(tmp_path)
    try:
        retry = memoryview(bytearray(build_batch(records, producer_id=7, producer_epoch=0, base_sequence=0,
                                                 now_ms=now)))
        outcome = again.append("t", 0, retry)
        assert outcome.duplicate and outcome.base_offset == 0
    finally:
        shut(again)


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file layer as a full disk: every data write fails with ENOSPC."""

    def pwrite(fd: int, data: Any, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("segments.segment.os.pwrite", pwrite)


def test_a_full_disk_is_a_storage_error_and_nothing_is_appended(broker: Broker, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    broker.create_topic("t", 1, {})
    broker.append("t", 0, batch(RecordInput(b"k", b"before")))
    _full_disk(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="logbroker.broker"), pytest.raises(LogStorageError, match="full"):
        broker.append("t", 0, batch(RecordInput(b"k", b"refused")))
    assert [r.levelno for r in caplog.records if r.name == "logbroker.broker"] == [logging.WARNING]
    monkeypatch.undo()
    assert broker.offsets("t", 0) == (0, 1)
    assert broker.append("t", 0, batch(RecordInput(b"k", b"after"))).base_offset == 1


def test_a_full_disk_answers_kafka_storage_error_to_a_producer(broker: Broker, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    broker.create_topic("t", 1, {})
    ctx = RequestContext(broker, 9, "producer-1", "127.0.0.1:5", "127.0.0.1", 9092)
    body = {"acks": -1, "timeout_ms": 1000, "transactional_id": None, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": batch(RecordInput(b"k", b"v"))}]}]}
    _full_disk(monkeypatch)
    with caplog.at_level(logging.WARNING):
        response = asyncio.run(handle_produce(ctx, body))
    assert response is not None
    part = response["responses"][0]["partition_responses"][0]
    assert part["error_code"] == ErrorCode.KAFKA_STORAGE_ERROR
    assert "full" in part["error_message"]
    assert any(r.levelno == logging.WARNING and "full" in r.getMessage() for r in caplog.records)


def test_offset_resets(broker: Broker) -> None:
    broker.create_topic("t", 1, {})
    for ts in (10, 20, 30, 40):
        broker.append("t", 0, batch(RecordInput(None, b"v", timestamp=NOW + ts)))
    broker.delete_records("t", 0, 1)
    assert broker.reset_offset("t", 0, "earliest") == 1
    assert broker.reset_offset("t", 0, "latest") == 4
    assert broker.reset_offset("t", 0, "timestamp", timestamp=NOW + 25) == 2
    assert broker.reset_offset("t", 0, "timestamp", timestamp=NOW + 99) == 4
    assert broker.reset_offset("t", 0, "shift", shift=-2, current=2) == 1  # kept inside the log
    assert broker.reset_offset("t", 0, "shift", shift=-1) == 3
    with pytest.raises(ValueError):
        broker.reset_offset("t", 0, "none")
    assert broker.start_offset("t", 0, 3, "earliest") == 3
    assert broker.start_offset("t", 0, 0, "earliest") == 1  # below the log start: reset
    assert broker.start_offset("t", 0, None, "latest") == 4


def test_list_offsets_answers_each_partition_or_its_error(broker: Broker) -> None:
    """A single broker answers every partition itself: per timestamp the log start, the log end and the
    first offset at or after a time (-1 past the last record); an unknown partition carries its error."""
    broker.create_topic("listed", 2, {})
    broker.append("listed", 1, batch(*(RecordInput(None, b"v", timestamp=1000 * i) for i in range(1, 4))))
    broker.delete_records("listed", 1, 1)
    answers = asyncio.run(broker.list_offsets_async([("listed", 0), ("listed", 1), ("listed", 9), ("gone", 0)],
                                                    (EARLIEST, LATEST, 2500, 9000)))
    assert answers[("listed", 0)] == (0, 0, -1, -1)
    assert answers[("listed", 1)] == (1, 3, 2, -1)
    assert isinstance(answers[("listed", 9)], UnknownTopicError)
    assert isinstance(answers[("gone", 0)], UnknownTopicError)


def test_a_retry_after_a_truncation_is_answered_with_the_offset_the_log_holds(tmp_path: Path) -> None:
    """A replica's log is truncated (it diverged from a new leader) after its producer state was
    snapshotted, then grows past the snapshot's offset again with the new leader's batches. A retry
    of a batch it now holds at another offset is answered with that offset, not the one the
    divergent log had: a snapshot beyond a truncation is removed with it."""
    broker = make_broker(tmp_path)
    broker.create_topic("t", 1, {})
    now = int(time.time() * 1000)

    def batch(pid: int, seq: int, value: bytes, base_offset: int = 0) -> memoryview:
        return memoryview(bytearray(build_batch([RecordInput(b"k", value)], base_offset=base_offset,
                                                producer_id=pid, producer_epoch=0, base_sequence=seq,
                                                now_ms=now)))

    try:
        assert broker.append("t", 0, batch(7, 0, b"x")).base_offset == 0  # x at 0 in the divergent log
        assert broker.append("t", 0, batch(7, 1, b"y")).base_offset == 1
        broker.snapshot_producer_states()  # covers offset 2
        broker.truncate_replica("t", 0, 0)
        for offset, (pid, seq, value) in enumerate([(8, 0, b"a"), (8, 1, b"b"), (7, 0, b"x"), (7, 1, b"y")]):
            broker.append_replica("t", 0, batch(pid, seq, value, base_offset=offset))
        retry = broker.append("t", 0, batch(7, 0, b"x"))
        assert retry.duplicate and retry.base_offset == 2
    finally:
        shut(broker)


def test_a_snapshot_written_across_a_truncation_is_not_kept(tmp_path: Path) -> None:
    broker = make_broker(tmp_path)
    broker.create_topic("t", 1, {})
    now = int(time.time() * 1000)
    try:
        for seq in range(3):
            broker.append("t", 0, memoryview(bytearray(build_batch(
                [RecordInput(b"k", b"v")], producer_id=9, producer_epoch=0, base_sequence=seq, now_ms=now))))
        taken = broker.producer_snapshots()  # on the loop, before the truncation
        broker.truncate_replica("t", 0, 1)
        Broker.write_producer_snapshots(taken)  # the worker thread, after it
        directory = broker.store.log("t", 0).path
        assert sorted(p.name for p in directory.glob("*.snapshot")) == []
    finally:
        shut(broker)


def test_appends_no_one_waits_for_are_fsynced_at_the_next_tick(broker: Broker) -> None:
    """Under the default group policy, acks=0/1 appends (``wait_durable`` false) are answered at
    once and do not wake the group committer; the flush-scheduler tick fsyncs their partition
    once. An acks=all append still gets its own fsync."""
    broker.create_topic("lazy", 1, {})
    committer = broker.durability.committer
    outcomes = [broker.append("lazy", 0, batch(RecordInput(b"k", b"%d" % i)), wait_durable=False)
                for i in range(20)]
    assert all(o.durable is not None and o.durable.done() for o in outcomes)
    plog = broker.store.log("lazy", 0)
    assert committer.stats.requests == 0 and plog.recovery_point == 0
    assert broker.durability.tick(NOW + 1000) == 1
    deadline = time.monotonic() + 10
    while plog.recovery_point < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plog.recovery_point == 20 and committer.stats.requests == 1
    waited = broker.append("lazy", 0, batch(RecordInput(b"k", b"x")))
    assert waited.durable is not None and waited.durable.result(timeout=10) == 21
