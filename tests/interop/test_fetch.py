"""Fetch over the wire: size limits (KIP-74) and incremental fetch sessions (KIP-227), with a raw
client so the exact request fields are under the test's control."""

from __future__ import annotations

from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.interop

FETCH_V = 12  # topics by name, sessions, flexible versions
META_V = 12


def batch(n: int = 5, size: int = 200, tag: bytes = b"v") -> bytes:
    records = [RecordInput(key=None, value=tag + b"x" * size, timestamp=1_700_000_000_000 + i) for i in range(n)]
    return build_batch(records)


def create_topic(c: RawClient, topic: str, partitions: int) -> None:
    body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": topic, "num_partitions": partitions,
                                                        "replication_factor": 1, "assignments": [], "configs": []}],
                                            "timeout_ms": 5000, "validate_only": False})
    assert body["topics"][0]["error_code"] == 0, body
    wait_for_leaders(c, topic, partitions)  # Kafka leads new partitions a moment after CreateTopics answers


def produce(c: RawClient, topic: str, partition: int, records: bytes) -> int:
    body = c.call(ApiKey.PRODUCE, 9, {"acks": 1, "timeout_ms": 10000, "topic_data": [
        {"name": topic, "partition_data": [{"index": partition, "records": records}]}]})
    part = body["responses"][0]["partition_responses"][0]
    assert part["error_code"] == 0, part
    return int(part["base_offset"])


def fetch(c: RawClient, partitions: dict[tuple[str, int], int], *, max_bytes: int = 1 << 20,
          partition_max_bytes: int = 1 << 20, session_id: int = 0, epoch: int = -1,
          forgotten: dict[str, list[int]] | None = None, version: int = FETCH_V,
          topic_ids: dict[str, Any] | None = None) -> dict[str, Any]:
    topics: dict[str, list[dict[str, Any]]] = {}
    for (topic, p), offset in partitions.items():
        topics.setdefault(topic, []).append({"partition": p, "current_leader_epoch": -1, "fetch_offset": offset,
                                             "last_fetched_epoch": -1, "log_start_offset": -1,
                                             "partition_max_bytes": partition_max_bytes})
    by_id = version >= 13

    def topic_field(name: str) -> dict[str, Any]:
        return {"topic_id": (topic_ids or {})[name]} if by_id else {"topic": name}

    return c.call(ApiKey.FETCH, version, {
        "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": max_bytes, "isolation_level": 0,
        "session_id": session_id, "session_epoch": epoch,
        "topics": [{**topic_field(t), "partitions": ps} for t, ps in topics.items()],
        "forgotten_topics_data": [{**topic_field(t), "partitions": ps} for t, ps in (forgotten or {}).items()],
        "rack_id": ""})


def by_partition(body: dict[str, Any], names: dict[Any, str] | None = None) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for t in body["responses"]:
        name = names[t["topic_id"]] if names else t["topic"]
        for p in t["partitions"]:
            out[(name, p["partition_index"])] = p
    return out


def record_bytes(body: dict[str, Any]) -> int:
    return sum(len(p["records"] or b"") for p in by_partition(body).values())


# ------------------------------------------------------------------------------------- max_bytes
def test_max_bytes_is_a_byte_slice_past_the_first_batch(broker: BrokerHandle) -> None:
    """Kafka's rule (ReplicaManager.readFromLog, LogSegment.read): partitions in request order, each
    given min(partition_max_bytes, what is left of max_bytes) bytes cut from its log, even inside a
    batch, or nothing when its first batch is over that; while the response is empty a partition
    gives at least its first batch whole. (Kafka 4.1 answered exactly these sizes.)"""
    with RawClient(broker.port) as c:
        create_topic(c, "sized", 3)
        one = batch()
        size = len(one)
        for p in range(3):
            produce(c, "sized", p, one)
            produce(c, "sized", p, batch(tag=b"w"))
        everything = {("sized", p): 0 for p in range(3)}
        whole = {k: bytes(p["records"]) for k, p in by_partition(fetch(c, everything)).items()}
        assert [len(b) for b in whole.values()] == [2 * size] * 3

        def sizes(body: dict[str, Any]) -> list[int]:
            got = by_partition(body)
            for key, part in got.items():  # every answer is the start of the partition's data
                assert bytes(part["records"] or b"") == whole[key][:len(part["records"] or b"")]
                assert part["high_watermark"] == 10 and part["error_code"] == 0
            return [len(p["records"] or b"") for p in got.values()]

        # Room for one and a half batches: the first partition's first batch and half its second.
        half = size // 2
        assert sizes(fetch(c, everything, max_bytes=size + half)) == [size + half, 0, 0]
        # A limit below one batch still gives the first batch whole, and nothing more.
        assert sizes(fetch(c, everything, max_bytes=10)) == [size, 0, 0]
        # Room for three batches: both of the first partition's, one of the second's.
        assert sizes(fetch(c, everything, max_bytes=3 * size)) == [2 * size, size, 0]
        # Left over, less than a batch: a later partition whose first batch does not fit gives nothing.
        assert sizes(fetch(c, everything, max_bytes=2 * size + 100)) == [2 * size, 0, 0]
        # partition_max_bytes: only the first partition goes over it; a later one gives nothing
        # unless its first batch fits, and then exactly that many bytes.
        assert sizes(fetch(c, everything, partition_max_bytes=10)) == [size, 0, 0]
        assert sizes(fetch(c, everything, partition_max_bytes=size - 1)) == [size, 0, 0]
        assert sizes(fetch(c, everything, partition_max_bytes=size + 10)) == [size + 10] * 3
        assert sizes(fetch(c, everything, partition_max_bytes=size + half)) == [size + half] * 3
        # The first partition *with data* is the one allowed over: here partition 1.
        assert sizes(fetch(c, {("sized", 0): 10, ("sized", 1): 0, ("sized", 2): 0}, max_bytes=10)) == [0, size, 0]


# -------------------------------------------------------------------------------- fetch sessions
def test_incremental_fetch_session(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "inc", 2)
        produce(c, "inc", 0, batch(n=3))
        produce(c, "inc", 1, batch(n=3))

        # Epoch 0: a full fetch that opens a session.
        full = fetch(c, {("inc", 0): 0, ("inc", 1): 0}, epoch=0)
        sid = full["session_id"]
        assert full["error_code"] == 0 and sid != 0
        assert {k: len(p["records"]) > 0 for k, p in by_partition(full).items()} == {("inc", 0): True,
                                                                                     ("inc", 1): True}

        # Epoch 1: the client moved both positions; nothing new, so nothing is listed.
        body = fetch(c, {("inc", 0): 3, ("inc", 1): 3}, session_id=sid, epoch=1)
        assert body["error_code"] == 0 and body["session_id"] == sid
        assert by_partition(body) == {}

        # Epoch 2: no partition in the request; only partition 1 has news.
        produce(c, "inc", 1, batch(n=2))
        body = fetch(c, {}, session_id=sid, epoch=2)
        got = by_partition(body)
        assert list(got) == [("inc", 1)]
        assert got[("inc", 1)]["high_watermark"] == 5 and len(got[("inc", 1)]["records"]) > 0

        # A replayed or skipped epoch is refused; the session is still usable at the right one.
        for wrong in (2, 9):
            body = fetch(c, {}, session_id=sid, epoch=wrong)
            assert body["error_code"] == ErrorCode.INVALID_FETCH_SESSION_EPOCH and body["responses"] == []
        body = fetch(c, {("inc", 1): 5}, session_id=sid, epoch=3)
        assert body["error_code"] == 0 and by_partition(body) == {}

        # Forgetting a partition: its new data is no longer returned.
        produce(c, "inc", 1, batch(n=1))
        produce(c, "inc", 0, batch(n=1))
        body = fetch(c, {}, session_id=sid, epoch=4, forgotten={"inc": [1]})
        assert list(by_partition(body)) == [("inc", 0)]

        # An unknown session id.
        body = fetch(c, {}, session_id=sid ^ 0x5A5A, epoch=1)
        assert body["error_code"] == ErrorCode.FETCH_SESSION_ID_NOT_FOUND

        # Epoch -1 closes the session and is a sessionless full fetch.
        body = fetch(c, {("inc", 0): 0, ("inc", 1): 0}, session_id=sid, epoch=-1)
        assert body["error_code"] == 0 and body["session_id"] == 0 and len(by_partition(body)) == 2
        body = fetch(c, {}, session_id=sid, epoch=5)
        assert body["error_code"] == ErrorCode.FETCH_SESSION_ID_NOT_FOUND

        # Session id 0, epoch -1 (what clients without sessions send) is a plain full fetch.
        body = fetch(c, {("inc", 0): 3, ("inc", 1): 3})
        assert body["session_id"] == 0 and len(by_partition(body)) == 2


def test_sessions_by_topic_id(broker: BrokerHandle) -> None:
    """Fetch v13+ names topics by id, in requests, forgotten topics and responses."""
    with RawClient(broker.port) as c:
        create_topic(c, "ids", 1)
        create_topic(c, "ids2", 1)
        meta = c.call(ApiKey.METADATA, META_V, {"topics": [{"topic_id": None, "name": "ids"},
                                                          {"topic_id": None, "name": "ids2"}],
                                                "allow_auto_topic_creation": False,
                                                "include_topic_authorized_operations": False})
        ids = {t["name"]: t["topic_id"] for t in meta["topics"]}
        names = {v: k for k, v in ids.items()}
        produce(c, "ids", 0, batch(n=2))
        full = fetch(c, {("ids", 0): 0, ("ids2", 0): 0}, epoch=0, version=16, topic_ids=ids)
        sid = full["session_id"]
        assert sid and set(by_partition(full, names)) == {("ids", 0), ("ids2", 0)}
        produce(c, "ids2", 0, batch(n=1))
        body = fetch(c, {("ids", 0): 2}, session_id=sid, epoch=1, version=16, topic_ids=ids)
        assert list(by_partition(body, names)) == [("ids2", 0)]
        produce(c, "ids2", 0, batch(n=1))
        body = fetch(c, {}, session_id=sid, epoch=2, version=16, topic_ids=ids, forgotten={"ids2": [0]})
        assert by_partition(body, names) == {}


def test_a_full_session_cache_keeps_fresh_sessions(broker_factory: BrokerFactory) -> None:
    """KIP-227's cache, sharded as Kafka's broker shards it (8 shards of slots // 8, filled in
    turn): with 8 slots, eight sessions fill it; a ninth may not evict a fresh one (younger than
    two minutes, recently used), so the newcomer fetches in full without a session (id 0)."""
    b = broker_factory(max_incremental_fetch_session_cache_slots="8")
    with RawClient(b.port) as c:
        create_topic(c, "kept", 1)
        sessions = [fetch(c, {("kept", 0): 0}, epoch=0)["session_id"] for _ in range(8)]
        assert all(sessions) and len(set(sessions)) == 8
        newcomer = fetch(c, {("kept", 0): 0}, epoch=0)
        assert newcomer["error_code"] == 0 and newcomer["session_id"] == 0
        assert len(by_partition(newcomer)) == 1  # still a full fetch
        for sid in sessions:
            assert fetch(c, {}, session_id=sid, epoch=1)["error_code"] == 0


def test_fewer_slots_than_shards_means_full_fetches(broker_factory: BrokerFactory) -> None:
    b = broker_factory(max_incremental_fetch_session_cache_slots="7")
    with RawClient(b.port) as c:
        create_topic(c, "unsharded", 1)
        assert [fetch(c, {("unsharded", 0): 0}, epoch=0)["session_id"] for _ in range(3)] == [0, 0, 0]


def test_no_slots_means_full_fetches(broker_factory: BrokerFactory) -> None:
    b = broker_factory(max_incremental_fetch_session_cache_slots="0")
    with RawClient(b.port) as c:
        create_topic(c, "none", 1)
        body = fetch(c, {("none", 0): 0}, epoch=0)
        assert body["error_code"] == 0 and body["session_id"] == 0
