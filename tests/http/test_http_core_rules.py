"""The core's rules over logbroker's HTTP API: the same answers as over the Kafka protocol
(``tests/interop/test_core_rules.py``, which Apache Kafka passes too), in HTTP's form."""

from __future__ import annotations

from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.structs import OffsetAndMetadata

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error

OFFSETS_TOPIC = "__consumer_offsets"


def _commit(broker: BrokerProcess, api: Api) -> None:
    api.create_topic("committed")
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="rules-group", enable_auto_commit=False)
    try:
        tp = KpTopicPartition("committed", 0)
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(0, "", -1)})
    finally:
        consumer.close()


def test_producing_to_consumer_offsets_is_refused_and_deleting_it_is_not(http_broker: BrokerProcess,
                                                                         api: Api) -> None:
    _commit(http_broker, api)
    assert api.get("/groups/rules-group").status == 200
    assert_error(api.post(f"/topics/{OFFSETS_TOPIC}/records", {"records": [{"key": "k", "value": "v"}]}),
                 400, "INVALID_TOPIC_EXCEPTION")
    # As Kafka 4.1's DeleteTopics: the topic goes, with every committed offset.
    assert api.delete(f"/topics/{OFFSETS_TOPIC}").status == 204
    assert api.get(f"/topics/{OFFSETS_TOPIC}").status == 404
    assert_error(api.get("/groups/rules-group"), 404)  # the group and its offsets went with the topic


def test_compacted_topic_refuses_a_record_without_key(api: Api) -> None:
    api.create_topic("compacted-http", partitions=2, configs={"cleanup.policy": "compact,delete"})
    reply = api.post("/topics/compacted-http/records",
                     {"records": [{"key": "a", "value": "1", "partition": 0}, {"value": "2", "partition": 1}]})
    assert_error(reply, 400, "INVALID_RECORD")
    assert "Compacted topic cannot accept message without key" in reply.body["message"]
    described = api.get("/topics/compacted-http").body
    assert [p["log_end_offset"] for p in described["partitions"]] == [0, 0]  # refused whole
    assert api.post("/topics/compacted-http/records", {"records": [{"key": "a", "value": "1"}]}).status == 200


def test_empty_cleanup_policy_is_accepted(api: Api) -> None:
    api.create_topic("keep-forever", configs={"cleanup.policy": ""})
    configs = {c["name"]: c["value"] for c in api.get("/topics/keep-forever").body["configs"]}
    assert configs["cleanup.policy"] == ""
    assert api.post("/topics/keep-forever/records", {"records": [{"value": "no key is fine"}]}).status == 200


def test_replication_factor_above_one_is_refused(api: Api) -> None:
    assert_error(api.post("/topics", {"name": "rf3", "replication_factor": 3}), 400, "INVALID_REPLICATION_FACTOR")
    assert api.get("/topics/rf3").status == 404
