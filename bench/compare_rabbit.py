"""A throw-away RabbitMQ node for ``bench/compare.py``: loopback only, its own data and log
directories, its own node name and ports, stopped with ``rabbitmqctl stop`` (then by pid).

The Debian package's scripts switch to the ``rabbitmq`` user, so the node's directories are made
and chowned for it (which needs root). The node registers with epmd; if no epmd is running, one is
started here on 127.0.0.1 and stopped by its pid afterwards (the Erlang default would listen on
every interface).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from harness import free_port, port_open

INSTALL_HINT = ("RabbitMQ is not installed: as root, `apt-get update && apt-get install -y rabbitmq-server` "
                "(Debian/Ubuntu), and `.venv/bin/pip install pika`; the comparison runs without it meanwhile.")
EPMD_PORT = 4369


def unavailable_reason() -> str | None:
    """Why a RabbitMQ node cannot be run here, or None."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        return INSTALL_HINT
    try:
        import pika  # noqa: F401
    except ImportError:
        return "pika is not installed: `.venv/bin/pip install pika`"
    try:
        pwd.getpwnam("rabbitmq")
    except KeyError:
        return "there is no `rabbitmq` user (the Debian package creates it)"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "rabbitmq":
        return "starting RabbitMQ needs root (the Debian scripts switch to the `rabbitmq` user)"
    return None


class RabbitNode:
    """``with RabbitNode() as node: node.port`` -- one node for the whole comparison."""

    def __init__(self, parent: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="compare-rabbit-", dir=parent))
        self.name = f"lbcompare{os.getpid()}@localhost"
        self.port = 0
        self.dist_port = 0
        self.epmd: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.env: dict[str, str] = {}

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    def _ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["rabbitmqctl", "-n", self.name, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, cwd="/")

    def start(self, timeout: float = 90.0) -> RabbitNode:
        user = pwd.getpwnam("rabbitmq")
        for sub in ("mnesia", "log"):
            (self.root / sub).mkdir()
        (self.root / "enabled_plugins").write_text("[].\n")
        os.chmod(self.root, 0o755)
        for path in [self.root, *self.root.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        if not port_open(EPMD_PORT):
            self.epmd = subprocess.Popen(["epmd", "-address", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not port_open(EPMD_PORT):
                if self.epmd.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("epmd did not start")
                time.sleep(0.05)
        self.port, self.dist_port = free_port(), free_port()
        self.env = {**os.environ, "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                    "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"), "RABBITMQ_LOG_BASE": str(self.log_dir),
                    "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
                    "ERL_EPMD_ADDRESS": "127.0.0.1"}
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, timeout=60, cwd="/",
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            # -detached returns before the node has registered; await_startup fails until it has.
            done = self._ctl("await_startup", "--timeout", "30", timeout=45)
            if done.returncode == 0 and port_open(self.port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"RabbitMQ did not start within {timeout}s; logs in {self.log_dir}: "
                                   f"{done.stderr.strip()[-300:]}")
            time.sleep(0.5)
        pid_text = (self.root / "node.pid").read_text().strip() if (self.root / "node.pid").exists() else ""
        self.pid = int(pid_text) if pid_text.isdigit() else None
        return self

    def version(self) -> str:
        out = self._ctl("version", timeout=30)
        return out.stdout.strip() or "?"

    def delete_queue(self, queue: str) -> None:
        import pika

        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port))
        try:
            conn.channel().queue_delete(queue)
        finally:
            conn.close()

    def declare_queue(self, queue: str) -> None:
        import pika

        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port))
        try:
            conn.channel().queue_declare(queue, durable=True)
        finally:
            conn.close()

    def stop(self) -> None:
        if self.env:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._ctl("stop", timeout=60)
            if self.pid is not None:
                deadline = time.monotonic() + 20
                while _pid_alive(self.pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                if _pid_alive(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
            self.env = {}
        if self.epmd is not None:
            self.epmd.terminate()
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait(5)
            self.epmd = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RabbitNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
