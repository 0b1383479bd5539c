"""``logbroker serve``: a Kafka server.properties is honoured, flags win, what cannot be honoured is
refused, and a port in use is reported by address without leaving a data directory behind.

Every test runs a real ``logbroker serve`` process and stops it by its pid.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, wait_for_port
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "logbroker.cli", "serve", *args]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _start(started: list[subprocess.Popen[bytes]], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(_serve(*args), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    started.append(proc)
    return proc


def _round_trip(port: int, topic: str) -> None:
    records = make_records(50, topic)
    produce(f"127.0.0.1:{port}", topic, records, "none")
    check_round_trip(records, consume_all(f"127.0.0.1:{port}", topic, 1, len(records), timeout_s=20))


def test_listeners_advertised_listeners_and_log_dirs_from_the_file_are_honoured(tmp_path: Path, started) -> None:  # type: ignore[no-untyped-def]
    port, http = free_port(), free_port()
    data = tmp_path / "kafka-logs"
    config = tmp_path / "server.properties"
    config.write_text(f"process.roles=broker,controller\ncontroller.listener.names=CONTROLLER\n"
                      f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{free_port()}\n"
                      f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={data}\nnum.partitions=1\n")
    proc = _start(started, tmp_path / "broker.log", "--config", str(config), "--http-listen", f"127.0.0.1:{http}")
    wait_for_port(port, proc)
    _round_trip(port, "from-file")
    assert (data / "from-file-0").is_dir()
    assert not (ROOT / "data" / "from-file-0").exists()


def test_flags_win_over_the_file(tmp_path: Path, started) -> None:  # type: ignore[no-untyped-def]
    file_port, port, http = free_port(), free_port(), free_port()
    config = tmp_path / "server.properties"
    config.write_text(f"listeners=PLAINTEXT://127.0.0.1:{file_port}\nlog.dirs={tmp_path / 'from-file'}\n")
    proc = _start(started, tmp_path / "broker.log", "--config", str(config), "--kafka-listen", f"127.0.0.1:{port}",
                  "--data-dir", str(tmp_path / "from-flag"), "--http-listen", f"127.0.0.1:{http}")
    wait_for_port(port, proc)
    _round_trip(port, "from-flags")
    assert (tmp_path / "from-flag" / "from-flags-0").is_dir()
    assert not (tmp_path / "from-file").exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", file_port)) != 0


@pytest.mark.parametrize(("lines", "message"), [
    ("log.dirs={a},{b}\n", "log.dirs lists 2 directories"),
    ("listeners=SSL://127.0.0.1:0\nlog.dirs={a}\n", "listener SSL: TLS needs ssl.keystore.location"),
    ("listeners=SASL_SSL://127.0.0.1:0\nssl.keystore.location={a}.pem\nlog.dirs={a}\n",
     "listener SASL_SSL: cannot load the TLS key store"),
    ("listeners=SASL_PLAINTEXT://127.0.0.1:0\nsasl.enabled.mechanisms=GSSAPI\nlog.dirs={a}\n",
     "sasl.enabled.mechanisms GSSAPI"),
    ("listeners=PLAINTEXT://127.0.0.1:9092\nadvertised.listeners=EXTERNAL://x:1\nlog.dirs={a}\n",
     "EXTERNAL is not a listener logbroker serves"),
], ids=["two-log-dirs", "ssl-without-keys", "unreadable-key-store", "unknown-mechanism", "foreign-advertised"])
def test_a_setting_that_cannot_be_honoured_is_refused_before_anything_starts(tmp_path: Path, lines: str,
                                                                             message: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    config = tmp_path / "server.properties"
    config.write_text(lines.format(a=a, b=b))
    result = subprocess.run(_serve("--config", str(config), "--http-listen", f"127.0.0.1:{free_port()}"),
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not a.exists() and not b.exists()


@pytest.mark.parametrize("which", ["kafka", "http"])
def test_a_port_in_use_is_named_and_no_data_directory_is_created(tmp_path: Path, which: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        kafka = taken if which == "kafka" else free_port()
        http = taken if which == "http" else free_port()
        data = tmp_path / "data"
        result = subprocess.run(_serve("--data-dir", str(data), "--kafka-listen", f"127.0.0.1:{kafka}",
                                       "--http-listen", f"127.0.0.1:{http}"),
                                capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken}" in result.stderr, result.stderr
    assert "in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data.exists()


# The console tools' Kafka clients, SCRAM (scramp) and key store formats (cryptography): a broker
# without TLS and SCRAM listeners needs none of them.
UNNEEDED_LIBRARIES = ("kafka", "aiokafka", "confluent_kafka", "scramp", "cryptography")


def test_serve_loads_no_library_it_does_not_need(tmp_path: Path, started) -> None:  # type: ignore[no-untyped-def]
    """The console tools' client libraries are imported by the tools' commands only, SCRAM's and
    the key stores' by the first SCRAM exchange or TLS listener: a plain broker started, serving
    and stopped never loads them (its start-up is that much shorter)."""
    ready = tmp_path / "ready.json"
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "logbroker.cli", "serve",
                                 "--data-dir", str(tmp_path / "data"), "--kafka-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0", "--ready-file", str(ready)],
                                cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    started.append(proc)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in log_path.read_text().splitlines() if line.startswith("import time:")}
    assert "logbroker" in imported and "aiohttp" in imported  # the import log is read right
    assert not imported & set(UNNEEDED_LIBRARIES), sorted(imported & set(UNNEEDED_LIBRARIES))
