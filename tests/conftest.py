"""Shared fixtures: real broker processes on 127.0.0.1 bound to port 0, and tool checks.

A fixture that starts a broker always stops it (SIGTERM, then SIGKILL after a grace period), by
the pid it started. ``--broker=logbroker|kafka`` picks the broker the interop tests drive
(``tests/interop/conftest.py``; Apache Kafka comes from ``tests/kafka_reference.py``); every other
test drives logbroker. Tools the tests drive (kcat) must exist under CI=true: a missing tool fails
there instead of skipping, so a green CI run always means the tests ran.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import settings

from tests import confluent_leftovers
from tests.processes import ServerProcess, die_with_parent

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

# CI runs hypothesis derandomized (the same examples every run) and without per-example deadlines,
# so a loaded machine cannot turn a green suite red; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if IN_CI else "dev")


BROKER_KINDS = ("logbroker", "kafka")

confluent_leftovers.install()  # before any test module imports confluent_kafka.Consumer


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Consumers a test opened and did not close are closed as its call ends, while its brokers
    still run (``tests/confluent_leftovers.py`` says why)."""
    before = confluent_leftovers.opened()
    yield
    confluent_leftovers.close_left_open(before)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--broker", choices=BROKER_KINDS, default="logbroker",
                     help="the broker the interop tests drive: logbroker (default) or Apache Kafka, the reference")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``logbroker_only`` tests skip under --broker=kafka; ``logbroker_differs`` tests assert Kafka's
    behaviour, which logbroker does not give yet: a strict xfail on logbroker, so the fix shows.
    Under ``pytest-xdist --dist loadgroup`` (``make test``), tests that must share a worker are
    grouped (``worker_group``)."""
    kind = config.getoption("--broker")
    if getattr(config.option, "loadgroup", False):  # set in xdist's workers under --dist loadgroup
        group_for_workers(items)
    for item in items:
        only = item.get_closest_marker("logbroker_only")
        if only is not None and kind == "kafka":
            item.add_marker(pytest.mark.skip(reason=f"logbroker only: {_reason(only)}"))
        differs = item.get_closest_marker("logbroker_differs")
        if differs is not None and kind == "logbroker":
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"logbroker: {_reason(differs)}"))


CLUSTER_FIXTURES = frozenset({"zookeeper"})  # tests/cluster/conftest.py: a ZooKeeper JVM (and brokers)
# Fixtures of a wider scope that cost nothing to set up again in another worker.
CHEAP_SHARED_FIXTURES = frozenset({"broker_kind"})


def worker_group(item: pytest.Item) -> str | None:
    """The tests ``make test`` (``--dist loadgroup``) keeps in one pytest-xdist worker; None for a test
    that any worker may run on its own.

    - every test that starts a ZooKeeper (the cluster tests): one worker, so two ZooKeeper JVMs and
      six brokers never compete for the two cores;
    - a test that uses a fixture wider than a function (a module's shared broker, a session's built
      client): its file, so the fixture is set up once;
    - any other test (its own broker, or none): None, scheduled on its own, so a long file is spread
      over the workers instead of bounding one of them.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    if CLUSTER_FIXTURES & set(info.names_closure):
        return "cluster"
    for name, defs in info.name2fixturedefs.items():
        if name in CHEAP_SHARED_FIXTURES:
            continue
        if any(d.scope != "function" and d.baseid for d in defs):  # baseid "": pytest's and plugins' own
            return item.path.relative_to(ROOT).as_posix() if item.path.is_relative_to(ROOT) else str(item.path)
    return None


def group_for_workers(items: list[pytest.Item]) -> None:
    """Put each test in its ``worker_group``, and order the tests so that the longest units are handed
    out first (``make test`` passes --no-loadscope-reorder, so xdist keeps this order): the cluster
    tests, then the files sharing a fixture, then single tests that start a broker, then the rest
    (the unit tests fill the workers' tails)."""
    groups = {id(item): worker_group(item) for item in items}
    for item in items:
        group = groups[id(item)]
        if group is not None:
            _join_group(item, group)

    def rank(item: pytest.Item) -> int:
        group = groups[id(item)]
        if group == "cluster":
            return 0
        if group is not None:
            return 1
        return 2 if _starts_a_process(item) else 3

    items.sort(key=rank)  # stable: the collection order holds within each rank


def _join_group(item: pytest.Item, group: str) -> None:
    """Put ``item`` in xdist group ``group``: its node id gets the suffix ``@group``, which the
    loadgroup scheduler reads as the unit a worker runs whole. This is what xdist does itself for an
    ``xdist_group`` mark, but pytest-xdist 3.8 writes ``item._nodeid``, which pytest 9.2 no longer
    reads (the node id is ``str(item._id)``), so a mark never reached the scheduler."""
    grouped = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id  # pytest >= 9.2

        item._id = coerce_node_id(grouped)
    else:
        item._nodeid = grouped  # type: ignore[attr-defined]  # pytest < 9.2
    assert item.nodeid == grouped, "this pytest keeps node ids elsewhere: update _join_group"


def _starts_a_process(item: pytest.Item) -> bool:
    names = set(getattr(getattr(item, "_fixtureinfo", None), "names_closure", ()))
    return bool(names & {"broker", "broker_factory"})


def _reason(mark: pytest.Mark) -> str:
    reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
    assert reason, f"@pytest.mark.{mark.name} needs a reason"
    return str(reason)


def require_tool(name: str) -> str:
    """The path of a command-line tool the test needs; fail under CI, skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {name}); .ci/run installs it in CI"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port nothing listens on (for "cannot connect" tests). Brokers bind port 0 instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Until something accepts on ``port`` (for servers that report no ready event)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port} within {timeout}s")


class BrokerHandle(Protocol):
    """What a test may do with the broker under test, logbroker or Apache Kafka alike."""

    kind: str  # "logbroker" or "kafka"
    data_dir: Path
    port: int
    listener_ports: dict[str, int]  # every listener's port by name (PLAINTEXT is ``port``)
    overrides: dict[str, str]  # broker properties by Kafka's names; a restart takes them as they are then

    @property
    def bootstrap(self) -> str: ...

    def start(self) -> BrokerHandle: ...

    def stop(self, sig: int = signal.SIGTERM) -> int: ...

    def restart(self, sig: int = signal.SIGTERM) -> None: ...

    def log_text(self) -> str: ...


BrokerFactory = Callable[..., BrokerHandle]  # make(**overrides) -> a started broker


# aiohttp warns (NotAppKeyWarning, a UserWarning) when the application, a request or a response is
# keyed by a plain string instead of web.AppKey / RequestKey / ResponseKey; in the brokers the tests
# start that is an error (a 500 the test sees). By message: -W cannot name aiohttp's own class at
# interpreter start-up, before site-packages is importable.
TYPED_KEYS_WARNING = "error:It is recommended to use web.:UserWarning"


def broker_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS", ""), TYPED_KEYS_WARNING]))
    return env


@dataclass
class BrokerProcess(ServerProcess):
    """A `logbroker serve` subprocess on loopback.

    Both listeners bind port 0; the broker writes the ports it bound to a ready file once it
    accepts connections, and ``start`` returns when that file appears (no free-port race, no
    polling of the port). A restart binds new ports: read ``bootstrap`` again after it.
    """

    data_dir: Path
    log_path: Path
    overrides: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)  # more `serve` flags, e.g. --config FILE
    port: int = 0
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    kind: str = "logbroker"
    start_timeout_s: float = 30.0
    listener_ports: dict[str, int] = field(default_factory=dict)  # every listener's bound port, by name
    stop_timeout_s: float = 20.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ready_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".ready.json")

    def start(self, *, same_ports: bool = False) -> BrokerProcess:
        """Start the broker; ``same_ports`` binds the ports of its previous run (a restart that
        clients must ride out on the address they know) instead of port 0."""
        kafka_port, http_port = (self.port, self.http_port) if same_ports and self.port else (0, 0)
        return self.launch(self.serve_command(f"127.0.0.1:{kafka_port}", f"127.0.0.1:{http_port}"))

    def serve_command(self, kafka_listen: str, http_listen: str) -> list[str]:
        """The `logbroker serve` command line of this broker, listening where it is told."""
        cmd = [sys.executable, "-m", "logbroker.cli", "serve", "--data-dir", str(self.data_dir),
               "--kafka-listen", kafka_listen, "--http-listen", http_listen, "--ready-file", str(self.ready_path)]
        for k, v in self.overrides.items():
            cmd += ["--override", f"{k}={v}"]
        return cmd + self.extra_args

    def launch(self, cmd: list[str]) -> BrokerProcess:
        """Run ``cmd`` (a ``serve_command``, perhaps behind a prefix) and read back the bound ports."""
        self.ready_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT,
                                         env=broker_environment(), preexec_fn=die_with_parent())
        ready = self._wait_ready()
        self.port, self.http_port = int(str(ready["kafka_port"])), int(str(ready["http_port"]))
        listeners = ready.get("listeners", {})
        assert isinstance(listeners, dict)
        self.listener_ports = {name: int(entry["port"]) for name, entry in listeners.items()}
        return self

    def _wait_ready(self) -> dict[str, object]:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.ready_path.exists():  # renamed into place whole by the broker
                loaded: dict[str, object] = json.loads(self.ready_path.read_text())
                return loaded
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited early with code {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            time.sleep(0.02)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"broker wrote no ready file within {self.start_timeout_s}s:\n{self.log_text()[-3000:]}")


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[type]:
    started: list[BrokerProcess] = []

    def make(**overrides: str) -> BrokerProcess:
        n = len(started)
        b = BrokerProcess(data_dir=tmp_path / f"data{n}", log_path=tmp_path / f"broker{n}.log",
                          overrides={k.replace("_", "."): v for k, v in overrides.items()})
        started.append(b)
        return b.start()

    yield make  # type: ignore[misc]
    for b in started:
        if b.proc is not None:
            b.stop()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:  # type: ignore[no-untyped-def]
    """A fresh broker with its own data directory."""
    b: BrokerProcess = broker_factory()
    return b


def launch_broker(kind: str, data_dir: Path, log_path: Path, overrides: dict[str, str],
                  listeners: dict[str, str] | None = None, *, log_level: str | None = None) -> BrokerHandle:
    """Start the broker of ``kind`` with broker properties ``overrides`` (Kafka's names, for both).

    ``listeners`` adds client listeners (name -> security protocol) beside PLAINTEXT, which stays
    the bootstrap listener; the handle's ``listener_ports`` has every listener's port by name.
    ``log_level`` is logbroker's ``serve --log-level`` (for tests that read its log lines); the
    reference broker keeps its own log settings.
    """
    if kind == "kafka":
        from tests.kafka_reference import KafkaBroker, ReferenceError, fetch

        try:
            jars = fetch()
        except ReferenceError as exc:
            if IN_CI:
                pytest.fail(str(exc))
            pytest.skip(str(exc))
        return KafkaBroker(data_dir=data_dir, log_path=log_path, overrides=overrides, jars=jars,
                           extra_listeners=dict(listeners or {})).start()
    props = dict(overrides)
    if listeners:
        # --kafka-listen (port 0) replaces the first listener, PLAINTEXT; the others bind port 0 too.
        props["listeners"] = "PLAINTEXT://127.0.0.1:0" + "".join(f",{n}://127.0.0.1:0" for n in listeners)
        props["listener.security.protocol.map"] = ",".join(
            ["PLAINTEXT:PLAINTEXT", *(f"{n}:{p}" for n, p in listeners.items())])
    extra = ["--log-level", log_level] if log_level else []
    return BrokerProcess(data_dir=data_dir, log_path=log_path, overrides=props, extra_args=extra).start()


@pytest.fixture(scope="session")
def broker_kind(request: pytest.FixtureRequest) -> str:
    """The broker the interop tests drive (``--broker``)."""
    return str(request.config.getoption("--broker"))
