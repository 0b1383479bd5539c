"""The HTTP share-group queue API against any broker of a cluster. Membership is the group
coordinator's and each share-partition lives on its partition's leader (KIP-932): a request to any
broker is forwarded to the coordinator (``http/forwarding.py``), which serves the partitions it
leads itself and, for the others, acts for the member at their leaders with ShareFetch and
ShareAcknowledge (``cluster/share_forwarder.py``). Three real brokers, a topic whose three
partitions have three different leaders, every request made to a broker that does not coordinate
the group."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.groups.share_state import coordinator_key
from logbroker.http.forwarding import FORWARDED_BY
from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import three_brokers, wait_until
from tests.cluster.integration.test_share_groups import SHARE_CLUSTER, find
from tests.http.http_api import Api, Reply
from tests.interop.rawclient import RawClient
from tests.interop.share_member import topic_id

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and HTTP API (Kafka has neither)")

TOPIC = "tasks"
GROUP = "workers"
PARTITIONS = 3
PER_PARTITION = 8


def _coordinator(port: int, group: str) -> int:
    def found() -> int | None:
        with RawClient(port) as c:
            entry = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})["coordinators"][0]
        return int(entry["node_id"]) if entry["error_code"] == 0 else None

    node = wait_until(found, 30, f"a coordinator for {group}")
    assert isinstance(node, int)
    return node


def _receive(api: Api, member: str, n: int, wait_ms: int = 0) -> list[dict[str, Any]]:
    reply = api.get(f"/share-groups/{GROUP}/members/{member}/records?max={n}&wait_ms={wait_ms}")
    assert reply.status == 200, reply.body
    return list(reply.body["records"])


def _ack(api: Api, member: str, deliveries: list[tuple[str, str]]) -> list[str | None]:
    reply = api.post(f"/share-groups/{GROUP}/members/{member}/acks",
                     {"acks": [{"delivery_id": d, "type": kind} for d, kind in deliveries]})
    assert reply.status == 200, reply.body
    by_id = {r["delivery_id"]: r["error_code"] for r in reply.body["results"]}
    return [by_id[d] for d, _ in deliveries]


def _join(api: Api) -> str:
    """Join through ``api``; a broker that does not know the group's coordinator yet answers 503
    NOT_COORDINATOR, and the join is sent again, as a client does."""
    def joined_once() -> Reply | None:
        reply = api.post(f"/share-groups/{GROUP}/members", {"topics": [TOPIC], "auto_offset_reset": "earliest"})
        return None if (reply.status, reply.error_code) == (503, "NOT_COORDINATOR") else reply

    joined = wait_until(joined_once, 30, "a join the coordinator takes")
    assert isinstance(joined, Reply) and joined.status == 200, joined
    assert sorted(a["partition"] for a in joined.body["assignment"]) == list(range(PARTITIONS)), joined.body
    return str(joined.body["member_id"])


def _create_one_leader_each(port: int) -> None:
    """The topic, partition p led (and only held) by broker p + 1."""
    with RawClient(port) as c:
        created = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": TOPIC, "num_partitions": -1, "replication_factor": -1, "configs": [], "assignments": [
                {"partition_index": p, "broker_ids": [p + 1]} for p in range(PARTITIONS)]}],
            "timeout_ms": 30000, "validate_only": False})
    assert created["topics"][0]["error_code"] == 0, created


def _flush_in_background(producer: Producer) -> Callable[[], int]:
    """Flush on a thread of its own; the returned call waits for it and gives what remained unsent."""
    remaining: list[int] = []
    thread = threading.Thread(target=lambda: remaining.append(producer.flush(30)), daemon=True)
    thread.start()

    def result() -> int:
        thread.join(35)
        assert remaining, "the producer's flush did not return"
        return remaining[0]

    return result


@pytest.mark.slow
def test_an_http_share_member_reads_and_acknowledges_every_partition_through_any_broker(
        zookeeper: LocalZooKeeper, tmp_path: Path) -> None:
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER) as cluster:
        _create_one_leader_each(cluster.brokers[1].port)
        with RawClient(cluster.brokers[1].port) as c:
            tid = topic_id(c, TOPIC)
        # The share coordinators' topic exists and is led before the first share-partition is read back.
        assert find(cluster.brokers[1].port, coordinator_key(GROUP, tid, 0), 2)["error_code"] == 0
        coordinator = _coordinator(cluster.brokers[1].port, GROUP)
        asked = next(i for i in (1, 2, 3) if i != coordinator)
        api = Api(cluster.brokers[asked].http_port)
        member = _join(api)
        # A first receive starts every share-partition at its (empty) log's start on its leader.
        assert _receive(api, member, 10) == []
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
        for p in range(PARTITIONS):
            for i in range(PER_PARTITION):
                producer.produce(TOPIC, value=f"{p}-{i}".encode(), partition=p)
        flushed = _flush_in_background(producer)

        got: list[dict[str, Any]] = []

        def all_received() -> bool:
            got.extend(_receive(api, member, 50, wait_ms=500))
            return len(got) >= PARTITIONS * PER_PARTITION

        # Receiving while the producer flushes keeps the member's 6 s session alive however long the
        # acks=all round trips take on a loaded machine.
        wait_until(all_received, 60, "every record received through a broker that coordinates nothing")
        assert flushed() == 0
        now = int(time.time() * 1000)
        by_partition = {p: [r["value"] for r in got if r["partition"] == p] for p in range(PARTITIONS)}
        assert by_partition == {p: [f"{p}-{i}" for i in range(PER_PARTITION)] for p in range(PARTITIONS)}, got
        assert all(r["delivery_count"] == 1 and r["lock_expires_ms"] > now for r in got), got
        assert _receive(api, member, 50) == []  # everything is locked to the member
        # Described through any broker: every share-partition, as the leader holding it tells.
        desc = api.get(f"/share-groups/{GROUP}")
        assert desc.status == 200 and "errors" not in desc.body, desc.body
        assert [(s["partition"], s["acquired"], s["log_end_offset"]) for s in desc.body["partitions"]] == \
            [(p, PER_PARTITION, PER_PARTITION) for p in range(PARTITIONS)], desc.body
        grouped = api.get(f"/groups/{GROUP}")
        assert grouped.status == 200, grouped.body
        assert [(s["partition"], s["in_flight"]) for s in grouped.body["share_partitions"]] == \
            [(p, PER_PARTITION) for p in range(PARTITIONS)], grouped.body

        # Release one record of a partition led elsewhere than at the coordinator, accept the rest; an
        # acknowledgement of a delivery no longer held fails alone, the others in its request succeed.
        away = next(p for p in range(PARTITIONS) if p + 1 != coordinator)
        released = next(r for r in got if r["partition"] == away)
        rest = [r for r in got if r is not released]
        assert _ack(api, member, [(released["delivery_id"], "release")]) == [None]
        answers = _ack(api, member, [(released["delivery_id"], "accept")]
                       + [(r["delivery_id"], "accept") for r in rest])
        assert answers == ["INVALID_RECORD_STATE"] + [None] * len(rest), answers
        again = _receive(api, member, 10, wait_ms=2000)
        assert [(r["partition"], r["offset"], r["delivery_count"]) for r in again] == \
            [(away, released["offset"], 2)], again
        assert _ack(api, member, [(again[0]["delivery_id"], "accept")]) == [None]
        assert _receive(api, member, 10, wait_ms=300) == []

        # A member that leaves hands back what it holds at every leader at once.
        producer.produce(TOPIC, value=b"late", partition=away)
        flushed = _flush_in_background(producer)
        held: list[dict[str, Any]] = []

        def late_held() -> bool:
            held.extend(_receive(api, member, 10, wait_ms=500))
            return bool(held)

        wait_until(late_held, 30, "the late record received")
        assert flushed() == 0
        assert [(r["partition"], r["value"]) for r in held] == [(away, "late")], held
        left = api.call("DELETE", f"/share-groups/{GROUP}/members/{member}")
        assert left.status == 204, left.body
        other = _join(Api(cluster.brokers[coordinator].http_port))
        handed_back = _receive(api, other, 10, wait_ms=5000)
        assert [(r["partition"], r["value"], r["delivery_count"]) for r in handed_back] == [(away, "late", 2)], \
            handed_back

        # A member whose session expires at the coordinator (6 s here) hands back what it holds at the
        # other leaders too, long before the record's lock (120 s) would expire.
        third = _join(Api(cluster.brokers[coordinator].http_port))
        again_handed: list[dict[str, Any]] = []

        def redelivered() -> bool:
            again_handed.extend(_receive(api, third, 10, wait_ms=500))
            return bool(again_handed)

        wait_until(redelivered, 30, "the silent member's record handed to another")
        assert [(r["partition"], r["value"], r["delivery_count"]) for r in again_handed] == [(away, "late", 3)], \
            again_handed


def test_an_http_joins_auto_offset_reset_is_the_groups_config_at_every_leader(
        zookeeper: LocalZooKeeper, tmp_path: Path) -> None:
    """A join's ``auto_offset_reset`` is set as the group's ``share.auto.offset.reset`` where every
    broker reads it (ZooKeeper), so the leaders of the partitions the coordinator does not lead start
    their share-partitions at the log start too: records produced before the join are received."""
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER) as cluster:
        _create_one_leader_each(cluster.brokers[1].port)
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
        for p in range(PARTITIONS):
            producer.produce(TOPIC, value=f"{p}-early".encode(), partition=p)
        assert producer.flush(30) == 0
        coordinator = _coordinator(cluster.brokers[1].port, GROUP)
        asked = next(i for i in (1, 2, 3) if i != coordinator)
        api = Api(cluster.brokers[asked].http_port)
        member = _join(api)  # auto_offset_reset earliest
        with RawClient(cluster.brokers[asked].port) as c:
            body = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
                {"resource_type": 32, "resource_name": GROUP, "configuration_keys": ["share.auto.offset.reset"]}],
                "include_synonyms": False, "include_documentation": False})
        assert [(e["name"], e["value"]) for e in body["results"][0]["configs"]] == [
            ("share.auto.offset.reset", "earliest")], body
        got: list[dict[str, Any]] = []

        def all_received() -> bool:
            got.extend(_receive(api, member, 10, wait_ms=500))
            return len(got) >= PARTITIONS

        wait_until(all_received, 30, "the records produced before the join")
        assert sorted((r["partition"], r["value"]) for r in got) == [(p, f"{p}-early") for p in range(PARTITIONS)]
        for b in cluster.brokers.values():
            assert "Traceback" not in b.log_text()


def test_a_share_request_a_broker_cannot_forward_is_refused_not_served_there(
        zookeeper: LocalZooKeeper, tmp_path: Path) -> None:
    """A group request at a broker that does not coordinate the group, and cannot send it on
    (forwarded to it already, after leadership moved; or the coordinator not known there yet), is
    answered 503 NOT_COORDINATOR. Served there, a join made a member the coordinator never knew: the
    member's next request, forwarded to the coordinator, found no such member."""
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER) as cluster:
        _create_one_leader_each(cluster.brokers[1].port)
        coordinator = _coordinator(cluster.brokers[1].port, GROUP)
        other = next(i for i in (1, 2, 3) if i != coordinator)
        port = cluster.brokers[other].http_port
        for method, path, body in (("POST", f"/share-groups/{GROUP}/members", {"topics": [TOPIC]}),
                                   ("GET", f"/share-groups/{GROUP}/members/m1/records", None),
                                   ("POST", f"/share-groups/{GROUP}/members/m1/acks", {"acks": []}),
                                   ("DELETE", f"/share-groups/{GROUP}/members/m1", None),
                                   ("GET", f"/share-groups/{GROUP}", None),
                                   ("GET", f"/groups/{GROUP}", None),  # every group type's routes too
                                   ("GET", f"/groups/{GROUP}/lag-history", None),
                                   ("POST", f"/groups/{GROUP}/reset-offsets", {"strategy": "earliest"})):
            # As another broker forwards it: never forwarded again.
            answer = Api(port).call(method, path, body, headers={FORWARDED_BY: str(coordinator)})
            assert (answer.status, answer.error_code) == (503, "NOT_COORDINATOR"), (method, path, answer)
        at_coordinator = Api(cluster.brokers[coordinator].http_port)
        assert at_coordinator.get(f"/share-groups/{GROUP}").status == 404  # no member was made anywhere
        member = _join(Api(port))  # not marked forwarded: sent on to the coordinator, which takes it
        described = at_coordinator.get(f"/share-groups/{GROUP}")
        assert [m["member_id"] for m in described.body["members"]] == [member], described.body
        for b in cluster.brokers.values():
            assert "Traceback" not in b.log_text()
