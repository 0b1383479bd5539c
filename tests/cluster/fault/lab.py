"""A three-broker cluster whose brokers each run in their own network namespace (``netlab.py``),
with ZooKeeper on the bridge's address in the test's namespace, for the fault runs.

Each broker listens on its namespace's address with fixed ports (9092 Kafka, 8082 HTTP: every
namespace has its own port space), so a restarted broker comes back on the address clients know.
Everything ``open`` starts, ``close`` stops (by the processes it started) and removes.
"""

from __future__ import annotations

import hashlib
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from tests.cluster.conftest import broker_properties, wait_until
from tests.cluster.fault.netlab import NetLab
from tests.conftest import BrokerProcess, free_port

BROKERS = (1, 2, 3)
KAFKA_PORT, HTTP_PORT = 9092, 8082


@dataclass
class NamespacedBroker(BrokerProcess):
    """A ``logbroker serve`` inside a network namespace, on that namespace's address."""

    host: str = ""
    prefix: list[str] = field(default_factory=list)  # ip netns exec NS

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{KAFKA_PORT}"

    def start(self, *, same_ports: bool = False) -> BrokerProcess:
        cmd = self.serve_command(f"{self.host}:{KAFKA_PORT}", f"{self.host}:{HTTP_PORT}")
        return self.launch([*self.prefix, *cmd])


@dataclass
class FaultCluster:
    root: Path
    net: NetLab = field(default_factory=lambda: NetLab(BROKERS))
    zookeeper: LocalZooKeeper | None = None
    zk: KazooClient | None = None
    brokers: dict[int, NamespacedBroker] = field(default_factory=dict)

    def open(self) -> FaultCluster:
        self.net.open()
        self.zookeeper = LocalZooKeeper(self.root / "zookeeper", free_port(), host=self.net.host_address).start()
        self.zk = KazooClient(hosts=self.zookeeper.connect, timeout=10)
        self.zk.start(timeout=10)
        for i in BROKERS:
            props = {**broker_properties(self.zookeeper.connect, i), "min.insync.replicas": "2",
                     "default.replication.factor": "3"}
            # A restart loads every partition's log; on a busy shared machine that can take a while.
            b = NamespacedBroker(data_dir=self.root / f"broker{i}", log_path=self.root / f"broker{i}.log",
                                 overrides=props, host=self.net.address(i), prefix=self.net.exec_prefix(i),
                                 start_timeout_s=120.0)
            self.brokers[i] = b
            b.start()
        wait_until(lambda: sorted(self.registered()) == list(BROKERS), 30, "three registered brokers")
        return self

    def revive(self) -> None:
        """Links up, routes clean, every broker running and registered: the state each run starts from,
        whatever an earlier run that failed midway left behind."""
        for i, b in self.brokers.items():
            self.net.heal(i)
            self.net.join(i, [o for o in BROKERS if o != i])
            if b.proc is not None and b.proc.poll() is not None:
                b.proc = None
            if b.proc is None:
                b.start()
            else:
                b.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: sorted(self.registered()) == list(BROKERS), 60, "three registered brokers")

    def close(self) -> None:
        """Stop every process this cluster started, then remove the network; never raises."""
        for b in self.brokers.values():
            if b.proc is not None:
                try:
                    b.proc.send_signal(signal.SIGCONT)  # a paused broker cannot stop
                    b.stop(timeout=10)
                except Exception:  # keep stopping the others
                    if b.proc is not None:
                        b.proc.kill()
        if self.zk is not None:
            self.zk.stop()
            self.zk.close()
        if self.zookeeper is not None:
            self.zookeeper.stop()
        self.net.close()

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def create_topic(self, topic: str, partitions: int) -> None:
        """RF=3 (the admin client is gone when this returns, so nothing keeps dialling after ``close``)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(topic, partitions, 3)], operation_timeout=10)[topic].result(timeout=30)

    # ZooKeeper's view ---------------------------------------------------------------------------

    def _zk(self) -> KazooClient:
        assert self.zk is not None
        return self.zk

    def registered(self) -> list[int]:
        return [int(i) for i in self._zk().get_children("/brokers/ids")]

    def controller(self) -> int:
        data, _ = self._zk().get("/controller")
        return int(json.loads(data)["brokerid"])

    def state(self, topic: str, partition: int) -> dict[str, Any]:
        data, _ = self._zk().get(f"/brokers/topics/{topic}/partitions/{partition}/state")
        return dict(json.loads(data))

    def leaders(self, topic: str, partitions: int) -> dict[int, int]:
        return {p: int(self.state(topic, p)["leader"]) for p in range(partitions)}

    def healthy(self, topic: str, partitions: int) -> bool:
        """Every broker registered and every partition led with all three replicas in its ISR."""
        if sorted(self.registered()) != list(BROKERS):
            return False
        states = [self.state(topic, p) for p in range(partitions)]
        return all(s["leader"] in BROKERS and sorted(s["isr"]) == list(BROKERS) for s in states)

    def wait_healthy(self, topic: str, partitions: int, timeout: float = 120) -> None:
        wait_until(lambda: self.healthy(topic, partitions), timeout, "every partition led with a full ISR")

    # Replicas -----------------------------------------------------------------------------------

    def digests(self, topic: str, partition: int) -> dict[int, str]:
        """Each broker's SHA-256 of the partition's segment files, concatenated in offset order."""
        out = {}
        for i, b in self.brokers.items():
            h = hashlib.sha256()
            for seg in sorted((b.data_dir / f"{topic}-{partition}").glob("*.log")):
                h.update(seg.read_bytes())
            out[i] = h.hexdigest()
        return out

    def identical_replicas(self, topic: str, partitions: int) -> bool:
        return all(len(set(self.digests(topic, p).values())) == 1 for p in range(partitions))
