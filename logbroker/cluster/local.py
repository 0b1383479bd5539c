"""A development cluster on this machine: one ZooKeeper and N ``logbroker serve`` processes.

``logbroker cluster`` (and ``make cluster``) run it in the foreground: ZooKeeper on
127.0.0.1:<zookeeper port>, broker ``i`` (ids 1..N) with Kafka on ``kafka_port + i - 1`` and HTTP on
``http_port + i - 1``, data in ``<data_dir>/zookeeper`` and ``<data_dir>/broker<i>``, each
broker's log in ``<data_dir>/broker<i>.log``. Stopping it (Ctrl-C) stops exactly the processes it
started: brokers first (SIGTERM, clean shutdown), then ZooKeeper.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from logbroker.cluster.zkserver import LocalZooKeeper


@dataclass
class LocalCluster:
    data_dir: Path
    brokers: int = 3
    zookeeper_port: int = 2181
    kafka_port: int = 9092
    http_port: int = 8082
    replication_factor: int = 3
    overrides: dict[str, str] = field(default_factory=dict)
    zookeeper: LocalZooKeeper | None = None
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + i}" for i in range(self.brokers))

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.zookeeper = LocalZooKeeper(self.data_dir / "zookeeper", self.zookeeper_port).start()
        for i in range(1, self.brokers + 1):
            props = {"zookeeper.connect": self.zookeeper.connect, "node.id": str(i),
                     "default.replication.factor": str(min(self.replication_factor, self.brokers)),
                     **self.overrides}
            cmd = [sys.executable, "-m", "logbroker.cli", "serve", "--data-dir", str(self.data_dir / f"broker{i}"),
                   "--kafka-listen", f"127.0.0.1:{self.kafka_port + i - 1}",
                   "--http-listen", f"127.0.0.1:{self.http_port + i - 1}"]
            for k, v in props.items():
                cmd += ["--override", f"{k}={v}"]
            log = open(self.data_dir / f"broker{i}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
            self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            log.close()

    def wait(self) -> None:
        """Block until a signal or until a broker exits on its own."""
        stop = False

        def on_signal(_sig: int, _frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop and all(p.poll() is None for p in self.procs.values()):
            time.sleep(0.2)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs.clear()
        if self.zookeeper is not None:
            self.zookeeper.stop()
            self.zookeeper = None
