"""The HTTP API's partition views, topic statistics and a group's lag, lag history and offset resets
show every partition's true figures whichever broker is asked, though a broker holds only the
partitions it replicates: the others are asked of their leaders (ListOffsets and DescribeLogDirs on
the inter-broker listener, over one pooled connection per leader). Three real brokers, a topic with
replication factor 1, so each broker holds only its own partitions."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_http_any_broker import _coordinator
from tests.cluster.integration.test_replication import create_topic
from tests.http.http_api import Api

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and HTTP API (Kafka has neither)")

TOPIC = "spread"
PARTITIONS = 6
BASE_MS = 1_700_000_000_000


def _produce(bootstrap: str) -> dict[int, int]:
    """Partition p gets p + 2 records, record i stamped BASE_MS + i seconds; returns the counts."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    counts = {p: p + 2 for p in range(PARTITIONS)}
    for p, n in counts.items():
        for i in range(n):
            producer.produce(TOPIC, value=b"v%d" % i, partition=p, timestamp=BASE_MS + i * 1000)
    assert producer.flush(20) == 0
    return counts


def _leaders(bootstrap: str) -> dict[int, int]:
    """Each partition's leader, once every partition has one."""
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def led() -> dict[int, int] | None:
        parts = admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        found = {p: m.leader for p, m in parts.items()}
        return found if len(found) == PARTITIONS and min(found.values()) > 0 else None

    found = wait_until(led, 20, f"a leader for each partition of {TOPIC}")
    assert isinstance(found, dict)
    return found


def _commit(bootstrap: str, group: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(TOPIC, p, offset) for p in range(PARTITIONS)], asynchronous=False)
    finally:
        consumer.close()


def _by_partition(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(r["partition"]): r for r in rows}


def _group_not_on(port: int, broker_id: int) -> str:
    """A group whose coordinator is another broker (the first FindCoordinator creates the offsets topic)."""
    def found() -> str | None:
        return next((f"lagging-{i}" for i in range(300) if _coordinator(port, f"lagging-{i}") != broker_id), None)

    group = wait_until(found, 30, f"a group coordinated away from broker {broker_id}")
    assert isinstance(group, str)
    return group


def _kafka_connections(http_port: int) -> int:
    """Connections a broker's Kafka listeners accepted since start (its /metrics)."""
    text = Api(http_port).get("/metrics").raw.decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("logbroker_kafka_connections_total"))
    return int(float(line.split()[-1]))


def test_every_broker_shows_the_true_offsets_of_every_partition(cluster: Cluster) -> None:
    create_topic(cluster.bootstrap, TOPIC, PARTITIONS, rf=1)
    leaders = _leaders(cluster.bootstrap)
    assert set(leaders.values()) == {1, 2, 3}, leaders  # each broker holds some partitions, none all
    counts = _produce(cluster.bootstrap)
    # Each leader's own size of its partitions: what every other broker must show for them.
    sizes: dict[int, int] = {}
    for broker_id, b in cluster.brokers.items():
        own = _by_partition(Api(b.http_port).get(f"/topics/{TOPIC}/partitions").body["partitions"])
        sizes.update({p: row["size_bytes"] for p, row in own.items() if leaders[p] == broker_id})
    assert all(size > 0 for size in sizes.values()) and len(sizes) == PARTITIONS, sizes

    for broker_id, b in cluster.brokers.items():
        api = Api(b.http_port)
        described = api.get(f"/topics/{TOPIC}")
        assert described.status == 200, described.body
        paged = api.get(f"/topics/{TOPIC}/partitions")
        assert paged.status == 200, paged.body
        for view in (_by_partition(described.body["partitions"]), _by_partition(paged.body["partitions"])):
            for p, n in counts.items():
                row = view[p]
                assert "error" not in row, (broker_id, row)
                assert (row["log_start_offset"], row["log_end_offset"], row["size_bytes"]) == (0, n, sizes[p]), \
                    (broker_id, row)
        for p, row in _by_partition(paged.body["partitions"]).items():
            assert (row["leader"], row["replicas"], row["isr"]) == (leaders[p], [leaders[p]], [leaders[p]]), row
            # DescribeLogDirs carries no segment count: known only where the log is.
            assert (row["segments"] > 0) if leaders[p] == broker_id else (row["segments"] == -1), (broker_id, row)
        # The whole cluster's figures, whichever broker is asked.
        assert [b["node_id"] for b in api.get("/stats").body["brokers"]] == [1, 2, 3], broker_id
        stats = api.get(f"/stats/topics?filter={TOPIC}")
        assert stats.status == 200, stats.body
        row = next(t for t in stats.body["topics"] if t["name"] == TOPIC)
        assert (row["records"], row["size_bytes"]) == (sum(counts.values()), sum(sizes.values())), (broker_id, row)
        assert "error" not in row, (broker_id, row)

    # One connection per leader serves every view: 30 views through broker 1 open at most one more
    # connection on each other broker (the first view may open it).
    before = {i: _kafka_connections(cluster.brokers[i].http_port) for i in (2, 3)}
    api_1 = Api(cluster.brokers[1].http_port)
    for _ in range(30):
        assert api_1.get(f"/topics/{TOPIC}/partitions").status == 200
    after = {i: _kafka_connections(cluster.brokers[i].http_port) for i in (2, 3)}
    assert all(after[i] - before[i] <= 1 for i in (2, 3)), (before, after)

    group = "lagging"
    _commit(cluster.bootstrap, group, 1)
    for broker_id, b in cluster.brokers.items():
        api = Api(b.http_port)
        desc = api.get(f"/groups/{group}")
        assert desc.status == 200, desc.body
        offsets = _by_partition(desc.body["offsets"])
        assert {p: (r["committed_offset"], r["log_end_offset"], r["lag"]) for p, r in offsets.items()} == \
            {p: (1, n, n - 1) for p, n in counts.items()}, (broker_id, desc.body)

        def reset(strategy: str, **extra: object) -> dict[int, int]:
            answer = api.post(f"/groups/{group}/reset-offsets",  # noqa: B023 (called in this iteration only)
                              {"strategy": strategy, "dry_run": True, **extra})
            assert answer.status == 200, (broker_id, strategy, answer.body)  # noqa: B023
            return {int(r["partition"]): int(r["offset"]) for r in answer.body["offsets"]}

        assert reset("earliest") == dict.fromkeys(counts, 0), broker_id
        assert reset("latest") == counts, broker_id
        # The first record at or after BASE_MS + 2.5 s is record 3 (record 2 is at + 2 s); none: the log end.
        assert reset("timestamp", timestamp=BASE_MS + 2500) == {p: min(3, n) for p, n in counts.items()}, broker_id

    # /stats/groups lists the groups the asked broker coordinates: the coordinator's row has the whole lag.
    rows = [r for b in cluster.brokers.values()
            for r in Api(b.http_port).get(f"/stats/groups?filter={group}").body["groups"] if r["group_id"] == group]
    assert len(rows) == 1 and rows[0]["total_lag"] == sum(n - 1 for n in counts.values()), rows
    assert "lag_unknown_partitions" not in rows[0], rows
    # So does its lag history, sampled every 2 s: every partition's lag through its leader.
    coordinator = Api(cluster.brokers[_coordinator(cluster.brokers[1].port, group)].http_port)

    def full_sample() -> dict[str, Any] | None:
        hist = coordinator.get(f"/groups/{group}/lag-history").body
        samples = hist["samples"]
        return hist if samples and samples[-1]["total"] == sum(n - 1 for n in counts.values()) else None

    hist = wait_until(full_sample, 20, "a lag-history sample counting every partition")
    assert isinstance(hist, dict)
    last = hist["samples"][-1]
    assert "error" not in last, last
    assert dict(zip([p["partition"] for p in hist["partitions"]], last["lags"], strict=True)) == \
        {p: n - 1 for p, n in counts.items()}, hist

    # A real reset through broker 1 commits the leaders' offsets.
    done = Api(cluster.brokers[1].http_port).post(f"/groups/{group}/reset-offsets", {"strategy": "latest"})
    assert done.status == 200, done.body
    desc = Api(cluster.brokers[2].http_port).get(f"/groups/{group}")
    assert {int(r["partition"]): r["committed_offset"] for r in desc.body["offsets"]} == counts, desc.body


@pytest.mark.slow
def test_a_leader_that_cannot_be_asked_is_named_not_shown_as_empty(cluster: Cluster) -> None:
    create_topic(cluster.bootstrap, TOPIC, PARTITIONS, rf=1)
    leaders = _leaders(cluster.bootstrap)
    assert 3 in leaders.values(), leaders
    counts = _produce(cluster.bootstrap)
    port = cluster.brokers[1].port
    group = _group_not_on(port, 3)
    coordinator = _coordinator(port, group)
    _commit(cluster.bootstrap, group, 1)
    cluster.brokers[3].stop()

    api = Api(cluster.brokers[1].http_port)

    def partitions_of_3_unknown() -> bool:
        rows = _by_partition(api.get(f"/topics/{TOPIC}").body["partitions"])
        return all("error" in rows[p] for p, leader in leaders.items() if leader == 3)

    wait_until(partitions_of_3_unknown, 20, "broker 1 naming the partitions broker 3 led as not answered")
    rows = _by_partition(api.get(f"/topics/{TOPIC}/partitions").body["partitions"])
    for p, leader in leaders.items():
        if leader == 3:
            assert (rows[p]["log_start_offset"], rows[p]["log_end_offset"], rows[p]["size_bytes"]) == (-1, -1, -1), \
                rows[p]
            assert rows[p]["error"], rows[p]
        else:
            assert "error" not in rows[p] and rows[p]["log_end_offset"] == counts[p], rows[p]
            assert rows[p]["size_bytes"] > 0, rows[p]
    # The topic's cluster-wide figures say which broker could not be asked, never a silent 0.
    row = next(t for t in api.get(f"/stats/topics?filter={TOPIC}").body["topics"] if t["name"] == TOPIC)
    assert "broker 3" in row["error"], row
    assert row["records"] == sum(counts[p] for p, leader in leaders.items() if leader != 3), row

    desc = api.get(f"/groups/{group}")
    assert desc.status == 200, desc.body
    for p, row in _by_partition(desc.body["offsets"]).items():
        if leaders[p] == 3:
            assert row["error"] and row["lag"] is None and row["log_end_offset"] == -1, row
        else:
            assert "error" not in row and row["lag"] == counts[p] - 1, row
    on_coordinator = Api(cluster.brokers[coordinator].http_port)  # /stats/groups lists its own groups
    stats = [r for r in on_coordinator.get(f"/stats/groups?filter={group}").body["groups"] if r["group_id"] == group]
    led_by_3 = [p for p, leader in leaders.items() if leader == 3]
    assert len(stats) == 1 and stats[0]["lag_unknown_partitions"] == len(led_by_3), stats
    assert stats[0]["total_lag"] == sum(counts[p] - 1 for p in leaders if p not in led_by_3), stats
    # The coordinator's lag history marks the partitions it could not ask about as null, and says why.
    def sample_with_error() -> dict[str, Any] | None:
        samples = on_coordinator.get(f"/groups/{group}/lag-history").body["samples"]
        return samples[-1] if samples and "error" in samples[-1] else None

    sample = wait_until(sample_with_error, 20, "a lag-history sample naming the broker not answering")
    assert isinstance(sample, dict) and "broker 3" in sample["error"], sample
    assert None in sample["lags"], sample
    refused = api.post(f"/groups/{group}/reset-offsets", {"strategy": "latest", "dry_run": True})
    assert refused.status == 503, refused.body
    assert refused.body["error_code"] in ("LEADER_NOT_AVAILABLE", "NOT_LEADER_OR_FOLLOWER"), refused.body
