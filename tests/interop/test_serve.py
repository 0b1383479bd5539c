"""`logbroker serve` itself: configuration from a file and overrides, clear errors, clean stops."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.conftest import ROOT, BrokerProcess

pytestmark = pytest.mark.logbroker_only(reason="`logbroker serve` itself: its flags, config file, data directory "
                                               "layout, log lines and exit codes")


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logbroker.cli", "serve", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)


def test_config_file_and_overrides_apply(tmp_path: Path) -> None:
    config = tmp_path / "server.properties"
    config.write_text("# as in Kafka's server.properties\nnum.partitions=3\nlog.segment.bytes=1048576\n")
    broker = BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log",
                           overrides={"num.partitions": "6"}, extra_args=["--config", str(config)]).start()
    try:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        producer.send("auto-sized", b"x").get(20)  # auto-created: the override beats the file's 3
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        assert consumer.partitions_for_topic("auto-sized") == set(range(6))
        consumer.close()
    finally:
        assert broker.stop(signal.SIGTERM) == 0
    log = broker.log_text()
    assert "Kafka listener on 127.0.0.1" in log and "HTTP listener on 127.0.0.1" in log
    assert "stopped cleanly" in log
    partition_dirs = sorted(p.name for p in (tmp_path / "data").glob("auto-sized-*"))
    assert partition_dirs == [f"auto-sized-{p}" for p in range(6)]  # in the data directory given


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    result = serve("--data-dir", str(tmp_path / "d"), "--override", "num.partitions=lots")
    assert result.returncode != 0
    assert "num.partitions" in result.stderr and "Traceback" not in result.stderr
    result = serve("--data-dir", str(tmp_path / "d"), "--config", str(tmp_path / "missing.properties"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    result = serve("--data-dir", str(tmp_path / "d"), "--kafka-listen", "nonsense")
    assert result.returncode != 0 and "HOST:PORT" in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = serve("--data-dir", str(tmp_path / "d"), "--kafka-listen", f"127.0.0.1:{port}",
                       "--http-listen", "127.0.0.1:0")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "cannot start" in result.stderr, result.stderr[-2000:]


def test_ready_file_reports_the_ports_bound_for_port_0(tmp_path: Path) -> None:
    broker = BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log").start()
    try:
        ready = json.loads(broker.ready_path.read_text())
        assert ready["kafka_port"] == broker.port > 0 and ready["http_port"] == broker.http_port > 0
        assert ready["kafka_port"] != ready["http_port"]
        with socket.create_connection(("127.0.0.1", ready["http_port"]), timeout=5):
            pass
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        assert consumer.topics() == set()  # the advertised address is the bound port, not 0
        consumer.close()
    finally:
        broker.stop()
