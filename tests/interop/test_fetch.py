"""Fetch over the wire: size limits (KIP-74) and incremental fetch sessions (KIP-227), with a raw
client so the exact request fields are under the test's control."""

from __future__ import annotations

from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerProcess
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
@pytest.mark.logbroker_only("not yet reconciled with Apache Kafka 4.1, which answered 1,666 bytes where this "
                             "test allows 1,111: Kafka's rule for later partitions is to be checked")
def test_max_bytes_is_exceeded_only_by_the_first_batch(broker: BrokerProcess) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "sized", 3)
        one = batch()
        size = len(one)
        for p in range(3):
            produce(c, "sized", p, one)
            produce(c, "sized", p, batch(tag=b"w"))
        everything = {("sized", p): 0 for p in range(3)}

        # Room for one and a half batches: the first partition's first batch only.
        body = fetch(c, everything, max_bytes=size + size // 2)
        got = by_partition(body)
        assert len(got[("sized", 0)]["records"]) == size
        assert got[("sized", 1)]["records"] == b"" and got[("sized", 2)]["records"] == b""
        assert all(p["high_watermark"] == 10 and p["error_code"] == 0 for p in got.values())
        assert record_bytes(body) <= size + size // 2

        # A limit below one batch still returns the first batch, and nothing more.
        body = fetch(c, everything, max_bytes=10)
        assert [len(p["records"]) for p in by_partition(body).values()] == [size, 0, 0]

        # Room for exactly three batches: both of the first partition's, one of the second's.
        body = fetch(c, everything, max_bytes=3 * size)
        assert [len(p["records"]) for p in by_partition(body).values()] == [2 * size, size, 0]

        # partition_max_bytes: only the first partition with data may go over it.
        body = fetch(c, everything, partition_max_bytes=10)
        assert [len(p["records"]) for p in by_partition(body).values()] == [size, 0, 0]
        body = fetch(c, everything, partition_max_bytes=size + size // 2)
        assert [len(p["records"]) for p in by_partition(body).values()] == [size, size, size]

        # The first partition *with data* is the one allowed over: here partition 1.
        body = fetch(c, {("sized", 0): 10, ("sized", 1): 0, ("sized", 2): 0}, max_bytes=10)
        assert [len(p["records"]) for p in by_partition(body).values()] == [0, size, 0]


# -------------------------------------------------------------------------------- fetch sessions
def test_incremental_fetch_session(broker: BrokerProcess) -> None:
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


def test_sessions_by_topic_id(broker: BrokerProcess) -> None:
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


@pytest.mark.logbroker_only("not yet reconciled with Apache Kafka 4.1, whose session cache evicts by its own "
                             "rule (it keeps fresh sessions) where logbroker evicts the least recently used")
def test_session_cache_is_bounded(broker_factory) -> None:  # type: ignore[no-untyped-def]
    b: BrokerProcess = broker_factory(max_incremental_fetch_session_cache_slots="1")
    with RawClient(b.port) as c1, RawClient(b.port) as c2:
        create_topic(c1, "lru", 1)
        first = fetch(c1, {("lru", 0): 0}, epoch=0)["session_id"]
        assert fetch(c1, {}, session_id=first, epoch=1)["error_code"] == 0
        second = fetch(c2, {("lru", 0): 0}, epoch=0)["session_id"]
        assert second != first
        # One slot, so one session lives on. logbroker evicts the least recently used (the first);
        # Kafka's cache instead keeps a fresh session and gives the newcomer none (id 0).
        if second:
            assert fetch(c1, {}, session_id=first, epoch=2)["error_code"] == ErrorCode.FETCH_SESSION_ID_NOT_FOUND
            assert fetch(c2, {}, session_id=second, epoch=1)["error_code"] == 0
        else:
            assert fetch(c1, {}, session_id=first, epoch=2)["error_code"] == 0


def test_no_slots_means_full_fetches(broker_factory) -> None:  # type: ignore[no-untyped-def]
    b: BrokerProcess = broker_factory(max_incremental_fetch_session_cache_slots="0")
    with RawClient(b.port) as c:
        create_topic(c, "none", 1)
        body = fetch(c, {("none", 0): 0}, epoch=0)
        assert body["error_code"] == 0 and body["session_id"] == 0
