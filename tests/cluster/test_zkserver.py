"""``LocalZooKeeper`` (logbroker/cluster/zkserver.py) against real ZooKeeper servers: a start whose
port another server holds (another test's ZooKeeper, taken meanwhile) fails instead of handing out
that server as its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbroker.cluster.zkserver import LocalZooKeeper


def test_a_start_does_not_take_another_servers_port_for_its_own(zookeeper: LocalZooKeeper, tmp_path: Path) -> None:
    clash = LocalZooKeeper(tmp_path / "clash", zookeeper.port)
    try:
        with pytest.raises(RuntimeError, match="ZooKeeper exited"):
            clash.start(timeout_s=60)
        assert clash.proc is None  # nothing left running
    finally:
        clash.stop()
    assert zookeeper.answers(), "the server that held the port is still there"


def test_a_started_server_is_its_own(zookeeper: LocalZooKeeper) -> None:
    assert zookeeper.answers()
    assert zookeeper.proc is not None and zookeeper.proc.poll() is None
