"""A cluster broker's administrative ZooKeeper writes never stall its event loop.

ZooKeeper is reached through a proxy that holds every request back ``DELAY_S``: CreateTopics,
DeleteTopics, CreatePartitions, ElectLeaders, AlterPartitionReassignments, a producer-id block
claim (InitProducerId), AlterUserScramCredentials, AlterClientQuotas, DescribeClientQuotas and
CreateAcls each wait on ZooKeeper that long
or more, while ApiVersions round trips on another connection keep being answered within a fraction
of it. Written on the event loop, one such write would hold every other request back ``DELAY_S``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.delay_proxy import DelayProxy
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

DELAY_S = 1.5  # every ZooKeeper request of the broker, while the admin requests run
MAX_ROUND_TRIP_S = DELAY_S / 2  # an ApiVersions round trip, meanwhile (no ZooKeeper involved)
ANON = "User:ANONYMOUS"


def _acl(name: str) -> dict[str, object]:
    return {"resource_type": 2, "resource_name": name, "resource_pattern_type": 3, "principal": ANON,
            "host": "*", "operation": 3, "permission_type": 3}  # ALLOW READ on a literal topic


def _admin_requests(port: int) -> dict[str, Callable[[], dict[str, Any]]]:
    def call(api_key: int, version: int, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            with RawClient(port) as c:
                c.sock.settimeout(60)
                return c.call(api_key, version, body)
        return run

    return {
        # timeout_ms 0 here and for CreatePartitions: answered once the topic (or its new partitions)
        # is registered, without waiting for the controller to elect their leaders, which takes many
        # more passes over the slowed ZooKeeper (the assertions after check what was registered).
        "CreateTopics": call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": "made.slowly", "num_partitions": 2, "replication_factor": 1, "assignments": [],
             "configs": []}], "timeout_ms": 0, "validate_only": False}),
        # timeout_ms 0: answered once the topic is marked for deletion (Kafka's broker answers at once
        # then); the controller's part, several passes over the slowed ZooKeeper, is checked after.
        "DeleteTopics": call(ApiKey.DELETE_TOPICS, 5, {"topic_names": ["doomed"], "timeout_ms": 0}),
        "CreatePartitions": call(ApiKey.CREATE_PARTITIONS, 3, {"topics": [
            {"name": "grown", "count": 3, "assignments": None}], "timeout_ms": 0, "validate_only": False}),
        "ElectLeaders": call(ApiKey.ELECT_LEADERS, 2, {"election_type": 0, "topic_partitions": [
            {"topic": "grown", "partitions": [0]}], "timeout_ms": 60000}),
        "AlterPartitionReassignments": call(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, {
            "timeout_ms": 60000, "topics": [{"name": "grown", "partitions": [
                {"partition_index": 0, "replicas": [1]}]}]}),
        "InitProducerId": call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": None,
                                                             "transaction_timeout_ms": 60000,
                                                             "producer_id": -1, "producer_epoch": -1}),
        "AlterUserScramCredentials": call(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, 0, {"deletions": [], "upsertions": [
            {"name": "alice", "mechanism": 2, "iterations": 8192, "salt": b"salt" * 4,
             "salted_password": b"p" * 64}]}),
        "CreateAcls": call(ApiKey.CREATE_ACLS, 3, {"creations": [_acl("made.slowly")]}),
        "AlterClientQuotas": call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _QUOTA_ALTERATION),
        "DescribeClientQuotas": call(ApiKey.DESCRIBE_CLIENT_QUOTAS, 1, {"components": [], "strict": False}),
    }


_QUOTA_ALTERATION = {"entries": [{"entity": [{"entity_type": "user", "entity_name": "alice"}],
                                  "ops": [{"key": "producer_byte_rate", "value": 1024.0, "remove": False}]}],
                     "validate_only": False}


def test_admin_writes_wait_on_zookeeper_while_the_loop_keeps_serving(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    proxy = DelayProxy((zookeeper.host, zookeeper.port))
    c = Cluster(zookeeper, tmp_path)
    try:
        broker = c.add(1, zookeeper_connect=proxy.address, zookeeper_session_timeout_ms="20000",
                       zookeeper_connection_timeout_ms="20000",
                       authorizer_class_name="kafka.security.authorizer.AclAuthorizer", super_users=ANON)
        with RawClient(broker.port) as setup:
            for name, partitions in (("doomed", 1), ("grown", 1)):
                created = setup.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
                    {"name": name, "num_partitions": partitions, "replication_factor": 1, "assignments": [],
                     "configs": []}], "timeout_ms": 30000, "validate_only": False})
                assert created["topics"][0]["error_code"] == 0, created
                wait_for_leaders(setup, name, partitions)

        proxy.delay_s = DELAY_S
        round_trips: list[float] = []
        done = threading.Event()

        def probe() -> None:
            with RawClient(broker.port) as p:
                while not done.is_set():
                    start = time.monotonic()
                    p.call(ApiKey.API_VERSIONS, 0, {})
                    round_trips.append(time.monotonic() - start)
                    time.sleep(0.02)

        def timed(request: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
            start = time.monotonic()
            answer = request()
            return time.monotonic() - start, answer

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            time.sleep(0.3)
            requests = _admin_requests(broker.port)
            with ThreadPoolExecutor(len(requests)) as pool:
                futures = {name: pool.submit(timed, fn) for name, fn in requests.items()}
                outcomes = {name: f.result(timeout=120) for name, f in futures.items()}
        finally:
            done.set()
            prober.join(timeout=30)
            proxy.delay_s = 0

        # Each request waited on the slowed ZooKeeper...
        slow = {name: round(took, 2) for name, (took, _) in outcomes.items()}
        assert all(took >= DELAY_S for took in slow.values()), slow
        # ...and did its work.
        answers = {name: answer for name, (_, answer) in outcomes.items()}
        assert answers["CreateTopics"]["topics"][0]["error_code"] == 0, answers["CreateTopics"]
        assert answers["DeleteTopics"]["responses"][0]["error_code"] == 0, answers["DeleteTopics"]
        assert answers["CreatePartitions"]["results"][0]["error_code"] == 0, answers["CreatePartitions"]
        assert answers["ElectLeaders"]["error_code"] == 0, answers["ElectLeaders"]
        assert answers["AlterPartitionReassignments"]["error_code"] == 0, answers["AlterPartitionReassignments"]
        assert answers["InitProducerId"]["error_code"] == 0 and answers["InitProducerId"]["producer_id"] >= 0
        assert answers["AlterUserScramCredentials"]["results"][0]["error_code"] == 0
        assert answers["CreateAcls"]["results"][0]["error_code"] == 0
        assert answers["AlterClientQuotas"]["entries"][0]["error_code"] == 0, answers["AlterClientQuotas"]
        assert answers["DescribeClientQuotas"]["error_code"] == 0, answers["DescribeClientQuotas"]
        assert json.loads(zk_client.get("/brokers/topics/made.slowly")[0])["partitions"].keys() == {"0", "1"}
        wait_until(lambda: zk_client.exists("/brokers/topics/doomed") is None, 60, "the controller deleting doomed")
        assert len(json.loads(zk_client.get("/brokers/topics/grown")[0])["partitions"]) == 3
        assert json.loads(zk_client.get("/latest_producer_id_block")[0])["broker"] == 1
        alice = json.loads(zk_client.get("/config/users/alice")[0])["config"]
        assert "SCRAM-SHA-512" in alice and alice["producer_byte_rate"] == "1024", alice
        assert zk_client.exists("/kafka-acl/Topic/made.slowly") is not None
        # Meanwhile the event loop answered everything else at once.
        assert len(round_trips) > 20, round_trips
        assert max(round_trips) < MAX_ROUND_TRIP_S, (f"an ApiVersions round trip took {max(round_trips):.2f}s "
                                                     f"while ZooKeeper answered in {DELAY_S}s; took {slow}")
        assert broker.proc is not None and broker.proc.poll() is None
    finally:
        c.stop_all()
        proxy.close()


def test_admin_requests_without_zookeeper_answer_request_timed_out_and_work_again_after(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    proxy = DelayProxy((zookeeper.host, zookeeper.port))
    c = Cluster(zookeeper, tmp_path)
    try:
        broker = c.add(1, zookeeper_connect=proxy.address)
        proxy.cut()
        with RawClient(broker.port) as raw:
            raw.sock.settimeout(60)
            body = {"topics": [{"name": "unreachable", "num_partitions": 1, "replication_factor": 1,
                                "assignments": [], "configs": []}], "timeout_ms": 30000, "validate_only": False}
            refused = raw.call(ApiKey.CREATE_TOPICS, 7, body)["topics"][0]
            assert refused["error_code"] == ErrorCode.REQUEST_TIMED_OUT, refused
            quota = raw.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _QUOTA_ALTERATION)["entries"][0]
            assert quota["error_code"] == ErrorCode.REQUEST_TIMED_OUT and quota["error_message"], quota
            described = raw.call(ApiKey.DESCRIBE_CLIENT_QUOTAS, 1, {"components": [], "strict": False})
            assert described["error_code"] == ErrorCode.REQUEST_TIMED_OUT, described
            assert raw.call(ApiKey.API_VERSIONS, 0, {})["error_code"] == 0  # the connection still serves
            proxy.heal()
            wait_until(lambda: raw.call(ApiKey.CREATE_TOPICS, 7, body)["topics"][0]["error_code"] == 0, 60,
                       "CreateTopics answered once ZooKeeper is back")
        assert zk_client.exists("/brokers/topics/unreachable") is not None
        with RawClient(broker.port) as raw:
            raw.sock.settimeout(60)
            assert raw.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _QUOTA_ALTERATION)["entries"][0]["error_code"] == 0
        assert json.loads(zk_client.get("/config/users/alice")[0])["config"] == {"producer_byte_rate": "1024"}
        assert "Traceback" not in broker.log_path.read_text()
    finally:
        c.stop_all()
        proxy.close()
