"""Consumer group administration over HTTP, with groups made by kafka-python consumers."""

from __future__ import annotations

import time

from kafka import KafkaConsumer

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error
from tests.interop.kafka_python_subscribe import subscribed


def consume(bootstrap: str, group: str, topic: str, count: int) -> KafkaConsumer:
    """A subscribed consumer that has read and committed ``count`` records (left open)."""
    consumer = subscribed([topic], bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500)
    seen = 0
    deadline = time.monotonic() + 30
    while seen < count and time.monotonic() < deadline:
        seen += sum(len(msgs) for msgs in consumer.poll(timeout_ms=300).values())
    assert seen == count
    consumer.commit()
    return consumer


def test_describe_reset_and_delete_a_group(api: Api, http_broker: BrokerProcess) -> None:
    api.create_topic("grouped", partitions=2)
    api.post("/topics/grouped/records", {"records": [{"value": str(i), "partition": i % 2} for i in range(10)]})
    consumer = consume(http_broker.bootstrap, "readers", "grouped", 10)
    api.post("/topics/grouped/records", {"records": [{"value": "more", "partition": 0}] * 3})
    try:
        listed = api.get("/groups").body["groups"]
        expected = {"group_id": "readers", "protocol_type": "consumer", "state": "Stable", "group_type": "classic"}
        assert expected in listed
        desc = api.get("/groups/readers").body
        assert desc["state"] == "Stable" and len(desc["members"]) == 1
        member = desc["members"][0]
        assert sorted((a["topic"], a["partition"]) for a in member["assignment"]) == [("grouped", 0), ("grouped", 1)]
        lags = {o["partition"]: o for o in desc["offsets"]}
        assert lags[0]["committed_offset"] == 5 and lags[0]["log_end_offset"] == 8 and lags[0]["lag"] == 3
        assert lags[1]["lag"] == 0 and lags[1]["member_id"] == member["member_id"]
        metrics = api.get("/metrics").raw.decode()
        assert 'logbroker_group_lag{group="readers",topic="grouped",partition="0"} 3' in metrics
        assert_error(api.post("/groups/readers/reset-offsets", {"strategy": "earliest"}), 409, "NON_EMPTY_GROUP")
        assert_error(api.delete("/groups/readers"), 409, "NON_EMPTY_GROUP")
    finally:
        consumer.close()
    deadline = time.monotonic() + 10
    while api.get("/groups/readers").body["state"] != "Empty" and time.monotonic() < deadline:
        time.sleep(0.1)

    reset = api.post("/groups/readers/reset-offsets", {"strategy": "earliest"})
    assert reset.status == 200, reset.body
    assert reset.body["offsets"] == [{"topic": "grouped", "partition": 0, "offset": 0},
                                     {"topic": "grouped", "partition": 1, "offset": 0}]
    shifted = api.post("/groups/readers/reset-offsets", {"strategy": "shift", "shift": 2, "topics": ["grouped"]})
    assert [o["offset"] for o in shifted.body["offsets"]] == [2, 2]
    latest = api.post("/groups/readers/reset-offsets", {"strategy": "latest"}, use_msgpack=True)
    assert [o["offset"] for o in latest.body["offsets"]] == [8, 5]
    by_time = api.post("/groups/readers/reset-offsets", {"strategy": "timestamp", "timestamp": 0})
    assert [o["offset"] for o in by_time.body["offsets"]] == [0, 0]
    assert {o["partition"]: o["committed_offset"] for o in api.get("/groups/readers").body["offsets"]} == {0: 0, 1: 0}

    assert_error(api.post("/groups/readers/reset-offsets", {"strategy": "sideways"}), 400, "BAD_REQUEST")
    assert_error(api.post("/groups/readers/reset-offsets", {"strategy": "shift"}), 400, "BAD_REQUEST")
    assert_error(api.post("/groups/readers/reset-offsets", {"strategy": "timestamp", "timestamp": "x"}), 400)
    assert_error(api.post("/groups/readers/reset-offsets", {"strategy": "latest", "topics": ["nope"]}), 404)
    assert_error(api.post("/groups/readers/reset-offsets", raw=b"[1"), 400, "BAD_REQUEST")

    assert api.delete("/groups/readers").status == 204
    assert_error(api.get("/groups/readers"), 404, "GROUP_ID_NOT_FOUND")
    assert "readers" not in [g["group_id"] for g in api.get("/groups").body["groups"]]
