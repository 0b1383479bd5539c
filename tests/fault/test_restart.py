"""Acknowledged records survive a clean restart (SIGTERM) and a crash (kill -9), exactly once."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import BrokerProcess
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_acked_writes_survive(broker_factory, sig: int) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(num_partitions="4")
    records = make_records(5000, f"restart-{sig}")
    acks = produce(broker.bootstrap, "durable", records, "lz4")
    assert len(acks) == 5000
    broker.restart(sig)
    more = make_records(1000, f"restart-{sig}", start=5000)
    acks += produce(broker.bootstrap, "durable", more, "none")
    got = consume_all(broker.bootstrap, "durable", 4, 6000)
    check_round_trip(records + more, got)
    assert sorted((g.partition, g.offset) for g in got) == sorted(acks)
    if sig == signal.SIGTERM:
        assert "stopped cleanly" in broker.log_text()
