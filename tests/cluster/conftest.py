"""Cluster fixtures: a real ZooKeeper on a free loopback port and real ``logbroker serve`` brokers.

Each test gets its own ZooKeeper (own data directory and port) and its own brokers; everything a
fixture starts it stops, by the process it started. Without ZooKeeper installed the tests skip, but
under CI=true they fail (``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper, available
from tests.conftest import IN_CI, BrokerProcess, free_port

# Short enough that a killed broker's session (and so its leadership) ends within seconds.
SESSION_TIMEOUT_MS = 3000
LAG_MS = 3000


@pytest.fixture
def zookeeper(tmp_path: Path) -> Iterator[LocalZooKeeper]:
    missing = available()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"{missing}; .ci/run installs it in CI")
        pytest.skip(missing)
    zk = LocalZooKeeper(tmp_path / "zookeeper", free_port()).start()
    try:
        yield zk
    finally:
        zk.stop()


class ZooKeeperPause:
    """Stops a test's ZooKeeper process (by pid, SIGSTOP: a stalled server whose connections stay
    open) and lets it run again."""

    def __init__(self) -> None:
        self.pid: int | None = None

    def stop(self, zk: LocalZooKeeper) -> None:
        assert zk.proc is not None and self.pid is None
        os.kill(zk.proc.pid, signal.SIGSTOP)
        self.pid = zk.proc.pid

    def resume(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)
            self.pid = None


@pytest.fixture
def zookeeper_pause(zookeeper: LocalZooKeeper) -> Iterator[ZooKeeperPause]:
    """A ``ZooKeeperPause`` whose ZooKeeper runs again at the end, whatever happens (before the
    ``zookeeper`` fixture stops it)."""
    p = ZooKeeperPause()
    try:
        yield p
    finally:
        p.resume()


@contextlib.contextmanager
def kazoo_client(zookeeper: LocalZooKeeper) -> Iterator[KazooClient]:
    """A started client of the test's ZooKeeper, stopped and closed at the end."""
    client = KazooClient(hosts=zookeeper.connect, timeout=10)
    client.start(timeout=10)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def zk_client(zookeeper: LocalZooKeeper) -> Iterator[KazooClient]:
    with kazoo_client(zookeeper) as client:
        yield client


def broker_properties(zk_connect: str, node_id: int) -> dict[str, str]:
    """What every test cluster's broker ``node_id`` runs with: short sessions and lag so faults show
    within seconds, no initial rebalance delay, frequent offset checkpoints."""
    return {"zookeeper.connect": zk_connect, "node.id": str(node_id),
            "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS), "replica.lag.time.max.ms": str(LAG_MS),
            "group.initial.rebalance.delay.ms": "0", "log.flush.offset.checkpoint.interval.ms": "1000"}


@dataclass
class Cluster:
    zookeeper: LocalZooKeeper
    root: Path
    brokers: dict[int, BrokerProcess] = field(default_factory=dict)

    def add(self, node_id: int, **overrides: str) -> BrokerProcess:
        props = broker_properties(self.zookeeper.connect, node_id)
        # keyword names (min_insync_replicas) become property names; dotted names are taken as they are
        props.update({k if "." in k else k.replace("_", "."): v for k, v in overrides.items()})
        b = BrokerProcess(data_dir=self.root / f"broker{node_id}", log_path=self.root / f"broker{node_id}.log",
                          overrides=props)
        self.brokers[node_id] = b
        return b.start()

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values() if b.proc is not None)

    def state(self, zk: KazooClient, topic: str, partition: int) -> dict[str, Any]:
        data, _ = zk.get(f"/brokers/topics/{topic}/partitions/{partition}/state")
        return dict(json.loads(data))

    def stop_all(self) -> None:
        for b in self.brokers.values():
            if b.proc is not None:
                b.stop()


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``check`` until it returns something truthy (exceptions count as not yet), bounded."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # a condition not reached yet
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@contextlib.contextmanager
def three_brokers(zookeeper: LocalZooKeeper, tmp_path: Path, **overrides: str) -> Iterator[Cluster]:
    """Three brokers (ids 1, 2, 3) with broker properties ``overrides``, once all are registered in
    ZooKeeper; stopped afterwards."""
    c = Cluster(zookeeper, tmp_path)
    try:
        for node_id in (1, 2, 3):
            c.add(node_id, **overrides)
        client = KazooClient(hosts=zookeeper.connect, timeout=10)
        client.start(timeout=10)
        try:
            wait_until(lambda: len(client.get_children("/brokers/ids")) == 3, 20, "three registered brokers")
        finally:
            client.stop()
            client.close()
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def cluster(zookeeper: LocalZooKeeper, tmp_path: Path) -> Iterator[Cluster]:
    """Three brokers (ids 1, 2, 3) registered in one ZooKeeper."""
    with three_brokers(zookeeper, tmp_path) as c:
        yield c
