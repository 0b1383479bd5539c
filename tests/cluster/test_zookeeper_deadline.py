"""logbroker/zookeeper_deadline.py against a real ZooKeeper: ZooKeeper's own answers pass through,
a stalled server ends the work at its deadline (the calling thread free again, one log line), and
without a connection nothing is tried."""

from __future__ import annotations

import logging
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.errors import ClusterStateUnavailableError
from logbroker.zookeeper_deadline import ZooKeeperDeadline
from tests.cluster.conftest import ZooKeeperPause

LIMIT_S = 1.0


def test_answers_and_refusals_pass_through(zk_client: KazooClient) -> None:
    calls = ZooKeeperDeadline(zk_client, 10.0, "test")
    calls.ensure_path("/a/b")
    assert calls.create("/a/b/c", b"x") == "/a/b/c"
    assert calls.get("/a/b/c")[0] == b"x"
    stat = calls.set("/a/b/c", b"y", version=0)
    assert stat.version == 1
    assert calls.get_children("/a/b") == ["c"]
    assert calls.create("/a/n-", sequence=True).startswith("/a/n-")
    calls.delete("/a/b/c", version=1)
    with pytest.raises(NoNodeError):
        calls.get("/a/b/c")
    assert 9.0 < calls.remaining() <= 10.0


def test_a_stalled_server_ends_the_work_at_its_deadline(
        zookeeper: LocalZooKeeper, zookeeper_pause: ZooKeeperPause, caplog: pytest.LogCaptureFixture) -> None:
    # A session long enough that kazoo does not notice the silent server itself within the test.
    zk = KazooClient(hosts=zookeeper.connect, timeout=30)
    zk.start(timeout=10)
    try:
        ZooKeeperDeadline(zk, 10.0, "before").ensure_path("/config/users")
        zookeeper_pause.stop(zookeeper)
        start = time.monotonic()
        calls = ZooKeeperDeadline(zk, LIMIT_S, "quotas of carol not changed")
        with caplog.at_level(logging.WARNING, logger="logbroker.zookeeper_deadline"):
            with pytest.raises(ClusterStateUnavailableError, match=r"did not answer within 1\.0s"):
                calls.get_children("/config/users")
            with pytest.raises(ClusterStateUnavailableError):  # past the deadline: not sent at all
                calls.get("/config/users")
        took = time.monotonic() - start
        assert LIMIT_S * 0.9 < took < LIMIT_S + 1.5, took
        assert [r.getMessage() for r in caplog.records if r.name == "logbroker.zookeeper_deadline"] == [
            "quotas of carol not changed: ZooKeeper did not answer within 1.0s"]
        zookeeper_pause.resume()
        assert ZooKeeperDeadline(zk, 10.0, "after").get_children("/config") == ["users"]
    finally:
        zookeeper_pause.resume()
        zk.stop()
        zk.close()


def test_without_a_connection_nothing_is_tried(zookeeper: LocalZooKeeper) -> None:
    zk = KazooClient(hosts=zookeeper.connect, timeout=10)
    with pytest.raises(ClusterStateUnavailableError, match=r"not connected"):
        ZooKeeperDeadline(zk, 10.0, "client quotas not read")
