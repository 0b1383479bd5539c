"""The console in a real browser (Debian's chromium via Playwright), against a real broker.

Every page loads without console errors; a topic is created, a record produced and found from the
page; a group's lag is watched falling while a consumer runs; offsets are reset with a dry run first.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from playwright.sync_api import expect

from tests.console.conftest import Page
from tests.http.http_api import Api


def _seed(api: Api) -> None:
    if api.get("/topics/seeded").status == 200:
        return
    api.create_topic("seeded", partitions=3)
    api.post("/topics/seeded/records", {"value_format": "json", "records": [
        {"key": f"k{i}", "value": {"n": i}, "headers": [{"key": "h", "value": "v"}]} for i in range(20)]})
    joined = api.post("/groups/seed-group/members", {"topics": ["seeded"], "auto_offset_reset": "earliest"}).body
    member = f"/groups/seed-group/members/{joined['member_id']}"
    api.post(f"{member}/poll?max_records=5")
    api.post(f"{member}/commit")
    api.delete(member)


def test_every_page_loads_without_console_errors(page: Page, api: Api) -> None:
    _seed(api)
    for fragment, heading in (("#/", "Overview"), ("#/topics", "Topics"), ("#/topics/seeded", "seeded"),
                              ("#/browse/seeded", "Messages · seeded"), ("#/groups", "Consumer groups"),
                              ("#/groups/seed-group", "seed-group")):
        p = page.open(fragment)
        expect(p.locator("h1")).to_have_text(heading)
        p.wait_for_timeout(300)  # let the first refresh run
    assert page.errors == []


def test_overview_matches_the_api(page: Page, api: Api) -> None:
    _seed(api)
    p = page.open("#/")
    stats = api.get("/stats").body
    expect(p.locator("#ov-topics")).to_have_text(str(stats["topics"]))
    expect(p.locator("#ov-partitions")).to_have_text(str(stats["partitions"]))
    expect(p.locator("#latency tbody tr").first).to_be_visible()
    assert p.locator(".chart svg").count() == 2
    assert page.errors == []


def test_create_topic_produce_browse_and_find_by_key(page: Page, api: Api) -> None:
    p = page.open("#/topics")
    p.locator("summary", has_text="Create a topic").click()
    form = p.locator("#create-topic")
    form.locator("input[name=name]").fill("from-page")
    form.locator("input[name=partitions]").fill("2")
    form.locator("textarea[name=configs]").fill("retention.ms=3600000")
    form.locator("button[type=submit]").click()
    expect(p.locator("h1")).to_have_text("from-page")
    assert api.get("/topics/from-page/configs").status == 200
    retention = [c for c in api.get("/topics/from-page/configs").body["configs"] if c["name"] == "retention.ms"]
    assert retention[0]["value"] == "3600000" and retention[0]["source"] == "TOPIC_CONFIG"

    p.locator("a", has_text="Browse messages").click()
    expect(p.locator("h1")).to_have_text("Messages · from-page")
    produce = p.locator("#produce")
    produce.locator("input[name=key]").fill("order-77")
    produce.locator("input[name=partition]").fill("1")
    produce.locator("textarea[name=value]").fill('{"order": 77, "total": 12.5}')
    produce.locator("textarea[name=headers]").fill("source=console")
    produce.locator("button[type=submit]").click()
    expect(p.locator("#browse-status")).to_contain_text("partition 1 at offset 0")
    got = api.get("/topics/from-page/partitions/1/records?offset=0").body["records"]
    assert got[0]["key"] == "order-77" and got[0]["headers"] == [{"key": "source", "value": "console"}]

    # Find it by key, rendered as JSON.
    browse = p.locator("#browse")
    browse.locator("input[name=partition]").fill("1")
    browse.locator("select[name=from]").select_option("key")
    browse.locator("input[name=at]").fill("order-77")
    browse.locator("button[type=submit]").click()
    row = p.locator("#record-table tbody tr").first
    expect(row).to_contain_text('"order": 77')
    expect(row).to_contain_text("source=console")
    expect(p.locator("#browse-status")).to_contain_text("1 record(s) with key")
    # The same record as hex.
    browse.locator("select[name=format]").select_option("hex")
    browse.locator("button[type=submit]").click()
    expect(p.locator("#record-table tbody tr").first).to_contain_text("7b 22 6f 72")
    assert page.errors == []


def test_live_tail_shows_new_records(page: Page, api: Api) -> None:
    api.create_topic("tailed", partitions=1)
    p = page.open("#/browse/tailed?partition=0&from=end")
    expect(p.locator("#browse-status")).to_contain_text("tailing at offset 0", timeout=15_000)
    api.post("/topics/tailed/records", {"records": [{"key": "late", "value": "arrived while watching"}]})
    expect(p.locator("#record-table")).to_contain_text("arrived while watching", timeout=10_000)
    assert page.errors == []


def _consume(api: Api, group: str, stop: threading.Event, per_poll: int, pause: float) -> None:
    joined = api.post(f"/groups/{group}/members", {"topics": ["lagging"], "auto_offset_reset": "earliest"}).body
    member = f"/groups/{group}/members/{joined['member_id']}"
    try:
        while not stop.is_set():
            reply = api.post(f"{member}/poll?max_records={per_poll}&wait_ms=200")
            if reply.status == 200 and reply.body["records"]:
                api.post(f"{member}/commit")
            time.sleep(pause)
    finally:
        api.delete(member)


def test_group_lag_falls_while_a_consumer_runs_then_offsets_are_reset(page: Page, api: Api) -> None:
    api.create_topic("lagging", partitions=2)
    api.post("/topics/lagging/records", {"records": [{"value": f"r{i}", "partition": i % 2} for i in range(600)]})
    # A group with a commit at 0 on every partition: lag 600.
    joined = api.post("/groups/slow/members", {"topics": ["lagging"], "auto_offset_reset": "earliest"}).body
    member = f"/groups/slow/members/{joined['member_id']}"
    api.post(f"{member}/commit", {"offsets": [{"topic": "lagging", "partition": p, "offset": 0} for p in (0, 1)]})
    api.delete(member)
    p = page.open("#/groups/slow")
    expect(p.locator("#group-lag")).to_have_text("600")

    seen: list[int] = []
    stop = threading.Event()
    consumer = threading.Thread(target=_consume, args=(api, "slow", stop, 40, 0.3), daemon=True)
    consumer.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append(int(p.locator("#group-lag").inner_text().replace(",", "")))
            if seen[-1] == 0:
                break
            p.wait_for_timeout(500)
    finally:
        stop.set()
        consumer.join(10)
    assert seen[-1] == 0, seen
    assert any(0 < v < 600 for v in seen), f"never saw the lag part-way down: {seen}"
    assert seen == sorted(seen, reverse=True), seen
    # The lag chart has the history: a total line with more than one point.
    expect(p.locator(".chart").first.locator("polyline")).to_have_count(1)

    # Reset: a dry run commits nothing, then the reset itself; refused while a member is in the group.
    expect(p.locator("#group-members")).to_have_text("0", timeout=10_000)
    form = p.locator("#reset")
    form.locator("select[name=strategy]").select_option("offset")
    form.locator("input[name=value]").fill("100")
    form.locator("button", has_text="Dry run").click()
    expect(p.locator("#reset-table tbody tr")).to_have_count(2)
    expect(p.locator("#reset-result")).to_contain_text("Dry run")
    assert {o["committed_offset"] for o in api.get("/groups/slow").body["offsets"]} == {300}
    p.once("dialog", lambda d: d.accept())
    form.locator("button", has_text="Reset offsets").click()
    expect(p.locator("#reset-result")).to_contain_text("Committed")
    assert {o["committed_offset"] for o in api.get("/groups/slow").body["offsets"]} == {100}
    expect(p.locator("#group-lag")).to_have_text("400", timeout=10_000)

    joined = api.post("/groups/slow/members", {"topics": ["lagging"]}).body
    try:
        expect(p.locator("#group-members")).to_have_text("1", timeout=10_000)
        form.locator("button", has_text="Dry run").click()
        expect(p.locator("#reset-result")).to_contain_text("NON_EMPTY_GROUP")
    finally:
        api.delete(f"/groups/slow/members/{joined['member_id']}")
    assert [e for e in page.errors if "409" not in e] == []  # the refused reset is a 409 the page shows


def test_topics_sort_filter_and_keyboard(page: Page, api: Api) -> None:
    for name, n in (("kb-alpha", 1), ("kb-beta", 4)):
        if api.get(f"/topics/{name}").status != 200:
            api.create_topic(name, partitions=n)
    p = page.open("#/topics")
    p.keyboard.press("/")
    p.keyboard.type("kb-")
    expect(p.locator("#topics tbody tr")).to_have_count(2)
    p.locator("#topics th button", has_text="Partitions").click()
    p.locator("#topics th button", has_text="Partitions").click()
    expect(p.locator("#topics tbody tr").first).to_have_attribute("data-topic", "kb-beta")
    p.locator("#topic-filter").press("Escape")
    p.keyboard.press("g")
    p.keyboard.press("g")
    expect(p.locator("h1")).to_have_text("Consumer groups")
    p.keyboard.press("g")
    p.keyboard.press("o")
    expect(p.locator("h1")).to_have_text("Overview")
    assert page.errors == []


def test_topic_page_edits_configs_and_adds_partitions(page: Page, api: Api) -> None:
    api.create_topic("editable", partitions=2)
    p = page.open("#/topics/editable")
    row = p.locator("#configs tr[data-config='retention.ms']")
    row.locator("input").fill("7200000")
    row.locator("button", has_text="Save").click()
    expect(p.locator("#configs tr[data-config='retention.ms'] td").nth(3)).to_have_text("TOPIC_CONFIG")
    form = p.locator("#add-partitions")
    form.locator("input[name=count]").fill("5")
    form.locator("button").click()
    expect(p.locator("#partitions tbody tr")).to_have_count(5)
    assert api.get("/topics/editable/partitions").body["total"] == 5
    assert page.errors == []


def test_group_page_edits_the_groups_configs(page: Page, api: Api) -> None:
    _seed(api)
    p = page.open("#/groups/seed-group")
    row = p.locator("#group-configs tr[data-config='consumer.heartbeat.interval.ms']")
    expect(row.locator("td").nth(3)).to_have_text("DEFAULT_CONFIG")
    row.locator("input").fill("8000")
    row.locator("button", has_text="Save").click()
    expect(p.locator("#group-configs tr[data-config='consumer.heartbeat.interval.ms'] td").nth(3)).to_have_text(
        "GROUP_CONFIG")
    shown = {c["name"]: (c["value"], c["source"]) for c in api.get("/groups/seed-group/configs").body["configs"]}
    assert shown["consumer.heartbeat.interval.ms"] == ("8000", "GROUP_CONFIG")
    p.locator("#group-configs tr[data-config='consumer.heartbeat.interval.ms'] button", has_text="Reset").click()
    expect(p.locator("#group-configs tr[data-config='consumer.heartbeat.interval.ms'] td").nth(3)).to_have_text(
        "DEFAULT_CONFIG")
    # A value out of bounds is refused with the broker's message and changes nothing.
    row = p.locator("#group-configs tr[data-config='consumer.heartbeat.interval.ms']")
    row.locator("input").fill("1")
    row.locator("button", has_text="Save").click()
    expect(p.locator("body")).to_contain_text("group.consumer.min.heartbeat.interval.ms")
    shown = {c["name"]: (c["value"], c["source"]) for c in api.get("/groups/seed-group/configs").body["configs"]}
    assert shown["consumer.heartbeat.interval.ms"] == ("5000", "DEFAULT_CONFIG")
    assert [e for e in page.errors if "status of 400" not in e] == []  # the browser logs the refusal itself


def test_a_1000_partition_topic_is_paged(page: Page, api: Api) -> None:
    api.create_topic("wide-1000", partitions=1000)
    p = page.open("#/topics/wide-1000")
    expect(p.locator("#partitions tbody tr")).to_have_count(100)
    expect(p.locator(".pager").first).to_contain_text("1\u2013100 of 1,000")
    p.locator("body").press("j")
    expect(p.locator("#partitions tbody tr").first.locator("td").first).to_have_text("100")
    assert page.errors == []


def test_readable_on_a_phone(browser: Any, api: Api) -> None:
    _seed(api)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone = Page(context.new_page(), api.base)
        for fragment in ("#/", "#/topics", "#/groups/seed-group", "#/browse/seeded"):
            p = phone.open(fragment)
            p.wait_for_timeout(300)
            overflow = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (fragment, overflow)  # wide tables scroll inside their own box
        assert phone.errors == []
    finally:
        context.close()


def test_every_console_call_is_documented_api(api: Api) -> None:
    """The console has no back door: every path its scripts call is an operation of /openapi.json."""
    import pathlib

    from logbroker.http.routes_console import STATIC

    doc = api.get("/openapi.json").body
    templates = [re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$") for path in doc["paths"]]
    source = "\n".join(f.read_text() for f in pathlib.Path(STATIC).glob("*.js"))
    called = set(re.findall(r"[`\"](/(?:stats|topics|groups|health|metrics)[^`\"?]*)", source))
    assert called
    for path in called:
        concrete = re.sub(r"\$\{[^}]+\}", "x", path.split("${query")[0]).rstrip("/")
        assert any(t.match(concrete) for t in templates), path


def test_what_the_console_shows_matches_kafka_clients_and_metrics(page: Page, api: Api, console_broker: Any) -> None:
    """Records written by a Kafka client and a classic group committed by one appear in the console as
    the HTTP API and /metrics count them."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    api.create_topic("via-kafka", partitions=2)
    producer = KafkaProducer(bootstrap_servers=console_broker.bootstrap)
    for i in range(9):
        producer.send("via-kafka", value=f"k{i}".encode(), partition=i % 2)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=console_broker.bootstrap, group_id="kafka-classic",
                             enable_auto_commit=False)
    consumer.commit({TopicPartition("via-kafka", 0): OffsetAndMetadata(2, "", -1)})
    consumer.close()

    metrics = api.get("/metrics").raw.decode()
    ends = [int(float(v)) for v in re.findall(r'^logbroker_log_end_offset\{topic="via-kafka",partition="\d"\} (\S+)$',
                                               metrics, re.MULTILINE)]
    assert sum(ends) == 9
    p = page.open("#/topics?filter=via-kafka")
    expect(p.locator("#topics tbody tr[data-topic='via-kafka'] td").nth(2)).to_have_text("9")
    p = page.open("#/groups/kafka-classic")
    expect(p.locator("#group-state")).to_have_text("Empty")
    lag = sum(o["lag"] for o in api.get("/groups/kafka-classic").body["offsets"])
    metric_lag = sum(int(float(v)) for v in re.findall(
        r'^logbroker_group_lag\{group="kafka-classic",topic="via-kafka",partition="\d"\} (\S+)$',
        api.get("/metrics").raw.decode(), re.MULTILINE))
    assert lag == metric_lag == 3  # partition 0: 5 records, committed 2
    expect(p.locator("#group-lag")).to_have_text(str(lag))
    assert page.errors == []


def test_share_group_page_shows_share_partitions(page: Page, api: Api) -> None:
    """A share group in the groups list with its type, and its page: members, the start offset, the
    in-flight records by state and how often they were delivered, as GET /groups/{group} gives them."""
    api.create_topic("queue")
    api.post("/topics/queue/records", {"records": [{"value": f"task-{i}"} for i in range(8)]})
    joined = api.post("/share-groups/workers/members", {"topics": ["queue"], "auto_offset_reset": "earliest"}).body
    member = f"/share-groups/workers/members/{joined['member_id']}"
    got = api.get(f"{member}/records?max=5").body["records"]
    acks = [{"delivery_id": got[0]["delivery_id"], "type": "accept"},
            {"delivery_id": got[1]["delivery_id"], "type": "reject"},
            {"delivery_id": got[2]["delivery_id"], "type": "release"}]
    assert api.post(f"{member}/acks", {"acks": acks}).status == 200
    assert [r["offset"] for r in api.get(f"{member}/records?max=1").body["records"]] == [2]  # its 2nd delivery

    p = page.open("#/groups?filter=workers")
    row = p.locator("#groups tbody tr[data-group=workers]")
    expect(row.locator("td").nth(2)).to_have_text("share")
    p = page.open("#/groups/workers")
    expect(p.locator("h1")).to_have_text("workers")
    expect(p.locator("#group-state")).to_have_text("Stable")
    expect(p.locator("#members tbody tr")).to_have_count(1)
    share = api.get("/groups/workers").body["share_partitions"][0]
    cells = p.locator("#share-partitions tbody tr[data-partition=queue-0] td")
    # topic, partition, start, window end, log end, lag, in flight, acquired, available, acked, archived, deliveries
    expect(cells).to_have_text(["queue", "0", "2", "5", "8", "6", "3", "3", "0", "0", "0", "2\u00d71  1\u00d72"])
    assert (share["start_offset"], share["in_flight"], share["lag"]) == (2, 3, 6)
    expect(p.locator("#reset")).to_be_hidden()  # a share group has no committed offsets to reset
    assert page.errors == []
