"""Consumer groups over HTTP with broker-side assignment (``logbroker/http/routes_consumers.py``
over ``logbroker/groups/http_members.py``).

The first tests run the HTTP app in-process over a real broker core, store and group coordinator
(range assignment: of two members, the one with the smaller member id gets partition 0), with an
injected clock and explicit coordinator ticks, so each step of a rebalance is exact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient, TestServer
from kafka import KafkaAdminClient, KafkaProducer

from logbroker.broker import Broker
from logbroker.config import BrokerConfig
from logbroker.groups import GroupCoordinator
from logbroker.http.app import build_app
from logbroker.http.context import HttpContext
from segments.flush import Durability
from segments.store import Store
from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error, start_http_broker

# ------------------------------------------------------------------------------- in-process harness


@dataclass
class Harness:
    client: TestClient  # type: ignore[type-arg]
    broker: Broker
    coordinator: GroupCoordinator
    now: list[int]

    def tick(self, ms: int) -> None:
        """Time passes; the coordinator expires sessions, as the application's periodic tick does."""
        self.now[0] += ms
        self.coordinator.tick(self.now[0])

    async def call(self, method: str, path: str, body: Any = None, *, use_msgpack: bool = False,
                   expect: int = 200) -> Any:
        kwargs: dict[str, Any] = {}
        if body is not None:
            if use_msgpack:
                kwargs["data"] = msgpack.packb(body, use_bin_type=True)
                kwargs["headers"] = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
            else:
                kwargs["json"] = body
        elif use_msgpack:
            kwargs["headers"] = {"Accept": "application/msgpack"}
        resp = await self.client.request(method, path, **kwargs)
        raw = await resp.read()
        assert resp.status == expect, (resp.status, raw[:500])
        if not raw:
            return None
        if resp.content_type == "application/msgpack":
            return msgpack.unpackb(raw, raw=False)
        return await resp.json()

    async def produce(self, topic: str, partition: int, values: list[str]) -> None:
        await self.call("POST", f"/topics/{topic}/records",
                        {"records": [{"value": v, "partition": partition} for v in values]})

    async def join(self, group: str, topics: list[str], **extra: Any) -> dict[str, Any]:
        reply: dict[str, Any] = await self.call("POST", f"/groups/{group}/members",
                                                {"topics": topics, "auto_offset_reset": "earliest", **extra})
        return reply

    async def poll(self, group: str, member: str, query: str = "", expect: int = 200) -> Any:
        return await self.call("POST", f"/groups/{group}/members/{member}/poll{query}", expect=expect)


def run_app(tmp_path: Path, test: Callable[[Harness], Coroutine[Any, Any, None]], *,
            coordinator: bool = True) -> None:
    async def main() -> None:
        async with _harness(tmp_path, coordinator) as h:
            await test(h)

    asyncio.run(main())


@asynccontextmanager
async def _harness(tmp_path: Path, with_coordinator: bool) -> AsyncIterator[Harness]:
    config = BrokerConfig.load(None, {"offsets.topic.num.partitions": "1", "group.consumer.assignors": "range"})
    now = [1_000_000]
    store = Store.open(tmp_path, config.log_defaults, now_ms=now[0], clock=lambda: now[0])
    durability = Durability()
    broker = Broker(store, config, durability, tmp_path, clock=lambda: now[0])
    coordinator = GroupCoordinator.for_broker(broker)
    coordinator.load(now[0])
    ctx = HttpContext(broker, coordinator=coordinator if with_coordinator else None, clock=lambda: now[0])
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    try:
        yield Harness(client, broker, coordinator, now)
    finally:
        await client.close()
        broker.close()
        durability.close()
        store.close()


def values(reply: dict[str, Any]) -> list[str]:
    return [r["value"] for r in reply["records"]]


def held(reply: dict[str, Any]) -> list[tuple[str, int]]:
    return [(a["topic"], a["partition"]) for a in reply["assignment"]]


def split(first: dict[str, Any], second: dict[str, Any]) -> tuple[int, int]:
    """(partition ``first`` keeps, partition ``second`` gets) of a 2-partition topic under range assignment."""
    return (0, 1) if first["member_id"] < second["member_id"] else (1, 0)


# ------------------------------------------------------------------------------- in-process tests


def test_rebalance_revokes_before_reassigning_and_resumes_from_the_commit(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.broker.create_topic("t", 2, {})
        await h.produce("t", 0, ["a0", "a1", "a2"])
        await h.produce("t", 1, ["b0", "b1"])
        a = await h.join("g", ["t"])
        assert held(a) == [("t", 0), ("t", 1)] and a["member_epoch"] == 1
        assert {(p["partition"], p["offset"]) for p in a["positions"]} == {(0, 0), (1, 0)}
        first = await h.poll("g", a["member_id"], "?max_records=4")
        assert len(first["records"]) == 4
        assert all(set(r) >= {"topic", "partition", "offset", "key", "value", "headers", "timestamp"}
                   for r in first["records"])
        rest = await h.poll("g", a["member_id"])
        assert sorted(values(first) + values(rest)) == ["a0", "a1", "a2", "b0", "b1"]
        # Commit behind what was handed out: a2 and b1 were handed out but not committed.
        await h.call("POST", f"/groups/g/members/{a['member_id']}/commit",
                     {"offsets": [{"topic": "t", "partition": 0, "offset": 2},
                                  {"topic": "t", "partition": 1, "offset": 1}]})

        b = await h.join("g", ["t"])
        assert held(b) == []  # b's share is still owned by a
        kept, moved = split(a, b)
        again = await h.poll("g", a["member_id"])  # a learns of the revocation and acknowledges at once
        assert held(again) == [("t", kept)] and again["records"] == []
        group = h.coordinator.consumer.group("g")
        assert group is not None and not group.members[a["member_id"]].revoking
        b_poll = await h.poll("g", b["member_id"])
        assert held(b_poll) == [("t", moved)]
        # From the committed offset: nothing committed is skipped.
        assert values(b_poll) == (["a2"] if moved == 0 else ["b1"])
        assert b_poll["positions"] == [{"topic": "t", "partition": moved, "offset": 3 if moved == 0 else 2}]

    run_app(tmp_path, test)


def test_commit_while_revocation_is_pending_then_fencing(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.broker.create_topic("t", 2, {})
        await h.produce("t", 0, ["x", "y"])
        await h.produce("t", 1, ["x", "y"])
        a = await h.join("g", ["t"])
        member = a["member_id"]
        assert values(await h.poll("g", member)) == ["x", "y", "x", "y"]
        b = await h.join("g", ["t"])
        kept, moved = split(a, b)
        # a commits its positions before it heard of the revocation: accepted (like a Kafka consumer's
        # commit in onPartitionsRevoked), and the revocation is applied after it.
        done = await h.call("POST", f"/groups/g/members/{member}/commit")
        assert {(o["partition"], o["offset"]) for o in done["offsets"]} == {(0, 2), (1, 2)}
        assert h.coordinator.fetch_offsets("g", [("t", moved)])[("t", moved)].offset == 2  # type: ignore[union-attr]
        hb = await h.call("POST", f"/groups/g/members/{member}/heartbeat")
        assert held(hb) == [("t", kept)]
        # No longer held: refused and nothing written.
        refused = await h.call("POST", f"/groups/g/members/{member}/commit",
                               {"offsets": [{"topic": "t", "partition": moved, "offset": 1}]}, expect=409)
        assert refused["error_code"] == "FENCED_MEMBER_EPOCH" and f"t-{moved}" in refused["message"]
        assert h.coordinator.fetch_offsets("g", [("t", moved)])[("t", moved)].offset == 2  # type: ignore[union-attr]
        stale = await h.call("POST", f"/groups/g/members/{member}/commit", {"member_epoch": 99}, expect=409)
        assert stale["error_code"] == "STALE_MEMBER_EPOCH"
        # b starts after the commit: nothing re-delivered.
        assert (await h.poll("g", b["member_id"]))["records"] == []
        # Expiry: b stops heartbeating; a is kept alive and gets its partition back from the committed offset.
        h.tick(30_000)
        await h.call("POST", f"/groups/g/members/{member}/heartbeat")
        h.tick(30_000)
        back = await h.poll("g", member)
        assert held(back) == [("t", 0), ("t", 1)] and back["records"] == []
        gone = await h.poll("g", b["member_id"], expect=404)
        assert gone["error_code"] == "UNKNOWN_MEMBER_ID"
        await h.poll("g", b["member_id"], expect=404)  # forgotten here too
        await h.call("DELETE", f"/groups/g/members/{member}", expect=204)
        group = h.coordinator.consumer.group("g")
        assert group is not None and group.members == {}
        await h.call("DELETE", f"/groups/g/members/{member}", expect=404)

    run_app(tmp_path, test)


def test_long_poll_wakes_on_append_and_msgpack(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.broker.create_topic("t", 1, {})
        a = await h.join("g", ["t"])
        member = a["member_id"]
        polled = asyncio.ensure_future(h.call("POST", f"/groups/g/members/{member}/poll?wait_ms=5000",
                                              use_msgpack=True))
        await asyncio.sleep(0.2)
        assert not polled.done()
        await h.produce("t", 0, ["late"])
        reply = await asyncio.wait_for(polled, 3)
        assert [r["value"] for r in reply["records"]] == [b"late"]
        assert reply["positions"] == [{"topic": "t", "partition": 0, "offset": 1}]
        committed = await h.call("POST", f"/groups/g/members/{member}/commit", {}, use_msgpack=True)
        assert committed["offsets"] == [{"topic": "t", "partition": 0, "offset": 1}]
        joined = await h.call("POST", "/groups/g2/members", {"pattern": "^t$", "auto_offset_reset": "latest"},
                              use_msgpack=True)
        assert joined["positions"] == [{"topic": "t", "partition": 0, "offset": 1}]

    run_app(tmp_path, test)


def test_bad_input_and_no_coordinator(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        bad: list[Any] = [{}, {"topics": []}, {"topics": "t"}, {"topics": ["t"], "pattern": "t"}, {"pattern": "("},
                          {"topics": ["t"], "assignor": "random"}, {"topics": ["t"], "session_timeout_ms": 0},
                          {"topics": ["t"], "auto_offset_reset": "middle"}, [1]]
        for body in bad:
            reply = await h.call("POST", "/groups/g/members", body, expect=400)
            assert set(reply) == {"error_code", "message"}
        a = await h.join("g", ["t"])
        member = a["member_id"]
        for query in ("?max_records=0", "?wait_ms=-1", "?max_bytes=x", "?value_format=xml"):
            await h.poll("g", member, query, expect=400)
        for body in ({"offsets": [{"topic": "t"}]}, {"offsets": "all"}, {"offsets": [{"topic": "t", "partition": 0,
                                                                                       "offset": -1}]}):
            await h.call("POST", f"/groups/g/members/{member}/commit", body, expect=400)
        await h.poll("g", "nobody", expect=404)
        await h.poll("nogroup", member, expect=404)

    run_app(tmp_path, test)

    async def unavailable(h: Harness) -> None:
        reply = await h.call("POST", "/groups/g/members", {"topics": ["t"]}, expect=503)
        assert reply["error_code"] == "COORDINATOR_NOT_AVAILABLE"

    run_app(tmp_path / "none", unavailable, coordinator=False)


# --------------------------------------------------------------------- a real `logbroker serve` process

SESSION_MS = 2000
BROKER_OVERRIDES = {"group.consumer.heartbeat.interval.ms": "200", "group.consumer.min.heartbeat.interval.ms": "100"}


@pytest.fixture(scope="module")
def consumer_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, BrokerProcess]]:
    b = start_http_broker(tmp_path_factory.mktemp("consumers"), **BROKER_OVERRIDES)
    yield Api(b.http_port), b
    b.stop()


class HttpConsumer:
    """One HTTP group member, as a test drives it: what it received, per (partition, offset)."""

    def __init__(self, api: Api, group: str, topic: str, *, use_msgpack: bool = False) -> None:
        self.api, self.group, self.use_msgpack = api, group, use_msgpack
        reply = api.post(f"/groups/{group}/members", {"topics": [topic], "session_timeout_ms": SESSION_MS,
                                                      "auto_offset_reset": "earliest"}, use_msgpack=use_msgpack)
        assert reply.status == 200, reply.body
        self.member_id: str = reply.body["member_id"]
        self.state: dict[str, Any] = reply.body
        self.received: list[tuple[int, int, Any]] = []

    @property
    def path(self) -> str:
        return f"/groups/{self.group}/members/{self.member_id}"

    def held(self) -> set[int]:
        return {a["partition"] for a in self.state["assignment"]}

    def poll(self, wait_ms: int = 0) -> list[tuple[int, int, Any]]:
        reply = self.api.post(f"{self.path}/poll?wait_ms={wait_ms}&max_records=50", use_msgpack=self.use_msgpack)
        assert reply.status == 200, reply.body
        self.state = reply.body
        got = [(r["partition"], r["offset"], r["value"]) for r in reply.body["records"]]
        assert {p for p, _, _ in got} <= self.held()
        self.received += got
        return got

    def commit(self) -> dict[str, Any]:
        reply = self.api.post(f"{self.path}/commit", use_msgpack=self.use_msgpack)
        assert reply.status == 200, reply.body
        return dict(reply.body)


def _until(condition: Callable[[], bool], step: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        step()


def test_three_members_share_six_partitions_expire_and_leave(consumer_api: tuple[Api, BrokerProcess]) -> None:
    api, broker = consumer_api
    api.create_topic("shared", partitions=6)
    members = [HttpConsumer(api, "sharers", "shared"), HttpConsumer(api, "sharers", "shared", use_msgpack=True),
               HttpConsumer(api, "sharers", "shared")]
    _until(lambda: [len(m.held()) for m in members] == [2, 2, 2],
           lambda: [m.poll() for m in members])
    assert set().union(*(m.held() for m in members)) == set(range(6))

    # Produced over HTTP and with kafka-python: each record goes to exactly one member, once.
    api.post("/topics/shared/records", {"records": [{"value": f"h{i}", "partition": i % 6} for i in range(60)]})
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(30):
        producer.send("shared", value=f"k{i}".encode(), partition=i % 6)
    producer.flush()
    producer.close()
    _until(lambda: sum(len(m.received) for m in members) >= 90, lambda: [m.poll(wait_ms=50) for m in members])
    seen = [(p, o) for m in members for p, o, _ in m.received]
    assert len(seen) == len(set(seen)) == 90
    for m in members:
        assert {p for p, _, _ in m.received} == m.held()
    assert {v if isinstance(v, str) else v.decode() for m in members for _, _, v in m.received} == \
        {f"h{i}" for i in range(60)} | {f"k{i}" for i in range(30)}

    # Fencing: a member cannot commit a partition another member holds.
    first, second, third = members
    foreign = min(second.held())
    refused = api.post(f"{first.path}/commit", {"offsets": [{"topic": "shared", "partition": foreign, "offset": 0}]})
    assert_error(refused, 409, "FENCED_MEMBER_EPOCH")
    assert_error(api.post(f"{first.path}/commit", {"member_epoch": first.state["member_epoch"] + 7}), 409,
                 "STALE_MEMBER_EPOCH")
    for m in members:
        committed = m.commit()
        assert {o["partition"] for o in committed["offsets"]} == m.held()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:  # the commits are in __consumer_offsets, as a Kafka client's are
        offsets = admin.list_group_offsets("sharers")["sharers"]
    finally:
        admin.close()
    assert {tp.partition: meta.offset for tp, meta in offsets.items()} == dict.fromkeys(range(6), 15)
    described = api.get("/groups/sharers")
    assert described.status == 200, described.body
    assert sorted(len(m["assignment"]) for m in described.body["members"]) == [2, 2, 2]
    assert {o["partition"]: o["lag"] for o in described.body["offsets"]} == dict.fromkeys(range(6), 0)
    listed = {g["group_id"]: g for g in api.get("/groups").body["groups"]}
    assert listed["sharers"]["group_type"] == "consumer"

    # New records: the first two members read and commit theirs; the third reads its share but never
    # commits it, then stops polling.
    counts = [len(m.received) for m in members]
    api.post("/topics/shared/records", {"records": [{"value": f"n{i}", "partition": i % 6} for i in range(12)]})
    _until(lambda: all(len(m.received) >= n + 4 for m, n in zip(members, counts, strict=True)),
           lambda: [m.poll(wait_ms=50) for m in members])
    first.commit()
    second.commit()
    uncommitted = {(p, o) for p, o, _ in third.received[counts[2]:]}
    assert len(uncommitted) == 4 and {p for p, _ in uncommitted} == third.held()
    before = {id(m): len(m.received) for m in (first, second)}
    # The two live members keep polling; the third expires after its session timeout and its
    # partitions move to them, which continue from the committed offsets: exactly the third's
    # uncommitted records are handed out again, nothing committed is, nothing is skipped.
    _until(lambda: len(first.held()) == 3 and len(second.held()) == 3,
           lambda: [m.poll(wait_ms=100) for m in (first, second)], timeout=20)
    _until(lambda: sum(len(m.received) - before[id(m)] for m in (first, second)) >= 4,
           lambda: [m.poll(wait_ms=50) for m in (first, second)])
    for m in (first, second):
        m.poll(wait_ms=50)
    after = [(p, o) for m in (first, second) for p, o, _ in m.received[before[id(m)]:]]
    assert sorted(after) == sorted(uncommitted)
    assert_error(api.post(f"{third.path}/poll"), 404, "UNKNOWN_MEMBER_ID")
    assert_error(api.post(f"{third.path}/commit"), 404, "UNKNOWN_MEMBER_ID")

    # Leave: the second member's partitions move to the first at once.
    assert api.delete(second.path).status == 204
    assert_error(api.delete(second.path), 404, "UNKNOWN_MEMBER_ID")
    _until(lambda: len(first.held()) == 6, lambda: first.poll(wait_ms=100))
    hb = api.post(f"{first.path}/heartbeat")
    assert hb.status == 200 and len(hb.body["assignment"]) == 6 and len(hb.body["positions"]) == 6
    assert api.delete(first.path).status == 204
    assert "Traceback" not in broker.log_text()
