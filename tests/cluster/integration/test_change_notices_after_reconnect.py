"""Change notices reach a broker after its ZooKeeper connection dropped: an ACL and a group config
changed through another broker apply on it, once after ZooKeeper restarted (the session kept) and
once after the broker's own session expired (the broker paused with SIGSTOP past the session
timeout). kazoo fires and forgets every watch when its connection drops, so a store that re-armed
its watch from kazoo's thread lost it for good when the session did not survive.

Broker 1 holds everything the share member needs (topic, ``__consumer_offsets`` and
``__share_group_state``, made while it ran alone); broker 2 is where the changes are made. Every
broker has an authorizer with ANONYMOUS a super user, so an ACL changes nothing served and is seen
through DescribeAcls, which lists the broker's copy; the group config seen is
``share.delivery.count.limit``, obeyed by broker 1 as partition leader.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.groups.share_state import coordinator_key
from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import SESSION_TIMEOUT_MS, Cluster, wait_until
from tests.cluster.integration.test_replication import produce
from tests.cluster.integration.test_share_groups import alter_group, create_on, find
from tests.interop.rawclient import RawClient
from tests.interop.share_member import ACCEPT, RELEASE, ShareMember, topic_id

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

ANON = "User:ANONYMOUS"
TOPIC = "work"
GROUP = "crew"
BROKER_PROPS = {"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer", "super.users": ANON,
                "offsets.topic.num.partitions": "1", "share.coordinator.state.topic.num.partitions": "1",
                "group.share.delivery.count.limit": "6", "group.share.record.lock.duration.ms": "120000",
                "group.share.max.record.lock.duration.ms": "120000"}
NOTICE_S = 20  # how long a change may take to reach broker 1 (a watch, then a read in a worker thread)


def _create_acl(port: int, topic: str) -> int:
    with RawClient(port) as c:
        body = c.call(ApiKey.CREATE_ACLS, 3, {"creations": [
            {"resource_type": 2, "resource_name": topic, "resource_pattern_type": 3, "principal": ANON,
             "host": "*", "operation": 3, "permission_type": 3}]})  # topic, LITERAL, READ, ALLOW
    return int(body["results"][0]["error_code"])


def _acl_topics(port: int) -> set[str]:
    """The topics broker ``port`` holds an ACL of, as its copy has them (DescribeAcls)."""
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_ACLS, 3, {
            "resource_type_filter": 2, "resource_name_filter": None, "pattern_type_filter": 1,
            "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1})
    assert body["error_code"] == 0, body
    return {r["resource_name"] for r in body["resources"]}


def _retried(call: Any, what: str) -> None:
    """``call()`` until it answers 0 (REQUEST_TIMED_OUT while the broker's ZooKeeper is away)."""
    wait_until(lambda: call() == 0, 30, what, interval=0.5)


class Member:
    """A share member of GROUP at broker 1 (coordinator and leader of everything here)."""

    def __init__(self, port: int, tid: uuid.UUID) -> None:
        self.tid = tid
        self.m = ShareMember(port, GROUP, [TOPIC])
        self.m.join(tid)

    def close(self) -> None:
        self.m.close()

    def archived_after_two_releases(self, port: int) -> bool:
        """Produce one record, acquire it and release it twice: True when the second release
        archived it (the group's limit of 2 applied), False when it came back a third time (the
        brokers' 6: the change has not reached broker 1)."""
        if self.m.heartbeat()["error_code"] != 0:  # not known (yet) where the group was read back: join
            self.m.member_epoch = 0
            self.m.join(self.tid)
        [offset] = produce(f"127.0.0.1:{port}", TOPIC, [b"x"])
        got = self.m.fetch_until(self.tid, 1)
        assert got.delivery_counts == {offset: 1}, got
        got = self.m.fetch(self.tid, acks=[(offset, offset, RELEASE)])
        assert got.delivery_counts == {offset: 2}, got
        got = self.m.fetch(self.tid, acks=[(offset, offset, RELEASE)], max_wait_ms=300)
        if not got.values:
            return True
        assert got.delivery_counts == {offset: 3}, got
        assert self.m.fetch(self.tid, acks=[(offset, offset, ACCEPT)], max_wait_ms=0).error_code == 0
        return False


def _changes_reach_broker_1(c: Cluster, member: Member, acl_topic: str, limit: str | None) -> None:
    """Through broker 2: an ACL on ``acl_topic`` and the group's delivery-count limit; both must
    reach broker 1."""
    one, two = c.brokers[1].port, c.brokers[2].port
    _retried(lambda: _create_acl(two, acl_topic), f"CreateAcls of {acl_topic} on broker 2")
    _retried(lambda: alter_group(two, {"share.delivery.count.limit": limit}, GROUP)["error_code"],
             "the group config altered on broker 2")
    wait_until(lambda: acl_topic in _acl_topics(one), NOTICE_S, f"the ACL of {acl_topic} on broker 1")
    wanted = limit is not None
    wait_until(lambda: member.archived_after_two_releases(one) is wanted, NOTICE_S,
               f"delivery count limit {limit or 'default'} obeyed by broker 1")


def test_acl_and_group_config_changes_reach_a_broker_after_its_zookeeper_connection_dropped(
        zookeeper: LocalZooKeeper, tmp_path: Path) -> None:
    c = Cluster(zookeeper, tmp_path)
    try:
        one = c.add(1, **BROKER_PROPS)
        create_on(one.port, TOPIC, [1])
        assert find(one.port, GROUP, 0)["node_id"] == 1
        with RawClient(one.port) as raw:
            tid = topic_id(raw, TOPIC)
        assert find(one.port, coordinator_key(GROUP, tid, 0), 2)["node_id"] == 1
        c.add(2, **BROKER_PROPS)
        # Set on broker 1 itself, which takes its own change at once: the member reads from the start.
        assert alter_group(one.port, {"share.auto.offset.reset": "earliest"}, GROUP)["error_code"] == 0
        member = Member(one.port, tid)
        try:
            [seed] = produce(one.bootstrap, TOPIC, [b"seed"])
            assert member.m.fetch_until(tid, 1).values == {seed: b"seed"}
            assert member.m.fetch(tid, acks=[(seed, seed, ACCEPT)], max_wait_ms=0).error_code == 0
            _changes_reach_broker_1(c, member, "before", "2")

            # ZooKeeper restarted: every broker's connection drops; the sessions outlive it.
            zookeeper.stop()
            time.sleep(1.0)
            zookeeper.start()
            _changes_reach_broker_1(c, member, "after-restart", None)

            # Broker 1 paused past its session timeout: its session expires, it starts a new one.
            assert one.proc is not None
            one.proc.send_signal(signal.SIGSTOP)
            try:
                time.sleep(SESSION_TIMEOUT_MS / 1000 * 2)
            finally:
                one.proc.send_signal(signal.SIGCONT)
            member.close()
            wait_until(lambda: "broker 1 lost its ZooKeeper session" in one.log_text(), 30,
                       "broker 1 to find its session expired")
            member = Member(one.port, tid)  # the group is read back at its coordinator without its members
            _changes_reach_broker_1(c, member, "after-expiry", "2")
        finally:
            member.close()
        for b in c.brokers.values():
            assert "Traceback" not in b.log_text(), b.log_path
    finally:
        c.stop_all()
