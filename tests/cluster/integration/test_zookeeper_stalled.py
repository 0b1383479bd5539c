"""A stalled ZooKeeper (its process stopped with SIGSTOP) holds a cluster broker's client-quota,
SCRAM-credential and topic admin requests no longer than ``request.timeout.ms``: they answer
REQUEST_TIMED_OUT with a log line, while the broker keeps serving produce and fetch for the partition
it leads. The log line of an admin request comes from its worker thread, whose ZooKeeper call itself
ended at the deadline (before, the request stopped waiting after 30 s and left the thread blocked).
Once ZooKeeper runs again each kind of request works, and a user made through one broker logs in on
another.

The brokers' ZooKeeper sessions last ``SESSION_MS``: kazoo notices a silent server only when a ping
goes unanswered (a third to two thirds of the session timeout), so within the pause only the
broker's own deadline can end the requests in time; the session outlives the pause.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Producer
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import UserScramCredentialUpsertion
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import ZooKeeperPause, three_brokers, wait_until
from tests.cluster.integration.test_credentials_zookeeper import SASL, _logs_in
from tests.cluster.integration.test_replication import create_topic
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

TOPIC = "steady"
LIMIT_MS = 2000  # request.timeout.ms of the brokers
ANSWER_BOUND_S = LIMIT_MS / 1000 + 2.0  # the limit, plus scheduling on a busy 2-core machine
SESSION_MS = 45000  # kazoo's first unanswered ping comes 15 s into the pause at the earliest
RECORDS = 20


def _quota(value: float) -> dict[str, Any]:
    return {"entries": [{"entity": [{"entity_type": "user", "entity_name": "stalled"}],
                         "ops": [{"key": "producer_byte_rate", "value": value, "remove": False}]}],
            "validate_only": False}


_SCRAM = {"deletions": [], "upsertions": [{"name": "stalled", "mechanism": 2, "iterations": 8192,
                                           "salt": b"salt" * 4, "salted_password": b"p" * 64}]}


def _timed(call: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    answer = call()
    return time.monotonic() - start, answer


def _produce(bootstrap: str, values: list[bytes]) -> list[int]:
    """acks=all, not idempotent (a producer id would be claimed from ZooKeeper); the offsets acknowledged."""
    acked: list[int] = []
    errors: list[KafkaError] = []

    def done(err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg.offset())

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                  "message.timeout.ms": 15000, "linger.ms": 5})
    for v in values:
        p.produce(TOPIC, v, callback=done)
    assert p.flush(20) == 0, "records left unacknowledged"
    assert not errors, errors
    return acked


def _fetch(bootstrap: str, count: int) -> list[bytes]:
    """Read the partition from its start, assigned: no group, so no coordinator is asked for."""
    tp = KafkaTopicPartition(TOPIC, 0)
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    c.assign([tp])
    c.seek(tp, 0)
    out: list[bytes] = []
    deadline = time.monotonic() + 20
    try:
        while len(out) < count and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                out.extend(r.value for r in records)
    finally:
        c.close()
    return out


@pytest.mark.slow
def test_quota_and_credential_requests_answer_in_time_while_zookeeper_is_stalled(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path,
        zookeeper_pause: ZooKeeperPause) -> None:
    overrides = {**SASL, "zookeeper.session.timeout.ms": str(SESSION_MS), "request.timeout.ms": str(LIMIT_MS)}
    with three_brokers(zookeeper, tmp_path, **overrides) as c:
        create_topic(c.bootstrap, TOPIC)
        wait_until(lambda: len(c.state(zk_client, TOPIC, 0)["isr"]) == 3, 30, "the ISR of three")
        leader_id = int(c.state(zk_client, TOPIC, 0)["leader"])
        leader = c.brokers[leader_id]
        other = c.brokers[next(i for i in c.brokers if i != leader_id)]
        with RawClient(leader.port) as raw:
            wait_for_leaders(raw, TOPIC, 1)
            assert raw.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _quota(1000))["entries"][0]["error_code"] == 0
        assert _produce(leader.bootstrap, [b"before"]) == [0]

        zookeeper_pause.stop(zookeeper)
        stalled_at = time.monotonic()
        with RawClient(leader.port) as raw:
            raw.sock.settimeout(60)
            took_quota, quota = _timed(lambda: raw.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _quota(2000)))
            took_scram, scram = _timed(lambda: raw.call(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, 0, _SCRAM))
            took_describe, described = _timed(lambda: raw.call(ApiKey.DESCRIBE_CLIENT_QUOTAS, 1,
                                                                {"components": [], "strict": False}))
            took_create, created = _timed(lambda: raw.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
                {"name": "stalled-new", "num_partitions": 1, "replication_factor": 1, "assignments": [],
                 "configs": []}], "timeout_ms": 30000, "validate_only": False}))
            took_grow, grown = _timed(lambda: raw.call(ApiKey.CREATE_PARTITIONS, 3, {"topics": [
                {"name": TOPIC, "count": 2, "assignments": None}], "timeout_ms": 30000, "validate_only": False}))
        took = {"AlterClientQuotas": round(took_quota, 2), "AlterUserScramCredentials": round(took_scram, 2),
                "DescribeClientQuotas": round(took_describe, 2), "CreateTopics": round(took_create, 2),
                "CreatePartitions": round(took_grow, 2)}
        assert quota["entries"][0]["error_code"] == ErrorCode.REQUEST_TIMED_OUT, quota
        assert "did not answer within 2.0s" in quota["entries"][0]["error_message"], quota
        assert scram["results"][0]["error_code"] == ErrorCode.REQUEST_TIMED_OUT, scram
        assert described["error_code"] == ErrorCode.REQUEST_TIMED_OUT, described
        assert created["topics"][0]["error_code"] == ErrorCode.REQUEST_TIMED_OUT, created
        assert grown["results"][0]["error_code"] == ErrorCode.REQUEST_TIMED_OUT, grown
        assert max(took.values()) < ANSWER_BOUND_S, took
        # Meanwhile the leader takes and serves records: neither path waits on ZooKeeper.
        values = [b"during-%d" % i for i in range(RECORDS)]
        started = time.monotonic()
        assert _produce(leader.bootstrap, values) == list(range(1, RECORDS + 1))
        assert _fetch(leader.bootstrap, RECORDS + 1) == [b"before", *values]
        served_in = time.monotonic() - started
        assert served_in < 10, f"produce and fetch took {served_in:.1f}s with ZooKeeper stalled"
        stalled_for = time.monotonic() - stalled_at
        assert stalled_for < SESSION_MS / 1000 / 2, f"the pause lasted {stalled_for:.1f}s: sessions at risk"
        logged = leader.log_path.read_text()
        assert "ZooKeeper did not answer within 2.0s" in logged
        # Said by the admin requests' worker threads as their ZooKeeper calls gave up: the threads ended.
        assert "topic stalled-new not created: ZooKeeper did not answer within 2.0s" in logged
        assert f"partitions of {TOPIC} not added: ZooKeeper did not answer within 2.0s" in logged
        zookeeper_pause.resume()

        # ZooKeeper runs again: the same requests work, and a user made through the leader logs in elsewhere.
        def altered() -> bool:
            with RawClient(leader.port) as raw:
                raw.sock.settimeout(60)
                return bool(raw.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, _quota(3000))["entries"][0]["error_code"] == 0)

        wait_until(altered, 30, "AlterClientQuotas answered once ZooKeeper runs")
        admin = KafkaAdminClient(bootstrap_servers=leader.bootstrap)
        try:
            admin.alter_user_scram_credentials([UserScramCredentialUpsertion("after", "SCRAM-SHA-512", "pw-after")])
        finally:
            admin.close()
        wait_until(lambda: _logs_in(other, "after", "pw-after"), 30, "the new user logging in on another broker")
        for b in c.brokers.values():
            assert "Traceback" not in b.log_path.read_text(), b.log_path
