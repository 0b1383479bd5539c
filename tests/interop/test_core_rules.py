"""Rules the core applies whichever client asks, checked with real clients over the Kafka protocol
against the broker under test (logbroker or Apache Kafka): internal topics, keys on compacted
topics, an empty ``cleanup.policy``, ListOffsets MAX_TIMESTAMP, the replication factor. The same
rules over logbroker's HTTP API are in ``tests/http/test_http_core_rules.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.errors import InvalidRecordError
from kafka.structs import OffsetAndMetadata

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.interop

OFFSETS_TOPIC = "__consumer_offsets"
T = TypeVar("T")


@pytest.fixture(scope="module")
def served(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory()


def _retry(call: Callable[[], T], timeout_s: float = 30) -> T:
    """``call()`` until it stops raising: Kafka loads ``__consumer_offsets`` and leads a new topic's
    partitions a moment after a start or a CreateTopics (docs/REFERENCE.md); clients retry then."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """A group commits ``offset`` for ``topic``-0 (the broker creates ``__consumer_offsets`` for it)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tp = KpTopicPartition(topic, 0)
        consumer.assign([tp])
        _retry(lambda: consumer.commit({tp: OffsetAndMetadata(offset, "", -1)}))
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> int | None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = _retry(lambda: admin.list_group_offsets(group))
    finally:
        admin.close()
    found = offsets.get(group, {}).get(KpTopicPartition(topic, 0))
    return None if found is None else int(found.offset)


def create(bootstrap: str, topic: str, partitions: int = 1, configs: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1, config=configs or {})])[topic].result(30)
    with RawClient(int(bootstrap.rsplit(":", 1)[1])) as c:
        wait_for_leaders(c, topic, partitions)


@pytest.fixture(scope="module")
def offsets_topic(served: BrokerHandle) -> str:
    """Make the broker create ``__consumer_offsets`` the normal way: a group commits an offset."""
    create(served.bootstrap, "committed")
    commit(served.bootstrap, "rules-group", "committed", 0)
    return OFFSETS_TOPIC


def _offsets_end(c: RawClient) -> int:
    """The sum of ``__consumer_offsets``'s end offsets (ListOffsets, latest)."""
    meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": OFFSETS_TOPIC, "topic_id": None}],
                                        "allow_auto_topic_creation": False,
                                        "include_topic_authorized_operations": False})
    count = len(meta["topics"][0]["partitions"])
    assert count > 0, meta
    body = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": OFFSETS_TOPIC, "partitions": [{"partition_index": i, "current_leader_epoch": -1, "timestamp": -1}
                                                for i in range(count)]}]})
    parts = body["topics"][0]["partitions"]
    assert all(p["error_code"] == 0 for p in parts), parts
    return sum(int(p["offset"]) for p in parts)


def _produce_raw(c: RawClient, topic: str, version: int) -> dict[str, Any]:
    records = build_batch([RecordInput(key=b"forged", value=b"x", timestamp=int(time.time() * 1000))])
    body = c.call(ApiKey.PRODUCE, version, {"acks": 1, "timeout_ms": 5000, "transactional_id": None, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": records}]}]})
    return dict(body["responses"][0]["partition_responses"][0])


def test_confluent_cannot_produce_to_consumer_offsets(served: BrokerHandle, offsets_topic: str) -> None:
    with RawClient(served.port) as c:
        before = _offsets_end(c)
    errors: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": served.bootstrap, "enable.idempotence": False, "retries": 0})
    producer.produce(offsets_topic, key=b"forged", value=b"x", partition=0,
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(30)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)
    with RawClient(served.port) as c:
        assert _offsets_end(c) == before


@pytest.mark.parametrize("version", [3, 9, 11])
def test_produce_to_consumer_offsets_is_an_invalid_topic(served: BrokerHandle, offsets_topic: str,
                                                          version: int) -> None:
    """Kafka's answer at every version: INVALID_TOPIC_EXCEPTION and nothing written; no message."""
    with RawClient(served.port) as c:
        before = _offsets_end(c)
        part = _produce_raw(c, offsets_topic, version)
        assert _offsets_end(c) == before
    assert (part["error_code"], part["base_offset"]) == (ErrorCode.INVALID_TOPIC_EXCEPTION, -1)
    assert part.get("error_message") is None


@pytest.mark.parametrize("version", [3, 9, 11])
def test_produce_to_an_unknown_topic_creates_nothing(served: BrokerHandle, version: int) -> None:
    """Kafka 4.1 creates topics from Metadata only (and FindCoordinator for its internal ones): a
    Produce naming a topic that does not exist gets UNKNOWN_TOPIC_OR_PARTITION, without a message,
    even with ``auto.create.topics.enable`` on, and the topic is still unknown afterwards."""
    topic = f"never-made-{version}"
    with RawClient(served.port) as c:
        part = _produce_raw(c, topic, version)
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": topic, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
    assert (part["error_code"], part["base_offset"]) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1)
    assert part.get("error_message") is None
    assert meta["topics"][0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, meta


def test_metadata_creates_the_topic_a_produce_then_writes(served: BrokerHandle) -> None:
    """Clients send Metadata before they produce, so auto-creation still works for them: the
    Metadata request creates the topic (``allow_auto_topic_creation``) and the Produce is written."""
    with RawClient(served.port) as c:
        # Kafka answers the creating Metadata with an error (the controller makes the topic a
        # moment later), logbroker with the topic; a client asks again until the topic is there.
        deadline = time.monotonic() + 30
        request = {"topics": [{"name": "made-by-metadata", "topic_id": None}], "allow_auto_topic_creation": True,
                   "include_topic_authorized_operations": False}
        while (meta := c.call(ApiKey.METADATA, 12, request))["topics"][0]["error_code"]:
            assert time.monotonic() < deadline, meta
            time.sleep(0.2)
        wait_for_leaders(c, "made-by-metadata", 1)
        part = _produce_raw(c, "made-by-metadata", 9)
    assert (part["error_code"], part["base_offset"]) == (0, 0), part


def test_delete_records_of_consumer_offsets_is_refused(served: BrokerHandle, offsets_topic: str) -> None:
    with RawClient(served.port) as c:
        body = c.call(ApiKey.DELETE_RECORDS, 2, {"topics": [{"name": offsets_topic, "partitions": [
            {"partition_index": 0, "offset": -1}]}], "timeout_ms": 5000})
    assert body["topics"][0]["partitions"][0]["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION


def test_deleting_consumer_offsets_drops_every_committed_offset(broker: BrokerHandle) -> None:
    """Kafka 4.1 deletes ``__consumer_offsets`` when a client asks (no authorizer configured): the
    answer is NONE, the groups' committed offsets go with it, and the next group that needs a
    coordinator creates the topic again, empty."""
    create(broker.bootstrap, "kept")
    commit(broker.bootstrap, "before", "kept", 5)
    assert committed(broker.bootstrap, "before", "kept") == 5
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.delete_topics([OFFSETS_TOPIC], timeout_ms=10_000)  # raises on any error code
        _retry(lambda: _assert(OFFSETS_TOPIC not in admin.list_topics()))
    finally:
        admin.close()
    commit(broker.bootstrap, "after", "kept", 7)
    assert committed(broker.bootstrap, "after", "kept") == 7
    assert committed(broker.bootstrap, "before", "kept") is None
    with RawClient(broker.port) as c:
        assert _offsets_end(c) > 0  # the new topic holds the new commit
        # The topic exists again: producing to it is refused as before.
        assert _produce_raw(c, OFFSETS_TOPIC, 9)["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION


def _assert(condition: bool) -> None:
    assert condition


def test_compacted_topic_refuses_a_record_without_key(served: BrokerHandle) -> None:
    create(served.bootstrap, "compacted-kafka", configs={"cleanup.policy": "compact"})
    results: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": served.bootstrap, "linger.ms": 0})
    producer.produce("compacted-kafka", key=b"k", value=b"kept", on_delivery=lambda err, _m: results.append(err))
    producer.flush(30)
    producer.produce("compacted-kafka", value=b"no key", on_delivery=lambda err, _m: results.append(err))
    producer.flush(30)
    assert results[0] is None
    assert results[1] is not None and results[1].code() == KafkaError.INVALID_RECORD, results[1]

    kp = KafkaProducer(bootstrap_servers=served.bootstrap, retries=0, compression_type="gzip")
    try:
        with pytest.raises(InvalidRecordError):
            kp.send("compacted-kafka", value=b"no key, compressed").get(timeout=30)
        assert kp.send("compacted-kafka", key=b"k2", value=b"keyed, compressed").get(timeout=30).offset == 1
    finally:
        kp.close(5)


def test_compacted_topic_refusal_names_the_rule(served: BrokerHandle) -> None:
    """Produce v8+ carries the error message: Kafka's words for the rule."""
    create(served.bootstrap, "compacted-raw", configs={"cleanup.policy": "compact,delete"})
    records = build_batch([RecordInput(key=b"a", value=b"1", timestamp=int(time.time() * 1000)),
                           RecordInput(key=None, value=b"2", timestamp=int(time.time() * 1000))])
    with RawClient(served.port) as c:
        part = _produce_raw_records(c, "compacted-raw", records)
        assert part["error_code"] == ErrorCode.INVALID_RECORD
        assert "Compacted topic cannot accept message without key" in (part["error_message"] or "")
        end = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": "compacted-raw", "partitions": [{"partition_index": 0, "current_leader_epoch": -1,
                                                      "timestamp": -1}]}]})
        assert end["topics"][0]["partitions"][0]["offset"] == 0  # the batch is refused whole


def _produce_raw_records(c: RawClient, topic: str, records: bytes) -> dict[str, Any]:
    body = c.call(ApiKey.PRODUCE, 9, {"acks": 1, "timeout_ms": 5000, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": records}]}]})
    return dict(body["responses"][0]["partition_responses"][0])


def test_empty_cleanup_policy_is_accepted(served: BrokerHandle) -> None:
    create(served.bootstrap, "keep-forever", configs={"cleanup.policy": ""})
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "keep-forever")
    described = _retry(lambda: admin.describe_configs([resource])[resource].result(30))
    assert described["cleanup.policy"].value == ""
    producer = KafkaProducer(bootstrap_servers=served.bootstrap, retries=0)
    try:
        assert producer.send("keep-forever", value=b"no key is fine").get(timeout=30).offset == 0
    finally:
        producer.close(5)


def test_list_offsets_max_timestamp_names_the_record_not_its_batch(served: BrokerHandle) -> None:
    create(served.bootstrap, "max-ts")
    base = int(time.time() * 1000) - 60_000
    # One batch of five records; the largest timestamp is on the fourth (offset 3).
    records = build_batch([RecordInput(key=None, value=b"v%d" % i, timestamp=base + ts)
                           for i, ts in enumerate([10, 30, 20, 50, 40])])
    with RawClient(served.port) as c:
        assert _produce_raw_records(c, "max-ts", records)["error_code"] == 0
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    tp = TopicPartition("max-ts", 0)
    result = _retry(lambda: admin.list_offsets({tp: OffsetSpec.max_timestamp()})[tp].result(30))  # type: ignore[no-untyped-call]
    assert (result.offset, result.timestamp) == (3, base + 50)


def test_replication_factor_above_one_is_refused(served: BrokerHandle) -> None:
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    future = admin.create_topics([NewTopic("rf3", 1, 3)])["rf3"]
    with pytest.raises(KafkaException) as raised:
        future.result(30)
    assert raised.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert "rf3" not in admin.list_topics(timeout=30).topics


@pytest.mark.parametrize("factor", [0, -2])
def test_a_replication_factor_below_one_other_than_minus_one_is_refused_as_such(served: BrokerHandle,
                                                                              factor: int) -> None:
    """-1 asks for the broker default; 0 and other negatives are refused for what they are, not as a
    factor larger than the brokers available."""
    name = f"rf-{factor}".replace("-", "m")
    with RawClient(served.port) as c:
        answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": name, "num_partitions": 1, "replication_factor": factor, "assignments": [], "configs": []}],
            "timeout_ms": 30000, "validate_only": False})["topics"][0]
    assert answer["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR, answer
    assert "larger than 0" in answer["error_message"], answer
