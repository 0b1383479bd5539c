"""A standalone ZooKeeper on loopback for development (``logbroker cluster``) and tests.

Runs Debian's ZooKeeper 3.8 (``apt-get install zookeeper``; not ``zookeeperd``, which adds a system
service) with its own ``zoo.cfg`` and data directory: ``ZooKeeperServerMain`` in a JVM whose class
path is the jars the package installs in ``/usr/share/java`` (the ones its ``environment`` file and
dependencies name). It listens on one address only (``clientPortAddress``, 127.0.0.1 by default),
with the admin server off.

A start is done when the server on the chosen port is the one it began: ZooKeeper's ``conf``
four-letter command names the server's data directory, which is this one's. Any server would answer
``srvr``, and a port found free may be taken by another (another test's ZooKeeper) before this one
binds it; this server then exits, and the start fails instead of handing out the other one.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

JAVA_DIR = Path("/usr/share/java")
# ZooKeeper's own jars and what its server needs at run time (logging, netty, metrics, cli parsing).
JARS = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar",
        "netty-all.jar", "metrics-core.jar", "commons-cli.jar", "commons-io.jar")
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"


def available() -> str | None:
    """Why ZooKeeper cannot run here, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed (apt-get install zookeeper pulls it in)"
    if not (JAVA_DIR / "zookeeper.jar").exists():
        return "ZooKeeper is not installed (apt-get install zookeeper)"
    return None


def class_path() -> str:
    return ":".join(str(JAVA_DIR / j) for j in JARS if (JAVA_DIR / j).exists())


class LocalZooKeeper:
    """One ZooKeeper server process; ``stop`` ends exactly the process ``start`` began."""

    def __init__(self, data_dir: Path, port: int, *, tick_ms: int = 500, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.port = port
        self.host = host  # the one address it listens on: loopback, or a test network's private address
        self.tick_ms = tick_ms
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def connect(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> LocalZooKeeper:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "zoo.cfg"
        # Sessions may be as short as two ticks, so tests can time out a killed broker quickly.
        cfg.write_text(f"tickTime={self.tick_ms}\ndataDir={self._data}\nclientPort={self.port}\n"
                       f"clientPortAddress={self.host}\nadmin.enableServer=false\nmaxClientCnxns=100\n"
                       f"minSessionTimeout={2 * self.tick_ms}\nmaxSessionTimeout=60000\n"
                       "4lw.commands.whitelist=srvr,conf\n")
        log = open(self.data_dir / "zookeeper.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-cp", class_path(), MAIN, str(cfg)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"ZooKeeper exited with code {code} (port {self.port} taken?); see {self.data_dir}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ZooKeeper did not answer on port {self.port} within {timeout_s}s")

    @property
    def _data(self) -> Path:
        return self.data_dir.resolve() / "data"

    def answers(self) -> bool:
        """True when the server on ``host:port`` answers and is this one (its data directory)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.settimeout(2.0)
                s.sendall(b"conf")
                reply = b""
                while len(reply) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return False
        ours = str(self._data)
        for line in reply.decode(errors="replace").splitlines():
            if line.startswith("dataDir="):
                value = line.removeprefix("dataDir=")
                return value == ours or value.startswith(ours + "/")  # ZooKeeper adds /version-2
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
