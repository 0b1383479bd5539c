"""The admin APIs a single-node Kafka 4.x serves, through real admin clients and the raw client:
DescribeTopicPartitions, DescribeLogDirs, AlterReplicaLogDirs, ListConfigResources,
DescribeProducers, List/DescribeTransactions, ElectLeaders, partition reassignments, the ACL APIs
without an authorizer, authorized operations, DeleteRecords' negative offsets, and an API that is
not served being answered rather than dropped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import ElectionNotNeededError, SecurityDisabledError, TransactionalIdNotFoundError
from kafka.structs import TopicPartitionReplica

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers.acls import CLUSTER_OPERATIONS, TOPIC_OPERATIONS, bit_field
from tests.conftest import BrokerProcess
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("admin-apis")
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def admin(shared_broker: BrokerProcess) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=shared_broker.bootstrap)
    client.create_topics([NewTopic("five", 5, 1), NewTopic("one", 1, 1)])
    producer = KafkaProducer(bootstrap_servers=shared_broker.bootstrap)  # idempotent by default
    for i in range(20):
        producer.send("one", b"v%d" % i, partition=0)
    producer.flush()
    producer.close()
    yield client
    client.close()


def test_describe_topic_partitions_pages_with_a_cursor(admin: KafkaAdminClient) -> None:
    whole = admin.describe_topic_partitions(["five", "one"])
    assert [t["name"] for t in whole["topics"]] == ["five", "one"] and whole["next_cursor"] is None
    assert [p["partition_index"] for p in whole["topics"][0]["partitions"]] == [0, 1, 2, 3, 4]
    assert whole["topics"][0]["topic_authorized_operations"] == bit_field(TOPIC_OPERATIONS)
    seen: list[tuple[str, int]] = []
    cursor = None
    for _ in range(10):
        page = admin.describe_topic_partitions(["five", "one"], response_partition_limit=2, cursor=cursor)
        seen += [(t["name"], p["partition_index"]) for t in page["topics"] for p in t["partitions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [("five", i) for i in range(5)] + [("one", 0)]


def test_describe_topic_partitions_of_an_unknown_topic(shared_broker: BrokerProcess) -> None:
    with RawClient(shared_broker.port) as c:
        body = c.call(ApiKey.DESCRIBE_TOPIC_PARTITIONS, 0, {"topics": [{"name": "nope"}],
                                                            "response_partition_limit": 10, "cursor": None})
    assert body["topics"][0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_describe_log_dirs_reports_partition_sizes(admin: KafkaAdminClient, shared_broker: BrokerProcess) -> None:
    result = admin.describe_log_dirs()
    assert len(result) == 1
    dirs = result[0]["log_dirs"]
    assert len(dirs) == 1 and dirs[0]["error_code"] == 0
    assert dirs[0]["log_dir"] == str((shared_broker.data_dir).resolve())
    sizes = {(t["name"], p["partition_index"]): p["partition_size"] for t in dirs[0]["topics"]
             for p in t["partitions"]}
    assert sizes[("one", 0)] > 0 and sizes[("five", 0)] == 0
    moved = admin.alter_replica_log_dirs({TopicPartitionReplica("one", 0, result[0]["broker"]): dirs[0]["log_dir"]})
    assert all(error.errno == 0 for error in moved.values())


def test_list_config_resources_lists_topics_and_the_broker(admin: KafkaAdminClient) -> None:
    result = admin.list_config_resources()
    assert {"five", "one"} <= set(result["topic"]) and "0" in result["broker"]


def test_describe_producers_shows_the_idempotent_producer(admin: KafkaAdminClient) -> None:
    result = admin.describe_producers([TopicPartition("one", 0), TopicPartition("five", 1)])
    active = result[TopicPartition("one", 0)].active_producers
    assert len(active) == 1 and active[0].producer_id >= 0 and active[0].last_sequence == 19
    assert result[TopicPartition("five", 1)].active_producers == []


def test_transactions_are_listed_as_none(admin: KafkaAdminClient, shared_broker: BrokerProcess) -> None:
    listed = admin.list_transactions()  # per broker
    assert list(listed) == [0] and not listed[0]
    with pytest.raises(TransactionalIdNotFoundError):
        admin.describe_transactions(["never-used"])
    with RawClient(shared_broker.port) as c:
        body = c.call(ApiKey.LIST_TRANSACTIONS, 1, {"state_filters": ["Ongoing", "Bogus"], "producer_id_filters": [],
                                                    "duration_filter": -1})
    assert body["error_code"] == 0 and body["unknown_state_filters"] == ["Bogus"]


def test_elect_leaders_is_never_needed(admin: KafkaAdminClient) -> None:
    response = admin.elect_leaders(0, {"five": [0, 1]}, raise_errors=False)
    [(topic, partitions)] = [(r[0], r[1]) for r in response.replica_election_results]
    assert topic == "five" and {(p[0], p[1]) for p in partitions} == {(0, ElectionNotNeededError.errno),
                                                                      (1, ElectionNotNeededError.errno)}


def test_partition_reassignments(admin: KafkaAdminClient, shared_broker: BrokerProcess) -> None:
    assert not admin.list_partition_reassignments()
    with RawClient(shared_broker.port) as c:
        body = c.call(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, {"timeout_ms": 1000, "topics": [
            {"name": "five", "partitions": [{"partition_index": 0, "replicas": [0]},
                                            {"partition_index": 1, "replicas": [0, 1]},
                                            {"partition_index": 2, "replicas": None}]}]})
    errors = [p["error_code"] for p in body["responses"][0]["partitions"]]
    assert errors == [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS]


def test_acl_apis_answer_security_disabled(admin: KafkaAdminClient, shared_broker: BrokerProcess) -> None:
    # No authorizer is configured, so Kafka answers every ACL API with SECURITY_DISABLED.
    everything = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                           permission_type=ACLPermissionType.ANY,
                           resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, "one",
                                                                  ACLResourcePatternType.LITERAL))
    with pytest.raises(SecurityDisabledError):
        admin.describe_acls(everything)
    with RawClient(shared_broker.port) as c:
        created = c.call(ApiKey.CREATE_ACLS, 3, {"creations": [
            {"resource_type": 2, "resource_name": "one", "resource_pattern_type": 3, "principal": "User:a",
             "host": "*", "operation": 3, "permission_type": 3}]})
        deleted = c.call(ApiKey.DELETE_ACLS, 3, {"filters": [
            {"resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1,
             "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1}]})
    assert created["results"][0]["error_code"] == ErrorCode.SECURITY_DISABLED
    assert deleted["filter_results"][0]["error_code"] == ErrorCode.SECURITY_DISABLED


def test_authorized_operations_when_asked(shared_broker: BrokerProcess) -> None:
    client = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    cluster = client.describe_cluster(include_authorized_operations=True, request_timeout=10).result()
    assert {op.name for op in cluster.authorized_operations} == {op.name for op in CLUSTER_OPERATIONS}
    with RawClient(shared_broker.port) as c:
        asked = c.call(ApiKey.METADATA, 12, {"topics": [{"name": "one", "topic_id": None}],
                                             "allow_auto_topic_creation": False,
                                             "include_topic_authorized_operations": True})
        not_asked = c.call(ApiKey.METADATA, 12, {"topics": [{"name": "one", "topic_id": None}],
                                                 "allow_auto_topic_creation": False,
                                                 "include_topic_authorized_operations": False})
    assert asked["topics"][0]["topic_authorized_operations"] == bit_field(TOPIC_OPERATIONS)
    assert not_asked["topics"][0]["topic_authorized_operations"] == -2**31


def test_delete_records_refuses_negative_offsets_but_minus_one(shared_broker: BrokerProcess,
                                                                admin: KafkaAdminClient) -> None:
    with RawClient(shared_broker.port) as c:
        body = c.call(ApiKey.DELETE_RECORDS, 2, {"timeout_ms": 5000, "topics": [
            {"name": "five", "partitions": [{"partition_index": 0, "offset": -5},
                                            {"partition_index": 1, "offset": -1}]}]})
    errors = [p["error_code"] for p in body["topics"][0]["partitions"]]
    assert errors == [ErrorCode.OFFSET_OUT_OF_RANGE, 0]


def test_an_api_that_is_not_served_is_answered_not_dropped(shared_broker: BrokerProcess) -> None:
    with RawClient(shared_broker.port) as c:
        advertised = c.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "raw", "client_software_version": "1"})
        assert ApiKey.DESCRIBE_QUORUM not in {k["api_key"] for k in advertised["api_keys"]}
        body = c.call(ApiKey.DESCRIBE_QUORUM, 1, {"topics": [{"topic_name": "__cluster_metadata",
                                                              "partitions": [{"partition_index": 0}]}]})
        assert body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
        assert c.call(ApiKey.METADATA, 12, {"topics": None, "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})["brokers"]
