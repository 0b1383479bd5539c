"""A cluster keeps its ACLs in ZooKeeper, in Kafka's znodes, and every broker applies an ACL made
through any one of them; a restarted broker reads them back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.cluster.conftest import LAG_MS, Cluster, wait_until
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
ANON = "User:ANONYMOUS"


def acl(rtype: int, name: str, pattern: int, op: int) -> dict[str, object]:
    return {"resource_type": rtype, "resource_name": name, "resource_pattern_type": pattern, "principal": ANON,
            "host": "*", "operation": op, "permission_type": 3}


def batch() -> bytes:
    return build_batch([RecordInput(key=b"k", value=b"v", timestamp=int(time.time() * 1000))])


def topic_error(port: int, topic: str) -> int:
    with RawClient(port) as c:
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": topic, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
    return int(meta["topics"][0]["error_code"])


@pytest.mark.slow
def test_an_acl_made_on_one_broker_applies_on_the_other_and_survives_a_restart(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    c = Cluster(zookeeper, tmp_path)
    try:
        admin = c.add(1, authorizer_class_name=AUTHORIZER, super_users=ANON)
        other = c.add(2, authorizer_class_name=AUTHORIZER)
        assert topic_error(other.port, "shared.t") == ErrorCode.TOPIC_AUTHORIZATION_FAILED
        with RawClient(admin.port) as a:
            created = a.call(ApiKey.CREATE_ACLS, 3, {"creations": [
                acl(4, "kafka-cluster", 3, 9),  # CLUSTER_ACTION: the brokers replicate as ANONYMOUS here
                acl(2, "shared.", 4, 2)]})       # ALL on topics prefixed shared.
            assert [r["error_code"] for r in created["results"]] == [0, 0]
        # Kafka's znodes and JSON.
        doc = json.loads(zk_client.get("/kafka-acl-extended/prefixed/Topic/shared.")[0])
        assert doc == {"version": 1, "acls": [{"principal": ANON, "permissionType": "Allow", "operation": "All",
                                               "host": "*"}]}
        assert json.loads(zk_client.get("/kafka-acl/Cluster/kafka-cluster")[0])["acls"][0]["operation"] == \
            "ClusterAction"
        assert zk_client.get_children("/kafka-acl-extended-changes")
        # The other broker hears of it: the topic is no longer hidden (it does not exist yet).
        wait_until(lambda: topic_error(other.port, "shared.t") == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 20,
                   "the ACL to reach broker 2")
        assert topic_error(other.port, "private.t") == ErrorCode.TOPIC_AUTHORIZATION_FAILED
        other.restart()
        assert topic_error(other.port, "shared.t") == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        # Followers fetch with CLUSTER_ACTION: a replicated topic keeps both brokers in its ISR past the
        # lag bound after a write (a refused follower would drop out of it). No broker has super users now.
        admin.overrides.pop("super.users")
        admin.restart()
        with RawClient(other.port) as a:
            made = a.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
                {"name": "shared.r", "num_partitions": 1, "replication_factor": 2, "assignments": [],
                 "configs": []}], "timeout_ms": 10000, "validate_only": False})
            assert made["topics"][0]["error_code"] == 0
        state = wait_until(lambda: c.state(zk_client, "shared.r", 0), 20, "the partition state")
        assert isinstance(state, dict)
        leader = c.brokers[state["leader"]]
        with RawClient(leader.port) as p:
            wait_until(lambda: p.call(ApiKey.PRODUCE, 9, {"acks": -1, "timeout_ms": 10000, "transactional_id": None,
                                                          "topic_data": [{"name": "shared.r", "partition_data": [
                                                              {"index": 0, "records": batch()}]}]}
                                      )["responses"][0]["partition_responses"][0]["error_code"] == 0, 20, "a write")
        time.sleep(LAG_MS / 1000 + 1.5)
        assert sorted(c.state(zk_client, "shared.r", 0)["isr"]) == [1, 2]
        admin.overrides["super.users"] = ANON
        admin.restart()
        with RawClient(admin.port) as a:
            deleted = a.call(ApiKey.DELETE_ACLS, 3, {"filters": [
                {"resource_type_filter": 2, "resource_name_filter": "shared.", "pattern_type_filter": 4,
                 "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1}]})
            assert len(deleted["filter_results"][0]["matching_acls"]) == 1
        assert not zk_client.exists("/kafka-acl-extended/prefixed/Topic/shared.")
        wait_until(lambda: topic_error(other.port, "shared.t") == ErrorCode.TOPIC_AUTHORIZATION_FAILED, 20,
                   "the deletion to reach broker 2")
    finally:
        c.stop_all()
