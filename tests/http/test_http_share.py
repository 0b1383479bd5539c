"""Share groups over HTTP (``logbroker/http/routes_share.py``) on a real `logbroker serve`: join,
receive with delivery ids and lock expiry, accept / release / reject, long polling, lock expiry
and the delivery limit, leaving, describe, and a restart that keeps acknowledgements."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error, start_http_broker

FAST = {"group.share.record.lock.duration.ms": "1500", "group.share.min.record.lock.duration.ms": "1000",
        "group.share.delivery.count.limit": "2",
        "share.coordinator.state.topic.num.partitions": "2"}


@pytest.fixture
def share_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path, **FAST)
    yield b
    b.stop()


def produce(api: Api, topic: str, values: list[str]) -> None:
    reply = api.post(f"/topics/{topic}/records", {"records": [{"value": v} for v in values]})
    assert reply.status == 200, reply.body


def join(api: Api, group: str, topic: str) -> str:
    reply = api.post(f"/share-groups/{group}/members", {"topics": [topic], "auto_offset_reset": "earliest"})
    assert reply.status == 200, reply.body
    assert reply.body["assignment"] == [{"topic": topic, "partition": 0}]
    return str(reply.body["member_id"])


def receive(api: Api, group: str, member: str, n: int, wait_ms: int = 0) -> list[dict]:  # type: ignore[type-arg]
    reply = api.get(f"/share-groups/{group}/members/{member}/records?max={n}&wait_ms={wait_ms}")
    assert reply.status == 200, reply.body
    return list(reply.body["records"])


def ack(api: Api, group: str, member: str, records: list[dict], kind: str) -> list[str | None]:  # type: ignore[type-arg]
    reply = api.post(f"/share-groups/{group}/members/{member}/acks",
                     {"acks": [{"delivery_id": r["delivery_id"], "type": kind} for r in records]})
    assert reply.status == 200, reply.body
    return [r["error_code"] for r in reply.body["results"]]


def test_queue_over_http(share_broker: BrokerProcess) -> None:
    api = Api(share_broker.http_port)
    api.create_topic("work")
    produce(api, "work", [f"job-{i}" for i in range(6)])
    a, b = join(api, "pool", "work"), join(api, "pool", "work")
    got_a = receive(api, "pool", a, 2)
    got_b = receive(api, "pool", b, 2)
    assert [r["value"] for r in got_a] == ["job-0", "job-1"] and [r["value"] for r in got_b] == ["job-2", "job-3"]
    first = got_a[0]
    assert first["delivery_id"] == "work/0/0/1" and first["delivery_count"] == 1
    assert first["lock_expires_ms"] > int(time.time() * 1000)
    assert ack(api, "pool", a, got_a, "accept") == [None, None]
    assert ack(api, "pool", a, got_a[:1], "accept") == ["INVALID_RECORD_STATE"]  # not twice
    assert ack(api, "pool", a, got_b[:1], "accept") == ["INVALID_RECORD_STATE"]  # b holds it
    assert ack(api, "pool", b, got_b, "release") == [None, None]
    again = receive(api, "pool", a, 10)
    assert [(r["offset"], r["delivery_count"]) for r in again] == [(2, 2), (3, 2), (4, 1), (5, 1)]
    assert ack(api, "pool", a, again[:1], "reject") == [None]
    # The lock of the rest expires: 3 is at the delivery limit (2) and is archived, 4 and 5 come back.
    time.sleep(1.8)
    later = receive(api, "pool", b, 10)
    assert [(r["offset"], r["delivery_count"]) for r in later] == [(4, 2), (5, 2)]
    assert ack(api, "pool", b, later, "accept") == [None, None]
    desc = api.get("/share-groups/pool").body
    assert desc["state"] == "Stable" and len(desc["members"]) == 2
    assert desc["partitions"][0]["start_offset"] == 6 and desc["partitions"][0]["acquired"] == 0
    listed = api.get("/groups").body
    assert any(g.get("group_id") == "pool" for g in listed["groups"]), listed


def test_long_poll_leave_and_restart(share_broker: BrokerProcess) -> None:
    api = Api(share_broker.http_port)
    api.create_topic("tasks")
    member = join(api, "q", "tasks")
    timer = threading.Timer(0.5, produce, (api, "tasks", ["a", "b", "c"]))
    timer.start()
    started = time.monotonic()
    got = receive(api, "q", member, 1, wait_ms=10_000)
    timer.join()
    assert [r["value"] for r in got] == ["a"] and time.monotonic() - started < 5
    assert ack(api, "q", member, got, "accept") == [None]
    held = receive(api, "q", member, 1)
    assert [r["value"] for r in held] == ["b"]
    assert api.delete(f"/share-groups/q/members/{member}").status == 204  # b is released
    assert_error(api.get(f"/share-groups/q/members/{member}/records"), 404, "UNKNOWN_MEMBER_ID")
    share_broker.restart()
    api = Api(share_broker.http_port)
    deadline = time.time() + 10
    while api.get("/health").status != 200 and time.time() < deadline:
        time.sleep(0.1)
    member = join(api, "q", "tasks")
    after = receive(api, "q", member, 10)
    assert [(r["value"], r["delivery_count"]) for r in after] == [("b", 2), ("c", 1)]  # a stays acknowledged


def test_bad_requests(share_broker: BrokerProcess) -> None:
    api = Api(share_broker.http_port)
    assert_error(api.post("/share-groups/g/members", {"topics": []}), 400)
    assert_error(api.post("/share-groups/g/members", {"topics": ["t"], "auto_offset_reset": "x"}), 400)
    negative = api.post("/share-groups/g/members", {"topics": ["t"], "auto_offset_reset": "by_duration:-PT1H"})
    assert_error(negative, 400)
    assert "by_duration" in negative.body["message"]
    assert_error(api.get("/share-groups/g/members/nobody/records"), 404, "UNKNOWN_MEMBER_ID")
    assert_error(api.get("/share-groups/nothing"), 404, "GROUP_ID_NOT_FOUND")
    api.create_topic("t")
    member = join(api, "g", "t")
    assert_error(api.post(f"/share-groups/g/members/{member}/acks", {"acks": [{"delivery_id": "nope"}]}), 400)
    assert_error(api.post(f"/share-groups/g/members/{member}/acks",
                          {"acks": [{"delivery_id": "t/0/0/1", "type": "maybe"}]}), 400)
    assert ack(api, "g", member, [{"delivery_id": "t/0/0/1"}], "accept") == ["INVALID_RECORD_STATE"]


def test_groups_route_describes_a_share_group(share_broker: BrokerProcess) -> None:
    """``GET /groups`` and ``GET /groups/{group}``, the routes every group type shares, tell a share
    group's type, state, members with their assignment, each share-partition's start offset (as the
    committed offset), lag, and its in-flight records by state with a delivery-count histogram."""
    api = Api(share_broker.http_port)
    api.create_topic("tasks")
    produce(api, "tasks", [f"t-{i}" for i in range(8)])
    member = join(api, "ops", "tasks")
    first = receive(api, "ops", member, 6)
    assert ack(api, "ops", member, first[:2], "accept") == [None, None]
    assert ack(api, "ops", member, first[2:3], "reject") == [None]
    assert ack(api, "ops", member, first[3:4], "release") == [None]
    again = receive(api, "ops", member, 1)  # t-3 once more: its second delivery
    assert [r["offset"] for r in again] == [3]
    listed = api.get("/groups").body["groups"]
    assert {"group_id": "ops", "protocol_type": "share", "state": "Stable", "group_type": "share"} in listed
    described = api.get("/groups/ops")
    assert described.status == 200, described.body
    body = described.body
    assert (body["group_type"], body["state"], body["protocol"]) == ("share", "Stable", "simple")
    assert [(m["member_id"], m["assignment"]) for m in body["members"]] == [
        (member, [{"topic": "tasks", "partition": 0}])]
    # 0, 1 accepted and 2 rejected: the start offset is 3; 3, 4, 5 are acquired; 6, 7 never delivered.
    assert body["offsets"] == [{"topic": "tasks", "partition": 0, "committed_offset": 3, "log_end_offset": 8,
                                "lag": 5, "member_id": None, "metadata": ""}]
    assert body["share_partitions"] == [{
        "topic": "tasks", "partition": 0, "start_offset": 3, "end_offset": 6, "log_end_offset": 8, "lag": 5,
        "in_flight": 3, "acquired": 3, "available": 0, "acknowledged": 0, "archived": 0,
        "delivery_histogram": [{"delivery_count": 1, "records": 2}, {"delivery_count": 2, "records": 1}]}]
    assert api.get("/share-groups/ops").body["partitions"][0]["delivery_histogram"] == \
        body["share_partitions"][0]["delivery_histogram"]


def test_a_join_may_start_the_group_by_duration(share_broker: BrokerProcess) -> None:
    """A join's ``auto_offset_reset`` takes ``by_duration:<ISO-8601>`` as the group config does: the
    group's share-partition starts at the first record at most that old."""
    api = Api(share_broker.http_port)
    api.create_topic("aged")
    now_ms = int(time.time() * 1000)
    reply = api.post("/topics/aged/records", {"records": [
        {"value": v, "timestamp": now_ms - 7_200_000 if v < "c" else now_ms} for v in ("a", "b", "c", "d")]})
    assert reply.status == 200, reply.body
    joined = api.post("/share-groups/recent/members", {"topics": ["aged"], "auto_offset_reset": "by_duration:PT1H"})
    assert joined.status == 200, joined.body
    configs = {c["name"]: c["value"] for c in api.get("/groups/recent/configs").body["configs"]}
    assert configs["share.auto.offset.reset"] == "by_duration:PT1H"
    got = receive(api, "recent", str(joined.body["member_id"]), 10)
    assert [r["value"] for r in got] == ["c", "d"]
