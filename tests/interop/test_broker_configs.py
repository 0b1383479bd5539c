"""DescribeConfigs on the broker resource (Kafka's types, sources, synonyms) and dynamic broker configs
set with IncrementalAlterConfigs/AlterConfigs, through kafka-python, confluent-kafka and the raw client."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, NewTopic

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerProcess
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.interop
BROKER = 4


def describe(bootstrap: str, kind: ConfigResourceType, name: str) -> dict[str, dict[str, Any]]:
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        result = admin.describe_configs([KpConfigResource(kind, name)], include_synonyms=True, config_filter="all")
    return dict(next(iter(next(iter(result.values())).values())))


def set_this_broker(bootstrap: str, key: str, value: str | None) -> None:
    client = AdminClient({"bootstrap.servers": bootstrap})
    op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    resource = ConfigResource(ResourceType.BROKER, "0",
                              incremental_configs=[ConfigEntry(key, value, incremental_operation=op)])
    client.incremental_alter_configs([resource], request_timeout=10)[resource].result()


def raw_incremental(port: int, name: str, key: str, value: str) -> dict[str, Any]:
    with RawClient(port) as c:
        body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"validate_only": False, "resources": [
            {"resource_type": BROKER, "resource_name": name,
             "configs": [{"name": key, "config_operation": 0, "value": value}]}]})
    return dict(body["responses"][0])


def test_broker_entries_have_kafka_types_and_sources(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(log_retention_hours="24")
    entries = describe(broker.bootstrap, ConfigResourceType.BROKER, "0")
    hours = entries["log.retention.hours"]
    # Only the main property of each topic default is dynamic: log.retention.ms, not its synonyms.
    assert (hours["value"], hours["config_source"], hours["read_only"]) == ("24", "STATIC_BROKER_CONFIG", True)
    assert entries["log.retention.ms"]["read_only"] is False
    assert entries["num.partitions"]["read_only"] is True
    assert entries["log.retention.ms"]["value"] is None  # set through its synonym, as in Kafka
    assert hours["synonyms"][0] == {"name": "log.retention.hours", "value": "24", "source": "STATIC_BROKER_CONFIG"}
    types = {name: entries[name]["config_type"] for name in ("num.partitions", "log.retention.ms",
                                                              "log.cleanup.policy", "auto.create.topics.enable",
                                                              "advertised.listeners")}
    assert types == {"num.partitions": "INT", "log.retention.ms": "LONG", "log.cleanup.policy": "LIST",
                     "auto.create.topics.enable": "BOOLEAN", "advertised.listeners": "STRING"}


def test_dynamic_broker_configs_apply_to_topics_and_survive_a_restart(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory()
    with KafkaAdminClient(bootstrap_servers=broker.bootstrap) as admin:
        admin.create_topics([NewTopic("dyn", 1, 1)])
    set_this_broker(broker.bootstrap, "log.retention.ms", "1234567")
    assert raw_incremental(broker.port, "", "log.segment.bytes", "2097152")["error_code"] == 0
    entries = describe(broker.bootstrap, ConfigResourceType.BROKER, "0")
    assert entries["log.retention.ms"]["config_source"] == "DYNAMIC_BROKER_CONFIG"
    assert entries["log.retention.ms"]["synonyms"][0] == {"name": "log.retention.ms", "value": "1234567",
                                                          "source": "DYNAMIC_BROKER_CONFIG"}
    assert entries["log.segment.bytes"]["config_source"] == "DYNAMIC_DEFAULT_BROKER_CONFIG"
    with RawClient(broker.port) as c:
        default = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": BROKER, "resource_name": "", "configuration_keys": None}],
            "include_synonyms": False, "include_documentation": False})["results"][0]
    assert default["error_code"] == 0
    # Kafka 4.1's KRaft controller also keeps a cluster-wide min.insync.replicas there (written when
    # the storage is formatted); logbroker lists only what was set.
    listed = {e["name"]: e["value"] for e in default["configs"]}
    assert listed["log.segment.bytes"] == "2097152" and set(listed) <= {"log.segment.bytes", "min.insync.replicas"}
    topic = describe(broker.bootstrap, ConfigResourceType.TOPIC, "dyn")
    assert (topic["retention.ms"]["value"], topic["segment.bytes"]["value"]) == ("1234567", "2097152")
    assert topic["retention.ms"]["config_source"] == "DYNAMIC_BROKER_CONFIG"
    assert topic["segment.bytes"]["config_source"] == "DYNAMIC_DEFAULT_BROKER_CONFIG"

    broker.restart()
    assert describe(broker.bootstrap, ConfigResourceType.TOPIC, "dyn")["retention.ms"]["value"] == "1234567"
    set_this_broker(broker.bootstrap, "log.retention.ms", None)
    assert describe(broker.bootstrap, ConfigResourceType.TOPIC, "dyn")["retention.ms"]["value"] == "604800000"


def test_read_only_and_foreign_broker_configs_are_refused(broker: BrokerProcess) -> None:
    """Kafka answers INVALID_REQUEST for every refused change of a BROKER resource."""
    for name, key in (("0", "num.partitions"), ("", "num.partitions"), ("0", "log.retention.hours")):
        read_only = raw_incremental(broker.port, name, key, "3")
        assert read_only["error_code"] == ErrorCode.INVALID_REQUEST and "dynamically" in read_only["error_message"]
        assert key in read_only["error_message"]
    for key, bad in (("log.retention.ms", "abc"), ("log.segment.bytes", "1000")):
        invalid = raw_incremental(broker.port, "0", key, bad)
        assert invalid["error_code"] == ErrorCode.INVALID_REQUEST and bad in invalid["error_message"]
    foreign = raw_incremental(broker.port, "7", "log.retention.ms", "1000")
    assert foreign["error_code"] == ErrorCode.INVALID_REQUEST
    assert describe(broker.bootstrap, ConfigResourceType.BROKER, "0")["num.partitions"]["value"] == "1"
