"""The share coordinator, KIP-932, on logbroker and on Apache Kafka 4.1.1 alike: FindCoordinator with
key type SHARE (2) and its key ``groupId:topicId:partition``, and the inter-broker APIs a partition
leader uses to keep a share-partition's state there (InitializeShareGroupState,
ReadShareGroupState, WriteShareGroupState, DeleteShareGroupState), sent here as a broker would.
A single broker is the share coordinator of every key; the cluster's placement of the keys is
tested in tests/cluster/integration/test_share_groups.py."""

from __future__ import annotations

import time
import uuid
from typing import Any

from logbroker.groups.share_state import coordinator_key, kafka_uuid_text
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle
from tests.interop.rawclient import RawClient
from tests.interop.share_member import topic_id
from tests.interop.test_protocol_edges import create_topic
from tests.interop.test_share_protocol import SHARE_FAST

SHARE = 2  # FindCoordinator key type of a share-partition
RETRIABLE = (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR)


def find_share(c: RawClient, keys: list[str]) -> list[dict[str, Any]]:
    """FindCoordinator v6 (key type SHARE) until no key is answered a retriable error (the broker
    creates ``__share_group_state`` on the first one)."""
    deadline = time.monotonic() + 30
    while True:
        found: list[dict[str, Any]] = c.call(ApiKey.FIND_COORDINATOR, 6, {"key_type": SHARE,
                                                                          "coordinator_keys": keys})["coordinators"]
        if not any(e["error_code"] in RETRIABLE for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def node_id(c: RawClient) -> int:
    meta = c.call(ApiKey.METADATA, 12, {"topics": [], "allow_auto_topic_creation": False,
                                        "include_topic_authorized_operations": False})
    return int(meta["brokers"][0]["node_id"])


def test_find_coordinator_of_share_partition_keys(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    with RawClient(broker.port) as c:
        create_topic(c, "keys", 1)
        tid = topic_id(c, "keys")
        text = kafka_uuid_text(tid)
        good = coordinator_key("crew", tid, 0)
        # A well-formed key of a topic that does not exist is still placed (the key is hashed, not looked up).
        unknown_topic = coordinator_key("crew", uuid.uuid4(), 3)
        # Malformed: too few fields, a partition that is not a number, a topic id in another form, and
        # a group id holding ':' (Kafka 4.1.1 splits the key at every ':').
        malformed = ["crew", f"crew:{text}", f"crew:{text}:x", f"crew:{tid}:0", f"a:b:{text}:0"]
        found = find_share(c, [good, unknown_topic, *malformed])
        me = node_id(c)
        # Key type SHARE came with FindCoordinator v6: an older version is refused.
        older = c.call(ApiKey.FIND_COORDINATOR, 5, {"key_type": SHARE, "coordinator_keys": [good]})["coordinators"]
    assert [e["key"] for e in found] == [good, unknown_topic, *malformed]
    for entry in found[:2]:
        assert (entry["error_code"], entry["node_id"], entry["port"]) == (0, me, broker.port), entry
    for entry in [*found[2:], *older]:
        assert (entry["error_code"], entry["node_id"]) == (ErrorCode.INVALID_REQUEST, -1), entry


def _state(c: RawClient, api: int, topic: uuid.UUID, group: str = "crew", **partition: Any) -> dict[str, Any]:
    body = c.call(api, 0, {"group_id": group, "topics": [{"topic_id": topic, "partitions": [
        {"partition": 0, **partition}]}]})
    if not body["results"]:
        return {}
    result: dict[str, Any] = body["results"][0]["partitions"][0]
    return result


def _read(c: RawClient, topic: uuid.UUID, leader_epoch: int, group: str = "crew") -> tuple[Any, ...]:
    r = _state(c, ApiKey.READ_SHARE_GROUP_STATE, topic, group, leader_epoch=leader_epoch)
    if r["error_code"]:
        return (r["error_code"],)
    batches = [(b["first_offset"], b["last_offset"], b["delivery_state"], b["delivery_count"])
               for b in r["state_batches"]]
    return r["error_code"], r["state_epoch"], r["start_offset"], batches


def _write(c: RawClient, topic: uuid.UUID, state_epoch: int, leader_epoch: int, start_offset: int,
           batches: list[tuple[int, int, int, int]], group: str = "crew") -> int:
    code: int = _state(c, ApiKey.WRITE_SHARE_GROUP_STATE, topic, group, state_epoch=state_epoch,
                       leader_epoch=leader_epoch, start_offset=start_offset, state_batches=[
                           {"first_offset": f, "last_offset": last, "delivery_state": s, "delivery_count": n}
                           for f, last, s, n in batches])["error_code"]
    return code


def _initialize(c: RawClient, topic: uuid.UUID, state_epoch: int, start_offset: int) -> int:
    code: int = _state(c, ApiKey.INITIALIZE_SHARE_GROUP_STATE, topic, state_epoch=state_epoch,
                       start_offset=start_offset)["error_code"]
    return code


def test_share_partition_state_initialized_written_read_deleted(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    with RawClient(broker.port) as c:
        create_topic(c, "states", 1)
        tid = topic_id(c, "states")
        find_share(c, [coordinator_key("crew", tid, 0)])
        deadline = time.monotonic() + 30
        while True:  # Kafka loads the new __share_group_state partition in the background
            code = _initialize(c, tid, 1, 3)
            if code not in (*RETRIABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert code == 0
        assert _read(c, tid, 0) == (0, 1, 3, [])
        assert _write(c, tid, 1, 5, 3, [(3, 4, 0, 2), (5, 5, 2, 1)]) == 0
        assert _read(c, tid, 5) == (0, 1, 3, [(3, 4, 0, 2), (5, 5, 2, 1)])
        # A deposed leader (an older leader epoch) can neither write nor read.
        assert _write(c, tid, 1, 4, 3, []) == ErrorCode.FENCED_LEADER_EPOCH
        assert _read(c, tid, 4) == (ErrorCode.FENCED_LEADER_EPOCH,)
        # A newer state epoch is taken, and written batches are merged over the held ones (nothing
        # below the start offset kept); an older state epoch is fenced, for writes and initializations alike.
        assert _write(c, tid, 2, 6, 4, []) == 0
        assert _read(c, tid, 6) == (0, 2, 4, [(4, 4, 0, 2), (5, 5, 2, 1)])
        assert _write(c, tid, 2, 6, 4, [(5, 6, 4, 3)]) == 0
        assert _read(c, tid, 6) == (0, 2, 4, [(4, 4, 0, 2), (5, 6, 4, 3)])
        assert _write(c, tid, 1, 6, 4, []) == ErrorCode.FENCED_STATE_EPOCH
        assert _initialize(c, tid, 1, 9) == ErrorCode.FENCED_STATE_EPOCH
        assert _initialize(c, tid, 2, 7) == 0  # a fresh state: nothing in flight
        assert _read(c, tid, 6) == (0, 2, 7, [])
        # A share-partition never initialized (another group's, or of a topic id no topic has) can be
        # neither read nor written; deleting it is fine. An empty group id gets no results at all.
        assert _read(c, tid, 0, group="other") == (ErrorCode.INVALID_REQUEST,)
        assert _write(c, tid, 0, 0, 0, [], group="other") == ErrorCode.INVALID_REQUEST
        assert _state(c, ApiKey.DELETE_SHARE_GROUP_STATE, tid, "other")["error_code"] == 0
        assert _read(c, uuid.uuid4(), 0) == (ErrorCode.INVALID_REQUEST,)
        assert _state(c, ApiKey.READ_SHARE_GROUP_STATE, tid, "", leader_epoch=0) == {}
        # Deleted: not initialized any more.
        assert _state(c, ApiKey.DELETE_SHARE_GROUP_STATE, tid)["error_code"] == 0
        assert _read(c, tid, 6) == (ErrorCode.INVALID_REQUEST,)


def _summary(c: RawClient, topic: uuid.UUID, leader_epoch: int = -1, group: str = "crew") -> tuple[Any, ...]:
    r = _state(c, ApiKey.READ_SHARE_GROUP_STATE_SUMMARY, topic, group, leader_epoch=leader_epoch)
    if r["error_code"]:
        return (r["error_code"],)
    return r["error_code"], r["state_epoch"], r["leader_epoch"], r["start_offset"]


def test_share_partition_state_summary(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """ReadShareGroupStateSummary (87): what a group coordinator reads of a share-partition to
    describe its group's start offsets, answered by the share coordinator to any client allowed
    CLUSTER_ACTION."""
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    with RawClient(broker.port) as c:
        create_topic(c, "summaries", 1)
        tid = topic_id(c, "summaries")
        find_share(c, [coordinator_key("crew", tid, 0)])
        deadline = time.monotonic() + 30
        while True:  # Kafka loads the new __share_group_state partition in the background
            code = _initialize(c, tid, 1, 3)
            if code not in (*RETRIABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert code == 0
        assert _summary(c, tid) == (0, 1, 0, 3)  # no leader has written yet: leader epoch 0
        assert _write(c, tid, 1, 5, 4, [(4, 4, 0, 1)]) == 0
        # The state epoch, the leader epoch of the last write and the start offset; the batches are not sent.
        assert _summary(c, tid) == (0, 1, 5, 4)
        # An older leader epoch is neither fenced nor recorded: the asker is not the partition's leader.
        assert _summary(c, tid, leader_epoch=2) == (0, 1, 5, 4)
        assert _write(c, tid, 1, 5, 4, []) == 0
        # Never initialized (another group's): no error, epochs 0 and start offset -1, unlike a read;
        # a topic id no topic has: UNKNOWN_TOPIC_OR_PARTITION.
        assert _summary(c, tid, group="other") == (0, 0, 0, -1)
        assert _summary(c, uuid.uuid4()) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,)
        assert _state(c, ApiKey.READ_SHARE_GROUP_STATE_SUMMARY, tid, "", leader_epoch=0) == {}
