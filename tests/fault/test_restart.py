"""Acknowledged records survive a clean restart (SIGTERM) and a crash (kill -9), exactly once."""

from __future__ import annotations

import signal

import pytest

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerProcess
from tests.interop.expected import check_round_trip, make_records
from tests.interop.rawclient import RawClient
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



def test_deleted_records_stay_deleted_after_kill9(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """DeleteRecords is answered only once the log-start-offset checkpoint (written off the event
    loop) is durable: a kill -9 right after the answer keeps the new low watermarks."""
    broker: BrokerProcess = broker_factory(num_partitions="2")
    acks = produce(broker.bootstrap, "trimmed", make_records(400, "delete-records"), "none")
    ends = {p: 1 + max(o for q, o in acks if q == p) for p in (0, 1)}
    cut = min(40, ends[0] - 1)
    with RawClient(broker.port) as c:
        body = c.call(ApiKey.DELETE_RECORDS, 2, {"timeout_ms": 5000, "topics": [
            {"name": "trimmed", "partitions": [{"partition_index": 0, "offset": cut},
                                               {"partition_index": 1, "offset": -1}]}]})
    answered = {p["partition_index"]: (p["error_code"], p["low_watermark"]) for p in body["topics"][0]["partitions"]}
    assert answered == {0: (0, cut), 1: (0, ends[1])}
    broker.restart(signal.SIGKILL)
    got = consume_all(broker.bootstrap, "trimmed", 2, ends[0] - cut)
    assert sorted((g.partition, g.offset) for g in got) == [(0, o) for o in range(cut, ends[0])]
