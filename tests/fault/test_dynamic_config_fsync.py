"""Dynamic broker config changes wait on their fsync, in order, but the event loop does not.

The broker runs with every fsync of its dynamic config file (``dynamic-broker-configs.json``,
written through a ``.tmp`` file) held back ``DELAY_S`` while a marker file exists. Two
IncrementalAlterConfigs on the BROKER resource, from two clients a moment apart, must each be
answered only once their file is durable, the second behind the first (so at least about twice
``DELAY_S``) and the second's value the one that stays; acks=1 produce round trips on another
connection meanwhile stay well under ``DELAY_S``. The broker is then killed with SIGKILL right
after the answers and restarted: the last value is there.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from logbroker.config import DYNAMIC_CONFIGS_FILE
from tests.conftest import BrokerProcess
from tests.fault.slow_fsync import launch_slow_fsync, produce_round_trips

pytestmark = pytest.mark.logbroker_only("fakes a slow fsync inside the broker process")

DELAY_S = 1.5
MAX_ROUND_TRIP_S = DELAY_S / 2
GAP_S = 0.3  # between the two changes: the second is asked while the first is being written


def _start(broker: BrokerProcess, marker: Path, monkeypatch: pytest.MonkeyPatch) -> BrokerProcess:
    return launch_slow_fsync(broker, marker, Path(DYNAMIC_CONFIGS_FILE).stem, DELAY_S, monkeypatch)


def _set_retention(bootstrap: str, broker_id: str, value: str) -> tuple[float, float]:
    """(seconds the change took, monotonic time its answer arrived)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, broker_id, incremental_configs=[
        ConfigEntry("log.retention.ms", value, incremental_operation=AlterConfigOpType.SET)])
    start = time.monotonic()
    admin.incremental_alter_configs([resource], request_timeout=60)[resource].result(timeout=60)
    end = time.monotonic()
    return end - start, end


def _retention(bootstrap: str, broker_id: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, broker_id)
    described = admin.describe_configs([resource], request_timeout=30)[resource].result(timeout=30)
    return str(described["log.retention.ms"].value)


def test_dynamic_broker_configs_wait_for_their_fsync_in_order_off_the_loop_and_survive_kill9(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "slow-dynamic-configs"
    broker = _start(BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log"), marker, monkeypatch)
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("busy", 1)], operation_timeout=30)["busy"].result(timeout=30)
        broker_id = str(next(iter(admin.list_topics(timeout=30).brokers)))
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 0})
        producer.produce("busy", b"warm")
        assert producer.flush(30) == 0

        marker.touch()
        took: dict[str, float] = {}
        answered: dict[str, float] = {}

        def alter(value: str) -> None:
            took[value], answered[value] = _set_retention(broker.bootstrap, broker_id, value)

        with produce_round_trips(producer, "busy") as round_trips:
            first = threading.Thread(target=alter, args=("111111",))
            second = threading.Thread(target=alter, args=("222222",))
            first.start()
            time.sleep(GAP_S)
            second.start()
            first.join(timeout=120)
            second.join(timeout=120)
        broker.stop(signal.SIGKILL)  # right after both answers

        assert took.keys() == {"111111", "222222"}, took
        assert took["111111"] >= DELAY_S, f"answered before the fsync: {took}"
        # Written one after the other: the second answer comes a whole fsync after the first (written
        # together, they would come GAP_S apart). Measured between the answers, so neither client's
        # start-up time on a loaded machine counts.
        assert answered["222222"] - answered["111111"] >= DELAY_S * 0.8, \
            f"the second change did not wait behind the first: {took}, answered {answered}"
        assert len(round_trips) >= 10, round_trips
        assert max(round_trips) < MAX_ROUND_TRIP_S, (f"a produce round trip took {max(round_trips):.2f}s while the "
                                                     f"config fsync took {DELAY_S}s (changes took {took})")

        marker.unlink()
        broker = _start(broker, marker, monkeypatch)
        assert _retention(broker.bootstrap, broker_id) == "222222"
        assert "Traceback" not in broker.log_text()
    finally:
        if broker.proc is not None and broker.proc.poll() is None:
            broker.stop()
