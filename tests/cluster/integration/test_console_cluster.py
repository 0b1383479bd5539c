"""The management console against a broker of a cluster that holds no replica of the topic it shows:
its topic and group pages show every partition's figures as the partitions' leaders answer them
(offsets, sizes, records, lag), and name a leader that could not be asked instead of showing 0.
Three real brokers, Debian's chromium driven by Playwright (``tests/console/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, wait_until
from tests.console.conftest import Page, browser  # noqa: F401 - the fixture
from tests.http.http_api import Api
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and console (Kafka has neither)")

TOPIC = "shown"
GROUP = "watchers"
COUNTS = {0: 5, 1: 7}  # partition -> records; partition p held by broker p + 1 alone
NOT_KNOWN = "\u2013"  # what the console shows for a figure not known (an en dash)


@pytest.fixture
def console_on_3(browser: Any, cluster: Cluster) -> Iterator[Page]:  # noqa: F811 - the fixture
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = Page(context.new_page(), f"http://127.0.0.1:{cluster.brokers[3].http_port}")
    yield page
    context.close()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_topic_and_group_pages_of_a_broker_holding_no_replica(cluster: Cluster, console_on_3: Page) -> None:
    expect = _expect()
    with RawClient(cluster.brokers[1].port) as c:
        created = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": TOPIC, "num_partitions": -1, "replication_factor": -1, "configs": [], "assignments": [
                {"partition_index": p, "broker_ids": [p + 1]} for p in COUNTS]}],
            "timeout_ms": 30000, "validate_only": False})
        assert created["topics"][0]["error_code"] == 0, created
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    failed: list[str] = []
    for p, n in COUNTS.items():
        for i in range(n):
            producer.produce(TOPIC, value=b"x" * 100 + b"%d" % i, partition=p,
                             on_delivery=lambda err, _msg: failed.append(str(err)) if err else None)
    assert producer.flush(30) == 0
    assert failed == []
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(TOPIC, p, 1) for p in COUNTS], asynchronous=False)
    finally:
        consumer.close()
    sizes = {p: Api(cluster.brokers[p + 1].http_port).get(f"/topics/{TOPIC}/partitions").body["partitions"][p]
             ["size_bytes"] for p in COUNTS}
    assert all(s > 0 for s in sizes.values()), sizes

    page = console_on_3.open(f"#/topics/{TOPIC}")
    rows = page.locator("#partitions tbody tr")
    expect(rows).to_have_count(len(COUNTS))
    for p, n in COUNTS.items():
        cells = rows.nth(p).locator("td")
        # partition, start, end, records, size, segments (not known away from the log), leader
        expect(cells.nth(2)).to_have_text(str(n))
        expect(cells.nth(3)).to_have_text(str(n))
        expect(cells.nth(4)).not_to_have_text(NOT_KNOWN)
        expect(cells.nth(5)).to_have_text(NOT_KNOWN)
        expect(cells.nth(6)).to_have_text(str(p + 1))
    expect(page.locator("#topic-records")).to_have_text(str(sum(COUNTS.values())))
    shown = Api(cluster.brokers[3].http_port).get(f"/topics/{TOPIC}/partitions").body["partitions"]
    assert [r["size_bytes"] for r in shown] == [sizes[p] for p in COUNTS], shown

    page = console_on_3.open(f"#/groups/{GROUP}")
    expect(page.locator("#group-lag")).to_have_text(str(sum(n - 1 for n in COUNTS.values())))
    expect(page.locator("#offsets tbody tr")).to_have_count(len(COUNTS))
    assert console_on_3.errors == []

    # Broker 1 stops: its partition's figures are named as not answering, the totals as lower bounds.
    cluster.brokers[1].stop()
    api_3 = Api(cluster.brokers[3].http_port)

    def topic_flagged() -> bool:
        row = next(t for t in api_3.get(f"/stats/topics?filter={TOPIC}").body["topics"] if t["name"] == TOPIC)
        return "broker 1" in row.get("error", "")

    wait_until(topic_flagged, 30, "broker 3 naming broker 1 as not answering")
    page = console_on_3.open(f"#/topics/{TOPIC}")
    expect(page.locator("#partitions tbody tr").nth(0)).to_contain_text("leader not answering")
    expect(page.locator("#topic-records")).to_have_text(f"≥ {COUNTS[1]}")
    expect(page.locator("#topic-error")).to_contain_text("broker 1")
    page = console_on_3.open("#/topics")
    expect(page.locator(f"tr[data-topic={TOPIC}] td.partial").first).to_have_text(f"≥ {COUNTS[1]}")
