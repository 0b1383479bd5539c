"""Rules the core applies for every front, checked with real clients over Kafka and over HTTP
against one real `logbroker serve`: internal topics, keys on compacted topics, ListOffsets
MAX_TIMESTAMP, replication factor and deletion refusals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import NewTopic as KpNewTopic
from kafka.errors import InvalidRecordError, TopicAuthorizationFailedError
from kafka.structs import OffsetAndMetadata

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error, start_http_broker
from tests.interop.rawclient import RawClient

OFFSETS_TOPIC = "__consumer_offsets"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("core-rules"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def offsets_topic(served: BrokerProcess) -> str:
    """Make the broker create ``__consumer_offsets`` the normal way: a group commits an offset."""
    admin = KafkaAdminClient(bootstrap_servers=served.bootstrap)
    try:
        admin.create_topics([KpNewTopic("committed", 1, 1)])
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=served.bootstrap, group_id="rules-group", enable_auto_commit=False)
    try:
        tp = KpTopicPartition("committed", 0)
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(0, "", -1)})
    finally:
        consumer.close()
    return OFFSETS_TOPIC


def _offsets_end(served: BrokerProcess) -> int:
    api = Api(served.http_port)
    reply = api.get(f"/topics/{OFFSETS_TOPIC}")
    assert reply.status == 200, reply.body
    return sum(p["log_end_offset"] for p in reply.body["partitions"])


def test_confluent_cannot_produce_to_consumer_offsets(served: BrokerProcess, offsets_topic: str) -> None:
    before = _offsets_end(served)
    errors: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": served.bootstrap, "enable.idempotence": False, "retries": 0})
    producer.produce(offsets_topic, key=b"forged", value=b"x", partition=0,
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(30)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)
    assert _offsets_end(served) == before


def test_delete_records_of_consumer_offsets_is_refused(served: BrokerProcess, offsets_topic: str) -> None:
    with RawClient(served.port) as c:
        body = c.call(ApiKey.DELETE_RECORDS, 2, {"topics": [{"name": offsets_topic, "partitions": [
            {"partition_index": 0, "offset": -1}]}], "timeout_ms": 5000})
    assert body["topics"][0]["partitions"][0]["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION


def test_kafka_python_cannot_delete_consumer_offsets(served: BrokerProcess, offsets_topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=served.bootstrap)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            admin.delete_topics([offsets_topic], timeout_ms=10_000)
        assert offsets_topic in admin.list_topics()
    finally:
        admin.close()


def test_http_refuses_producing_to_and_deleting_consumer_offsets(served: BrokerProcess, offsets_topic: str) -> None:
    api = Api(served.http_port)
    assert_error(api.post(f"/topics/{offsets_topic}/records", {"records": [{"key": "k", "value": "v"}]}),
                 400, "INVALID_TOPIC_EXCEPTION")
    assert_error(api.delete(f"/topics/{offsets_topic}"), 403, "TOPIC_AUTHORIZATION_FAILED")
    assert api.get(f"/topics/{offsets_topic}").status == 200


def test_compacted_topic_refuses_a_record_without_key_over_kafka(served: BrokerProcess) -> None:
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    admin.create_topics([NewTopic("compacted-kafka", 1, 1, config={"cleanup.policy": "compact"})])["compacted-kafka"] \
        .result(30)
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


def test_compacted_topic_refuses_a_record_without_key_over_http(served: BrokerProcess) -> None:
    api = Api(served.http_port)
    api.create_topic("compacted-http", partitions=2, configs={"cleanup.policy": "compact,delete"})
    reply = api.post("/topics/compacted-http/records",
                     {"records": [{"key": "a", "value": "1", "partition": 0}, {"value": "2", "partition": 1}]})
    assert_error(reply, 400, "INVALID_RECORD")
    assert "Compacted topic cannot accept message without key" in reply.body["message"]
    described = api.get("/topics/compacted-http").body
    assert [p["log_end_offset"] for p in described["partitions"]] == [0, 0]  # refused whole
    assert api.post("/topics/compacted-http/records", {"records": [{"key": "a", "value": "1"}]}).status == 200


def test_empty_cleanup_policy_is_accepted(served: BrokerProcess) -> None:
    api = Api(served.http_port)
    api.create_topic("keep-forever", configs={"cleanup.policy": ""})
    configs = {c["name"]: c["value"] for c in api.get("/topics/keep-forever").body["configs"]}
    assert configs["cleanup.policy"] == ""
    assert api.post("/topics/keep-forever/records", {"records": [{"value": "no key is fine"}]}).status == 200


def test_list_offsets_max_timestamp_names_the_record_not_its_batch(served: BrokerProcess) -> None:
    api = Api(served.http_port)
    api.create_topic("max-ts")
    base = 1_700_000_000_000
    # One batch of five records; the largest timestamp is on the fourth (offset 3).
    records = [{"value": f"v{i}", "timestamp": base + ts} for i, ts in enumerate([10, 30, 20, 50, 40])]
    assert api.post("/topics/max-ts/records", {"records": records}).status == 200
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    tp = TopicPartition("max-ts", 0)
    deadline = time.monotonic() + 30
    while True:
        try:
            result = admin.list_offsets({tp: OffsetSpec.max_timestamp()})[tp].result(30)  # type: ignore[no-untyped-call]
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert (result.offset, result.timestamp) == (3, base + 50)


def test_replication_factor_above_one_is_refused_on_both_fronts(served: BrokerProcess) -> None:
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    future = admin.create_topics([NewTopic("rf3", 1, 3)])["rf3"]
    with pytest.raises(Exception) as raised:
        future.result(30)
    assert raised.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    api = Api(served.http_port)
    assert_error(api.post("/topics", {"name": "rf3", "replication_factor": 3}), 400, "INVALID_REPLICATION_FACTOR")
    assert api.get("/topics/rf3").status == 404
