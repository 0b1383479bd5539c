"""Apache Kafka as the reference broker: fetch its jars, start a single-node KRaft broker on loopback.

The interop suite runs against this broker with ``pytest --broker=kafka`` (``make test-reference``),
so every behaviour it asserts is Kafka's too. This lives in ``tests/`` rather than ``scripts/``
because the fixtures in ``tests/conftest.py`` import it; ``python -m tests.kafka_reference run``
(``make kafka-reference``) starts one in the foreground for people.

Jars come from Maven Central through a generated pom and ``mvn dependency:copy-dependencies`` into
a cache outside the tree (``~/.cache/logbroker/kafka-<version>``, or ``$LOGBROKER_KAFKA_JARS``);
nothing downloaded is committed. Settings follow logbroker's defaults (``logbroker/config.py``) and
Kafka's shipped single-node ``server.properties``: one node (id 0, as logbroker reports), one
partition per auto-created topic, replication factor 1 for the internal topics, no initial
rebalance delay. The broker listener binds port 0 and the bound port is read back from the
process's listening sockets; the controller needs a port known before start (``--standalone``
formatting records it in the voter set), so it is chosen first and the start retried if taken.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import ServerProcess, die_with_parent

KAFKA_VERSION = os.environ.get("LOGBROKER_KAFKA_VERSION", "4.1.1")
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"  # Kafka 4's; without it Maven's nearest-wins picks a 1.7 API and logging goes silent
HEAP = os.environ.get("LOGBROKER_KAFKA_HEAP", "-Xmx512m")
NODE_ID = 0  # logbroker's node.id default, so FindCoordinator/Metadata answers agree
COMPLETE_MARKER = ".complete"

# Broker properties of the reference, besides listeners and directories. Kafka's own defaults
# otherwise, except where logbroker's defaults or a one-node test setup differ (each says why).
REFERENCE_PROPERTIES: dict[str, str] = {
    "num.partitions": "1",  # logbroker's and Kafka's default, spelled out
    "auto.create.topics.enable": "true",
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": "1",  # one node: Kafka's default of 3 could never be met
    "offsets.topic.num.partitions": "4",  # fewer partitions to load at start; tests override it anyway
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",  # as Kafka's shipped server.properties
    "log.initial.task.delay.ms": "0",  # retention and flush tasks start at once, as logbroker's
    "log.flush.offset.checkpoint.interval.ms": "60000",
    "delete.topic.enable": "true",
}

# Features finalized at format time. Share groups (KIP-932) are a preview in Kafka 4.1, off until
# share.version is 1 (4.1's upgrade notes; the StorageTool's --feature option sets it at format time).
FEATURES = ("share.version=1",)

POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>logbroker.reference</groupId>
  <artifactId>kafka-reference-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
logger.coordinator.name = org.apache.kafka.coordinator
logger.coordinator.level = INFO
"""


class ReferenceError(RuntimeError):
    """The reference broker could not be fetched or started."""


def jar_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the jars of ``version`` live: ``$LOGBROKER_KAFKA_JARS`` or the user's cache."""
    override = os.environ.get("LOGBROKER_KAFKA_JARS")
    if override:
        return Path(override).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return base / "logbroker" / f"kafka-{version}"


def java_and_maven() -> tuple[str, str]:
    java, mvn = shutil.which("java"), shutil.which("mvn")
    if java is None or mvn is None:
        missing = " and ".join(n for n, p in (("java", java), ("mvn", mvn)) if p is None)
        raise ReferenceError(f"{missing} not installed (apt-get install default-jdk-headless maven); "
                             ".ci/run installs them in CI")
    return java, mvn


def fetch(version: str = KAFKA_VERSION, quiet: bool = True) -> Path:
    """The directory holding Kafka's jars, fetched from Maven Central on first use.

    Jars are copied into a sibling temporary directory and renamed into place, so a concurrent
    or interrupted fetch never leaves a half-filled cache that looks complete.
    """
    target = jar_dir(version)
    if (target / COMPLETE_MARKER).exists():
        return target
    _, mvn = java_and_maven()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".kafka-{version}-", dir=target.parent) as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(POM.format(kafka=version, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION))
        staged = Path(work) / "jars"
        cmd = [mvn, "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={staged}",
               "-DincludeScope=runtime"]
        if quiet:
            cmd.insert(1, "-q")
        result = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
        if result.returncode != 0:
            raise ReferenceError(f"mvn could not fetch Kafka {version}:\n{(result.stdout or '')[-3000:]}")
        (staged / COMPLETE_MARKER).write_text(version + "\n")
        if target.exists():  # a fetch that gave up half-way, or another one that just finished
            if (target / COMPLETE_MARKER).exists():
                return target
            shutil.rmtree(target)
        staged.rename(target)
    return target


def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_ports(pid: int) -> set[int]:
    """TCP ports ``pid`` listens on, from /proc (the inodes of its sockets in /proc/net/tcp)."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def _cluster_ready(port: int) -> bool:
    """A real client's view: kafka-python gets Metadata with this one broker in it."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=5000)
    except (KafkaError, OSError):
        return False
    try:
        cluster = admin.describe_cluster()
        return any(b.get("broker_id") == NODE_ID and not b.get("is_fenced") for b in cluster.get("brokers", []))
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


@dataclass
class KafkaBroker(ServerProcess):
    """One Apache Kafka process (broker and controller in one), started and stopped by pid.

    ``data_dir`` holds ``server.properties``, the log4j2 config and the KRaft log directory;
    ``restart`` stops the process and starts it again on the same data directory.
    """

    data_dir: Path
    log_path: Path
    overrides: dict[str, str] = field(default_factory=dict)
    jars: Path | None = None
    port: int = 0
    controller_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    kind: str = "kafka"
    start_timeout_s: float = 120.0
    # More client listeners besides PLAINTEXT: name -> security protocol. Their ports are chosen
    # before start (Kafka reports no bound ports); ``listener_ports`` holds every listener's port.
    extra_listeners: dict[str, str] = field(default_factory=dict)
    listener_ports: dict[str, int] = field(default_factory=dict)
    stop_timeout_s: float = 60.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    def _write_config(self) -> None:
        props = dict(REFERENCE_PROPERTIES)
        if set(self.listener_ports) != set(self.extra_listeners):
            self.listener_ports = {name: _loopback_port() for name in self.extra_listeners}
        extra = "".join(f",{name}://127.0.0.1:{self.listener_ports[name]}" for name in self.extra_listeners)
        protocols = "".join(f",{name}:{protocol}" for name, protocol in self.extra_listeners.items())
        props.update({
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "listeners": f"PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:{self.controller_port}{extra}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT{protocols}",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "log.dirs": str(self.data_dir / "kraft-logs"),
        })
        props.update(self.overrides)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)

    def _java(self, main: str, *args: str) -> list[str]:
        java, _ = java_and_maven()
        assert self.jars is not None
        return [java, HEAP, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", f"{self.jars}/*", main, *args]

    def _format(self) -> None:
        # A fresh cluster id each format, in Kafka's form: a UUID as unpadded URL-safe base64.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Attached with "=": an id that starts with "-" would otherwise read as an option.
        result = subprocess.run(self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c",
                                           str(self.properties_path), "--standalone", "--ignore-formatted",
                                           *(f"--feature={f}" for f in FEATURES)),
                                capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ReferenceError(f"kafka-storage format failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> KafkaBroker:
        if self.jars is None:
            self.jars = fetch()
        formatted = (self.data_dir / "kraft-logs" / "meta.properties").exists()
        if formatted and self.controller_port:
            self._write_config()  # a restart takes the overrides as they are now (same controller port)
        attempts = 1 if formatted else 3
        for attempt in range(attempts):
            if not formatted:
                self.controller_port = _loopback_port()
                self._write_config()
                self._format()
            try:
                self._launch()
                return self
            except ReferenceError:
                if attempt + 1 == attempts or "Address already in use" not in self.log_text():
                    raise
                shutil.rmtree(self.data_dir / "kraft-logs", ignore_errors=True)  # a fresh controller port
        return self

    def _launch(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(self._java("kafka.Kafka", str(self.properties_path)), stdout=log_file,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent())
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise ReferenceError(f"Kafka exited with code {code} while starting; see {self.log_path}")
            extra_ports = {p for n, p in self.listener_ports.items() if n in self.extra_listeners}
            ports = _listening_ports(self.proc.pid) - {self.controller_port}
            if len(ports - extra_ports) == 1 and extra_ports <= ports:
                port = (ports - extra_ports).pop()
                if _cluster_ready(port):
                    self.port = port
                    self.listener_ports["PLAINTEXT"] = port
                    return
            time.sleep(0.3)
        self.stop(signal.SIGKILL)
        raise ReferenceError(f"Kafka did not become ready within {self.start_timeout_s}s; see {self.log_path}")


def run_in_foreground(broker: KafkaBroker) -> None:
    """Start ``broker`` and keep it until Ctrl-C or SIGTERM, then stop it (by its pid)."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        broker.start()
        print(f"Apache Kafka {KAFKA_VERSION} on {broker.bootstrap} (log: {broker.log_path}); Ctrl-C stops it",
              flush=True)
        assert broker.proc is not None
        broker.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kafka_reference",
                                     description="Apache Kafka, the reference broker of logbroker's interop tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="fetch the jars into the cache and print its path")
    run = sub.add_parser("run", help="start a single-node Kafka in the foreground until Ctrl-C")
    run.add_argument("--data-dir", type=Path, default=None, help="KRaft data directory (default: a temporary one)")
    run.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="a broker property")
    args = parser.parse_args(argv)
    try:
        jars = fetch()
        if args.command == "fetch":
            print(jars)
            return 0
        overrides = dict(item.split("=", 1) for item in args.override)
        with tempfile.TemporaryDirectory(prefix="kafka-reference-") as tmp:
            data_dir = args.data_dir or Path(tmp) / "data"
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            broker = KafkaBroker(data_dir=data_dir, log_path=data_dir.parent / "kafka.log", overrides=overrides,
                                 jars=jars)
            run_in_foreground(broker)
    except ReferenceError as exc:
        print(f"kafka-reference: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
