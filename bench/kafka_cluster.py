"""Apache Kafka as three nodes on one machine, beside logbroker's three brokers in ``limits.py --cluster``.

Each node is one Kafka 4.1 process in KRaft's combined mode (broker and controller in one JVM), the
three forming a static controller quorum (``controller.quorum.voters``), all on 127.0.0.1 with ports
chosen before start. Kafka's shipped JVM options and broker defaults (``compare_kafka``), except:

- ``replica.lag.time.max.ms`` 10 s, as the logbroker brokers of the same run are given;
- ``log.segment.delete.delay.ms`` 0, as ``limits_peer.start_kafka`` (a deleted topic's files go at once).

Kafka 4 has no ZooKeeper mode, so this is the closest Kafka has to logbroker's ZooKeeper cluster:
three processes that each lead partitions and follow the others'. The jars are the ones ``make
kafka-jars`` caches. Every process is stopped by the pid it was started with.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import compare_kafka
from harness import free_port, stop_process, wait_listening

NODES = 3
START_TIMEOUT_S = 180.0
OVERRIDES = {"replica.lag.time.max.ms": "10000", "log.segment.delete.delay.ms": "0"}


@dataclass
class KafkaClusterNode:
    """One node: its client port and process (``bootstrap``, ``port`` and ``pid`` as ``harness.Broker``)."""

    node_id: int
    port: int
    controller_port: int
    root: Path  # its properties files and log
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """Where its partitions' directories are (``log.dirs``)."""
        return self.root / "kraft-logs"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.root / "kafka.log"


class KafkaCluster:
    """Three combined KRaft nodes under one temporary directory (``nodes``): ``start``, then ``stop``,
    which stops each node by its pid (the caller removes the directory)."""

    def __init__(self, parent: Path | None = None, overrides: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kafka-cluster-", dir=parent))
        self.overrides = {**OVERRIDES, **(overrides or {})}
        self.nodes = [KafkaClusterNode(i, free_port(), free_port(), self.root / f"node{i}")
                      for i in range(1, NODES + 1)]

    def _properties(self, node: KafkaClusterNode) -> str:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.quorum.voters": voters,
            "log.dirs": str(node.data_dir),
            **compare_kafka.OVERRIDES,
            **self.overrides,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _java(self, node: KafkaClusterNode, main: str, *args: str) -> list[str]:
        java, _ = compare_kafka.ref.java_and_maven()
        return [java, *compare_kafka.JVM_OPTS, f"-Dlog4j2.configurationFile={node.root / 'log4j2.properties'}",
                "-cp", f"{compare_kafka.ref.jar_dir()}/*", main, *args]

    def start(self) -> KafkaCluster:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        for node in self.nodes:
            node.root.mkdir(parents=True)
            (node.root / "server.properties").write_text(self._properties(node))
            (node.root / "log4j2.properties").write_text(compare_kafka.ref.LOG4J2_PROPERTIES)
            formatted = subprocess.run(
                self._java(node, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                           "-c", str(node.root / "server.properties")),
                capture_output=True, text=True, timeout=120, check=False)
            if formatted.returncode != 0:
                raise RuntimeError(f"kafka-storage format of node {node.node_id} failed: "
                                   f"{formatted.stdout[-300:]} {formatted.stderr[-300:]}")
        for node in self.nodes:
            with open(node.log_path, "ab") as log_file:
                node.proc = subprocess.Popen(self._java(node, "kafka.Kafka", str(node.root / "server.properties")),
                                             stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for node in self.nodes:
            assert node.proc is not None
            wait_listening(node.proc, node.port, START_TIMEOUT_S, f"Kafka node {node.node_id}")
        self._wait_all_unfenced()
        return self

    def _wait_all_unfenced(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": ",".join(n.bootstrap for n in self.nodes), "log_level": 2})
        deadline = time.monotonic() + START_TIMEOUT_S
        seen: object = "no metadata"
        while time.monotonic() < deadline:
            try:
                seen = sorted(admin.list_topics(timeout=5).brokers)
                if len(seen) == NODES:
                    return
            except Exception as exc:  # not ready yet: the deadline decides
                seen = exc
            time.sleep(0.3)
        raise RuntimeError(f"the {NODES} Kafka nodes did not all register within {START_TIMEOUT_S:.0f} s "
                           f"(last seen: {seen})")

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                stop_process(node.proc, timeout=60)
